"""CMP-01 and the declared-image IMG-01 as pure checks over declared Settings and inspect facts,
and the words a check gives a setting of each."""

from pathlib import Path
from types import MappingProxyType

import pytest

from compliance.checks import declared, hardening, images, network, resources
from compliance.model import Subject, freeze
from compliance.sources import declared as declared_source
from compliance.sources.compose_files import Model, Service
from tests.recorded import policy_from

DECLARED = {
    "image": "passq-fixture/busybox:1.35",
    "user": "1001:1001",
    "read_only": True,
    "security_opt": ["no-new-privileges:true"],
    "cap_drop": ["ALL"],
    "cap_add": ["net_bind_service"],
    "tmpfs": ["/tmp:mode=1777,size=16m", "/run"],
    "mem_limit": "33554432",
    "cpus": 0.25,
    "pids_limit": 50,
    "ports": [{"mode": "ingress", "host_ip": "127.0.0.1", "target": 8080, "published": "18081",
               "protocol": "tcp"}],
    "networks": {"front": None},
    "healthcheck": {"test": ["CMD", "wget", "-q", "http://127.0.0.1:8080/"], "interval": "5s",
                    "timeout": "3s", "retries": 3, "start_period": "2s"},
    "environment": {"API_TOKEN": "do-not-show-0001"},
}
RUNNING = {
    "Id": "c0ffee" * 10,
    "Name": "/t-web-1",
    "Config": {
        "User": "1001:1001", "Image": "passq-fixture/busybox:1.35",
        "Env": ["API_TOKEN=do-not-show-0001"],
        "Healthcheck": {"Test": ["CMD", "wget", "-q", "http://127.0.0.1:8080/"],
                        "Interval": 5_000_000_000, "Timeout": 3_000_000_000,
                        "StartPeriod": 2_000_000_000, "Retries": 3},
    },
    "HostConfig": {
        "ReadonlyRootfs": True, "Privileged": False, "SecurityOpt": ["no-new-privileges:true"],
        "CapDrop": ["ALL"], "CapAdd": ["CAP_NET_BIND_SERVICE"],
        "Tmpfs": {"/tmp": "size=16m,mode=1777", "/run": ""},
        "Memory": 33554432, "NanoCpus": 250_000_000, "CpuQuota": 0, "PidsLimit": 50,
        "PidMode": "", "IpcMode": "private", "NetworkMode": "t_front",
        "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18081"}]},
    },
    "State": {"Status": "running", "Running": True},
}


def model(**services) -> Model:
    return Model(files=(Path("compose.yml"),), name="t",
                 services=MappingProxyType({n: Service(n, freeze(c)) for n, c in services.items()}),
                 networks=freeze({"front": {"name": "t_front"}}), secrets=freeze({}),
                 profiles="all profiles")


def container(service="web", networks=None, image_user="", **changes) -> Subject:
    attrs = {k: dict(v) if isinstance(v, dict) else v for k, v in RUNNING.items()}
    for path, value in changes.items():
        section, key = path.split("__")
        attrs[section][key] = value
    return Subject(service=service, name=f"t-{service}-1", attrs=freeze(attrs),
                     image=freeze({"Config": {"User": image_user}}),
                     networks=MappingProxyType(networks or {"t_front": "front"}),
                     process=None, test_id=service)


def evaluate(declared_config, running):
    return declared.matches_declared(running, declared_source.stack(model(web=declared_config)))


def test_what_runs_as_declared_passes_with_the_engine_normalizations():
    finding = evaluate(DECLARED, container())
    assert finding.outcome == "passed", finding
    assert "user, read_only" in finding.evidence


def test_no_compose_file_is_not_applicable():
    finding = declared.matches_declared(container(), None)
    assert finding.outcome == "skipped"
    assert "no --compose-file" in finding.message


def test_read_only_drift_is_the_exact_diff():
    finding = evaluate(DECLARED, container(HostConfig__ReadonlyRootfs=False))
    assert finding.outcome == "failed"
    assert finding.evidence == "read_only: declared true, running false"


def test_undeclared_read_only_means_false():
    config = {k: v for k, v in DECLARED.items() if k != "read_only"}
    assert evaluate(config, container()).evidence == "read_only: declared false, running true"


def test_port_moved_to_all_addresses():
    config = dict(DECLARED, ports=[dict(DECLARED["ports"][0], host_ip="0.0.0.0")])
    assert evaluate(config, container()).evidence == (
        "ports: declared [0.0.0.0:18081->8080/tcp], running [127.0.0.1:18081->8080/tcp]")


