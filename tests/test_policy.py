"""The policy loader: sizes, defaults, and errors that name file, line and key."""

import textwrap

import pytest

from compliance.policy import PolicyError, ServicePolicy, load, parse_size
from tests.recorded import ROOT

MIB = 1024 ** 2


def write(tmp_path, text: str):
    path = tmp_path / "policy.yml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def error_of(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load(path)
    return str(caught.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("512M", 512 * MIB), ("1G", 1024 * MIB), ("64m", 64 * MIB), ("1g", 1024 * MIB),
    ("2k", 2048), ("1073741824", 1024 * MIB), (1048576, MIB), ("512MiB", 512 * MIB), ("1.5G", 1536 * MIB),
])
def test_sizes_use_binary_units_and_bare_numbers_are_bytes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "M", "12X", "-1G", "lots", "1 G B"])
def test_size_rejects_what_is_not_a_size(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_defaults_merge_into_each_service(tmp_path):
    policy = load(write(tmp_path, """
        stack: passq
        defaults:
          memory_max: 512M
          cpus_max: 1
          writable_paths: [/tmp]
        services:
          frontend:
            memory_max: 64M
            networks: [frontend_network]
          db: {}
    """))
    frontend, db = policy.services["frontend"], policy.services["db"]
    assert (frontend.memory_max, frontend.cpus_max, frontend.writable_paths) == (64 * MIB, 1.0, ("/tmp",))
    assert frontend.networks == ("frontend_network",)
    assert (db.memory_max, db.networks) == (512 * MIB, None)
    assert policy.for_service("unnamed") == policy.defaults


def test_an_empty_policy_is_all_defaults(tmp_path):
    policy = load(write(tmp_path, "# nothing\n"))
    assert policy.defaults == ServicePolicy() and policy.services == {}
    assert len(policy.sha256) == 64


def test_unknown_key_names_file_line_and_key(tmp_path):
    message = error_of(tmp_path, """
        defaults:
          user: non-root
        services:
          db:
            user: "999:999"
            memory_mx: 512M
    """)
    assert f"{tmp_path / 'policy.yml'}:6: services.db.memory_mx: unknown key" in message


def test_unknown_top_level_key(tmp_path):
    assert ":2: netwrks: unknown key" in error_of(tmp_path, "stack: passq\nnetwrks: {}\n")


@pytest.mark.parametrize(("text", "where", "problem"), [
    ("defaults:\n  cpus_max: lots\n", ":2: defaults.cpus_max:", "expected a number"),
    ("defaults:\n  writable_paths: /tmp\n", ":2: defaults.writable_paths:", "expected a list"),
    ("services:\n  db:\n    user: 999\n", ":3: services.db.user:", "expected a non-empty string"),
    ("services:\n  db: [a]\n", ":2: services.db:", "expected a mapping"),
    ("defaults:\n  memory_max: big\n", ":2: defaults.memory_max:", "expected a size"),
    ("defaults:\n  user: admin\n", ":2: defaults.user:", 'expected "non-root" or "uid:gid"'),
    ("defaults:\n  allowed_host_ips: [localhost]\n", ":2: defaults.allowed_host_ips.0:",
     "not an IP address"),
    ("defaults:\n  devices_alowed: []\n", ":2: defaults.devices_alowed:", "unknown key"),
    ("defaults:\n  devices_allowed: [fuse]\n", ":2: defaults.devices_allowed.0:", "absolute path"),
    ("defaults:\n  setuid_allowed: /usr/bin/su\n", ":2: defaults.setuid_allowed:", "expected a list"),
    ("defaults:\n  privileged_ports_allowed: [https]\n", ":2: defaults.privileged_ports_allowed.0:",
     "expected an integer"),
    ("defaults:\n  privileged_ports_allowed: [70000]\n", ":2: defaults.privileged_ports_allowed.0:",
     "not a TCP port"),
    ("defaults:\n  restart_policies_allowed: [sometimes]\n",
     ":2: defaults.restart_policies_allowed.0:", "unknown restart policy"),
    ("defaults:\n  restart_max_retries: five\n", ":2: defaults.restart_max_retries:",
     "expected an integer"),
])
def test_wrong_type_is_an_error(tmp_path, text, where, problem):
    message = error_of(tmp_path, text)
    assert where in message and problem in message


@pytest.mark.parametrize(("text", "where"), [
    ("defaults:\n  cpus_max: -0.5\n", ":2: defaults.cpus_max:"),
    ("defaults:\n  pids_max: -1\n", ":2: defaults.pids_max:"),
    ("defaults:\n  memory_max: 0\n", ":2: defaults.memory_max:"),
    ("secrets:\n  min_bytes: -32\n", ":2: secrets.min_bytes:"),
    ("images:\n  max_age_days: -7\n", ":2: images.max_age_days:"),
    ("defaults:\n  restart_max_retries: -1\n", ":2: defaults.restart_max_retries:"),
    ("defaults:\n  privileged_ports_allowed: [-443]\n", ":2: defaults.privileged_ports_allowed.0:"),
])
def test_negative_or_zero_limit_is_an_error(tmp_path, text, where):
    message = error_of(tmp_path, text)
    assert where in message and "must be positive" in message


def test_flow_naming_an_unknown_service(tmp_path):
    message = error_of(tmp_path, """
        services:
          frontend: {}
          db: {}
        flows:
          deny:
            - {from: frontend, to: dbb, port: 5432}
    """)
    assert ":6: flows.deny.0.to: unknown service 'dbb'" in message


def test_flow_port_out_of_range(tmp_path):
    message = error_of(tmp_path, """
        services: {a: {}, b: {}}
        flows:
          allow: [{from: a, to: b, port: 70000}]
    """)
    assert "flows.allow.0.port: not a TCP port" in message


def test_malformed_yaml_names_file_and_line(tmp_path):
    message = error_of(tmp_path, "stack: passq\ndefaults:\n  user: [non-root\n")
    assert message.startswith(f"{tmp_path / 'policy.yml'}:") and "malformed YAML" in message


def test_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot read policy"):
        load(tmp_path / "absent.yml")


def test_the_shipped_policy_loads():
    policy = load(ROOT / "policies" / "passq.yml")
    assert policy.services["frontend"].memory_max == 64 * MIB
    assert policy.internal_networks == ("backend_network", "database_network")


def test_cis_keys_merge_per_service(tmp_path):
    policy = load(write(tmp_path, """
        defaults:
          restart_policies_allowed: [no, on-failure]
          restart_max_retries: 3
        services:
          proxy:
            privileged_ports_allowed: [443, 80]
            restart_policies_allowed: [unless-stopped]
          fuse:
            devices_allowed: [/dev/fuse]
            setuid_allowed: [/usr/bin/fusermount3]
    """))
    proxy, fuse = policy.services["proxy"], policy.services["fuse"]
    assert policy.defaults.restart_policies_allowed == ("no", "on-failure")  # YAML's `no` is false
    assert proxy.privileged_ports_allowed == (443, 80)
    assert proxy.restart_policies_allowed == ("unless-stopped",)
    assert (fuse.devices_allowed, fuse.setuid_allowed, fuse.restart_max_retries) == (
        ("/dev/fuse",), ("/usr/bin/fusermount3",), 3)
    assert ServicePolicy().restart_policies_allowed == ("no", "on-failure")
    assert ServicePolicy().restart_max_retries == 5