def test_port_without_host_ip_shows_as_every_address():
    bindings = {"8080/tcp": [{"HostIp": "", "HostPort": "18081"}]}
    assert evaluate(DECLARED, container(HostConfig__PortBindings=bindings)).evidence == (
        "ports: declared [127.0.0.1:18081->8080/tcp], running [*:18081->8080/tcp]")


def test_several_diffs_are_all_reported():
    finding = evaluate(DECLARED, container(HostConfig__Memory=67108864, HostConfig__CapAdd=["NET_ADMIN"],
                                           HostConfig__PidsLimit=None, Config__User="0:0"))
    assert finding.evidence == ("user: declared '1001:1001', running '0:0'; "
                                "cap_add: declared [NET_BIND_SERVICE], running [NET_ADMIN]; "
                                "memory: declared 32M, running 64M; "
                                "pids_limit: declared 50, running none")


def test_deploy_limits_are_compared_like_the_short_keys():
    config = {k: v for k, v in DECLARED.items() if k not in ("mem_limit", "cpus", "pids_limit")}
    config["deploy"] = {"resources": {"limits": {"memory": "33554432", "cpus": "0.5", "pids": 50}}}
    assert evaluate(config, container()).evidence == "cpus: declared 0.5, running 0.25"


def test_cpu_quota_counts_as_a_cpu_limit():
    running = container(HostConfig__NanoCpus=0, HostConfig__CpuQuota=25000, HostConfig__CpuPeriod=100000)
    assert evaluate(DECLARED, running).outcome == "passed"


def test_tmpfs_options_and_paths():
    finding = evaluate(DECLARED, container(HostConfig__Tmpfs={"/tmp": "size=32m,mode=1777"}))
    assert finding.evidence == ("tmpfs: declared [/run, /tmp:mode=1777,size=16m], "
                                "running [/tmp:mode=1777,size=32m]")


def test_security_opt_drift_and_equivalent_spellings():
    equivalent = container(HostConfig__SecurityOpt=["no-new-privileges=true"])
    assert evaluate(DECLARED, equivalent).outcome == "passed"
    assert evaluate(DECLARED, container(HostConfig__SecurityOpt=None)).evidence == (
        "security_opt: declared [no-new-privileges:true], running []")


@pytest.mark.parametrize("running", [["no-new-privileges"], ["no-new-privileges=1"],
                                     ["no-new-privileges:True"]])
def test_no_new_privileges_spelled_without_true_is_no_drift(running):
    """`security_opt: [no-new-privileges]` (compose passes it as written) and any spelling of
    true the engine accepts set the same flag."""
    assert evaluate(DECLARED, container(HostConfig__SecurityOpt=running)).outcome == "passed"
    bare = dict(DECLARED, security_opt=["no-new-privileges"])
    assert evaluate(bare, container()).outcome == "passed"
    assert evaluate(bare, container(HostConfig__SecurityOpt=["no-new-privileges:false"])).evidence == (
        "security_opt: declared [no-new-privileges:true], running [no-new-privileges:false]")


def test_label_disable_added_by_the_engine_for_host_namespaces_is_no_drift():
    config = dict(DECLARED, ipc="host")
    running = container(HostConfig__IpcMode="host",
                        HostConfig__SecurityOpt=["no-new-privileges:true", "label=disable"])
    assert evaluate(config, running).outcome == "passed"
    tampered = container(HostConfig__SecurityOpt=["no-new-privileges:true", "label=disable"])
    assert "security_opt" in evaluate(DECLARED, tampered).evidence


def test_networks_compared_by_compose_name():
    finding = evaluate(DECLARED, container(networks={"t_front": "front", "t_db": "db"}))
    assert finding.evidence == "networks: declared [front], running [db, front]"


def test_network_mode_host_when_declared_elsewhere():
    finding = evaluate(DECLARED, container(HostConfig__NetworkMode="host", networks={"host": "host"}))
    assert finding.evidence == "networks: declared [front], running [host]"
    config = {k: v for k, v in DECLARED.items() if k not in ("networks", "ports")}
    config["network_mode"] = "host"
    assert evaluate(config, container(HostConfig__NetworkMode="host", HostConfig__PortBindings={})).outcome \
        == "passed"


def test_healthcheck_fields():
    health = dict(RUNNING["Config"]["Healthcheck"], Interval=30_000_000_000, Retries=1)
    assert evaluate(DECLARED, container(Config__Healthcheck=health)).evidence == (
        "healthcheck.interval: declared 5s, running 30s; healthcheck.retries: declared 3, running 1")
    assert evaluate(DECLARED, container(Config__Healthcheck=None)).evidence.startswith(
        "healthcheck.test: declared [CMD, wget, -q, http://127.0.0.1:8080/], running none")


def test_disabled_healthcheck():
    config = dict(DECLARED, healthcheck={"disable": True})
    assert evaluate(config, container(Config__Healthcheck={"Test": ["NONE"]})).outcome == "passed"
    assert "healthcheck.test: declared [NONE]" in evaluate(config, container()).evidence


def test_user_not_declared_is_the_images_user():
    config = {k: v for k, v in DECLARED.items() if k != "user"}
    assert evaluate(config, container(image_user="1001:1001")).outcome == "passed"
    assert evaluate(config, container(image_user="")).evidence == (
        "user (image default): declared '', running '1001:1001'")


def test_a_service_that_is_not_declared_fails():
    finding = declared.matches_declared(container(service="intruder"),
                                        declared_source.stack(model(web=DECLARED)))
    assert finding.outcome == "failed"
    assert finding.evidence == "service 'intruder' is not declared"
    assert "compose.yml" in finding.message


def test_a_check_names_each_setting_as_its_subjects_reader_knows_it():
    """One check, one fact: the inspect path for a running container (what `docker inspect`
    shows), the compose key for a declared service (what its file says), each written so by
    the check itself, never reworded afterwards."""
    web = declared_source.stack(model(web=dict(DECLARED, read_only=False))).containers[0]
    running = container(HostConfig__ReadonlyRootfs=False)
    assert hardening.read_only_rootfs(web).evidence == "read_only=false"
    assert hardening.read_only_rootfs(running).evidence == "HostConfig.ReadonlyRootfs=false"
    policy = policy_from({}).for_service("web")
    assert network.published_ports_allowed(web, policy).evidence == "ports 8080/tcp -> 127.0.0.1:18081"
    assert network.published_ports_allowed(running, policy).evidence == (
        "HostConfig.PortBindings 8080/tcp -> 127.0.0.1:18081")
    assert resources.pids_limit(web, policy).evidence.startswith("pids_limit=50")
    assert resources.pids_limit(running, policy).evidence.startswith("HostConfig.PidsLimit=50")


def test_no_environment_value_ever_reaches_the_finding():
    finding = evaluate(DECLARED, container(HostConfig__ReadonlyRootfs=False, Config__User="0"))
    assert "do-not-show" not in finding.evidence + finding.message


@pytest.mark.parametrize(("text", "ns"), [("5s", 5e9), ("1m30s", 90e9), ("500ms", 5e8), (2, 2e9),
                                          ("1h", 3600e9), ("1.5s", 1.5e9)])
def test_durations(text, ns):
    assert declared_source.parse_duration(text) == ns


def test_a_value_that_cannot_be_read_names_the_service():
    config = dict(DECLARED, healthcheck={"interval": "soon"})
    message = "service 'web' in compose.yml: not a duration"
    with pytest.raises(declared_source.DeclaredError, match=message):
        declared_source.stack(model(web=config))


# -- IMG-01 on the declared image: lines ----------------------------------------------------

@pytest.mark.parametrize(("config", "outcome"), [
    ({"image": "passq-fixture/busybox:1.35"}, "passed"),
    ({"image": "passq-fixture/busybox:latest"}, "failed"),
    ({"image": "passq-fixture/busybox"}, "failed"),
    ({"image": "registry:5000/app"}, "failed"),
    ({"image": "registry:5000/app:1.2"}, "passed"),
    ({"image": "passq-fixture/busybox:stable"}, "failed"),
    ({"image": "nextcloud:apache"}, "failed"),  # a variant, not a version
    ({"image": "nginx:mainline"}, "failed"),
    ({"image": "postgres:16-bookworm"}, "passed"),
    ({"image": "app@sha256:" + "a" * 64}, "passed"),
    ({"build": {"context": "https://git.example/app.git"}}, "skipped"),  # nothing to read
    ({"build": {"context": "https://git.example/app.git"}, "image": "passq/app:latest"}, "failed"),
])
def test_declared_image_pinned(config, outcome):
    finding = images.image_pinned(declared_source.subject("svc", model(svc=config)), ("stable",))
    assert finding.outcome == outcome, finding
    if outcome == "skipped":
        assert "build" in finding.message
