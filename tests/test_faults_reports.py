"""Faults in what the reports carry and what a run leaves: hostile names escaped in all four
reports, planted secrets in no output (also with -l), the target stack unchanged and nothing
left behind (also after SIGINT/SIGTERM), report files replaced atomically."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET

import docker
import jsonschema
import pytest

from compliance.report import files
from compliance.sources import compose, probes
from tests import live
from tests.live import ROOT
from tests.test_reports import SARIF_SCHEMA, _blob, _strings
from tests.waiting import health_logged, listening, wait_until

BUSYBOX = "passq-fixture/busybox:1.35"
REPORTS = ("compliance.html", "compliance.json", "compliance.sarif", "junit.xml")


@pytest.fixture(scope="module")
def client(docker_engine):
    return docker.from_env()


@contextlib.contextmanager
def project_of(client, *specs, internal_net=False):
    """A compose-like project: (service, kwargs) containers on one project network."""
    name = f"pqf-{uuid.uuid4().hex[:8]}"
    labels = {compose.PROJECT_LABEL: name}
    network = client.networks.create(f"{name}_net", internal=internal_net,
                                      labels={**labels, compose.NETWORK_LABEL: "net"})
    containers = []
    try:
        for number, (service, spec) in enumerate(specs, 1):
            spec = dict(spec)
            safe = service if service.isascii() and service.isalnum() else f"svc{number}"
            containers.append(client.containers.run(
                spec.pop("image", BUSYBOX), spec.pop("command", ["sleep", "900"]), detach=True,
                name=spec.pop("name", f"{name}-{safe}-1"), network=network.name,
                labels={**labels, compose.SERVICE_LABEL: service, **spec.pop("labels", {})},
                **spec))
        yield name
    finally:
        for container in containers:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        network.remove()


def outputs_of(run) -> dict[str, str]:
    return {"terminal": run.output, **{p.name: p.read_text() for p in run.report_dir.iterdir()
                                       if p.is_file()}}


# -- hostile names ------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
SVG = "<svg onload=alert(3)>"
ENV_NAME = "<script>alert(4)</script>_PASSWORD"  # a name holds no "="
UNICODE = "dienst-\u00fc\u00df-\u670d\u52a1-\U0001f680-" + "x" * 300


@pytest.fixture(scope="module")
def hostile(client, tmp_path_factory):
    """The full suite, live probes included, over services named with markup and unicode."""
    long_name = f"pqf-{uuid.uuid4().hex[:6]}-" + "n" * 180
    with project_of(client,
                    (SCRIPT, {"user": "1000:1000", "name": long_name,
                              "labels": {"org.example.note": IMG, SVG: "x"},
                              "environment": {ENV_NAME: "literal-value-here", "PLAIN": SVG}}),
                    (UNICODE, {"user": "1000:1000"})) as name:
        report_dir = tmp_path_factory.mktemp("hostile")
        yield live.audit("--stack", name, "-rA", report_dir=report_dir), long_name


def test_hostile_names_are_escaped_in_the_html(hostile):
    run, _ = hostile
    page = (run.report_dir / "compliance.html").read_text()
    for markup in ("<script>alert", "<img src=x", "<svg onload"):
        assert markup not in page, markup
        # pytest-html's JavaScript inserts its data as HTML: escaped there too
        assert markup not in "\n".join(_strings(_blob(page))), markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the matrix column
    rows = "\n".join(_strings(_blob(page)))
    assert "&lt;script&gt;alert(4)&lt;/script&gt;_PASSWORD" in rows  # SEC-02 names the variable
    assert "\u670d\u52a1-\U0001f680" in page


def test_hostile_names_are_json_escaped_and_intact_in_compliance_json(hostile):
    run, long_name = hostile
    document = json.loads((run.report_dir / "compliance.json").read_text())
    services = {r["service"] for r in document["results"]}
    assert {SCRIPT, UNICODE} <= services
    assert long_name in {r["container"] for r in document["results"]}
    assert any(ENV_NAME in r["evidence"] for r in document["results"])


def test_hostile_names_keep_sarif_valid(hostile):
    run, _ = hostile
    sarif = json.loads((run.report_dir / "compliance.sarif").read_text())
    validator = jsonschema.Draft7Validator(SARIF_SCHEMA)
    assert not list(validator.iter_errors(sarif))
    services = {r["properties"]["service"] for r in sarif["runs"][0]["results"]}
    assert {SCRIPT, UNICODE} <= services


def test_hostile_names_keep_junit_well_formed(hostile):
    run, _ = hostile
    root = ET.parse(run.report_dir / "junit.xml").getroot()
    services = {p.get("value") for p in root.iter("property") if p.get("name") == "service"}
    assert {SCRIPT, UNICODE} <= services
    evidence = " ".join(p.get("value") for p in root.iter("property") if p.get("name") == "evidence")
    assert ENV_NAME in evidence


# -- secrets ------------------------------------------------------------------------------

SECRETS = {
    "env": "pqf-envtoken-7Q2", "env-dsn": "pqf-dsnpass-8W3", "arg-assign": "pqf-argpass-9E4",
    "arg-pair": "pqf-argtoken-1R5", "arg-dsn": "pqf-argdsn-2T6", "shell": "pqf-shellpw-3Y7",
    "label": "pqf-labeltoken-4U8",
    "healthcheck": "pqf-hcpass-6O0", "header": "pqf-hcheader-7P1",
}


@pytest.fixture(scope="module")
def planted(client):
    """One service holding every planted secret: env, args (NAME=, --flag value, DSN, a shell
    string), labels, its healthcheck (a --password pair and a token header)."""
    s = SECRETS
    healthcheck = {"test": ["CMD-SHELL", f"wget -q --password {s['healthcheck']} --header "
                                         f"'X-Api-Token: {s['header']}' -O- http://127.0.0.1:1/ || true"],
                   "interval": 1_000_000_000}
    with project_of(client, ("app", {
            "command": ["sh", "-c", f"API_PASSWORD={s['shell']} sleep 900", "argv0",
                        f"--db-password={s['arg-assign']}", "--token", s["arg-pair"],
                        f"postgres://app:{s['arg-dsn']}@db:5432/app"],
            "environment": {"API_TOKEN": s["env"],
                            "DATABASE_URL": f"postgresql://app:{s['env-dsn']}@db:5432/app"},
            "labels": {"org.example.api-token": s["label"],
                       "org.example.description": "deploy notes (rotate yearly)"},
            "healthcheck": healthcheck})) as name:
        wait_until(lambda: health_logged(client.containers.get(f"{name}-app-1")),
                   what="a healthcheck result of app")
        yield name


def test_planted_secrets_reach_no_output_of_a_verbose_run(planted, tmp_path):
    """The whole suite, live probes included, as verbose as pytest gets: -vv, -rA, --tb=long,
    -l (showlocals); the run has failing controls (AssertionErrors) to show tracebacks for."""
    run = live.audit("--stack", planted, "-vv", "-rA", "--tb=long", "-l", report_dir=tmp_path)
    assert run.returncode == 1
    outputs = outputs_of(run)
    assert set(outputs) >= {"terminal", *REPORTS}
    assert "Traceback" not in run.output and "ControlFailed" in run.output
    leaks = {(where, name) for where, value in SECRETS.items() for name, text in outputs.items()
             if value in text}
    assert not leaks
    assert "[REDACTED]" in outputs["compliance.json"]  # the healthcheck is quoted, redacted


LEAKY = """
    import pytest

    @pytest.mark.control("SEC-02")
    def test_leaky(container, verdict):
        env = dict(container.env)
        args = list(container.config["Cmd"])
        labels = dict(container.config["Labels"])
        health = list(container.config["Healthcheck"]["Test"])
        print("captured:", env, args, labels, health)
        assert not env, f"failing on purpose: {args} {labels} {health}"
"""


def test_a_failing_assertion_with_showlocals_leaks_no_planted_secret(audit, planted):
    """A check that holds every secret in its locals, prints them and fails with them in the
    assertion message: pytest's report of it is scrubbed before anything writes it."""
    run = audit(planted, LEAKY, "-vv", "-rA", "--tb=long", "-l")
    assert run.ret == 1
    text = run.text() + "".join((run.report_dir / name).read_text() for name in REPORTS)
    assert "failing on purpose" in text and "captured:" in text
    assert not [where for where, value in SECRETS.items() if value in text]



# -- secrets a healthcheck prints, and names that are no secrets --------------------------

FILE_SECRET = "pqf-filesecret-Zr8kQ2vLw9"
ENV_SECRET = "pqf-envsecret-Hj4mN7"


@pytest.fixture(scope="module")
def echoing(client, tmp_path_factory):
    """Two services whose healthchecks print a secret and fail: `files` cats its Docker
    secret (a file bound at /run/secrets/db_password, as compose binds one), `env` echoes
    its DB_PASSWORD."""
    secret = tmp_path_factory.mktemp("secrets") / "db_password.txt"
    secret.write_text(FILE_SECRET + "\n")
    secret.chmod(0o600)
    health = {"interval": 300_000_000, "retries": 1}
    with project_of(client, (
            "files", {"volumes": {str(secret): {"bind": "/run/secrets/db_password", "mode": "ro"}},
                      "healthcheck": {"test": ["CMD-SHELL", "cat /run/secrets/db_password; exit 1"],
                                      **health}}), (
            "env", {"environment": {"DB_PASSWORD": ENV_SECRET},
                    "healthcheck": {"test": ["CMD-SHELL", "echo $DB_PASSWORD; exit 1"], **health}}),
    ) as name:
        for service in ("files", "env"):
            wait_until(lambda s=service: health_logged(client.containers.get(f"{name}-{s}-1")),
                       what=f"a healthcheck result of {service}")
        yield name


def test_a_healthcheck_that_prints_a_secret_reaches_no_output(echoing, tmp_path):
    run = live.audit("--stack", echoing, "--no-live", "-rA", report_dir=tmp_path)
    outputs = outputs_of(run)
    assert set(outputs) >= {"terminal", *REPORTS}
    hlt02 = {r["service"]: r for r in json.loads(outputs["compliance.json"])["results"]
             if r["control"] == "HLT-02" and r["service"]}
    for service in ("files", "env"):  # quoted, redacted
        assert hlt02[service]["outcome"] == "failed", hlt02[service]
        assert "[REDACTED]" in hlt02[service]["evidence"], hlt02[service]
    leaks = {(secret, where) for secret in (FILE_SECRET, ENV_SECRET)
             for where, text in outputs.items() if secret in text}
    assert not leaks


@pytest.fixture(scope="module")
def namesakes(client):
    """`wordpress`, whose database password is `wordpress` (a credential value equal to a
    service name), and `postgres`, whose ordinary values (DB_TYPE=postgres, a long
    TZ-like value) are no secrets."""
    with project_of(client, ("wordpress", {"environment": {"WORDPRESS_DB_PASSWORD": "wordpress"}}),
                    ("postgres", {"environment": {"DB_TYPE": "postgres",
                                                  "APP_REGION": "europe-west-frankfurt"}})) as name:
        yield name


def test_names_stay_readable_and_a_credential_equal_to_one_fails_sec02(namesakes, tmp_path):
    """Names are never hidden: `wordpress` is readable in every output although its
    database password is `wordpress`; SEC-02 says that value is no secret."""
    run = live.audit("--stack", namesakes, "--no-live", report_dir=tmp_path)
    outputs = outputs_of(run)
    results = json.loads(outputs["compliance.json"])["results"]
    assert {"postgres", "wordpress"} <= {r["service"] for r in results}
    for where in ("terminal", *REPORTS):
        assert "[REDACTED]" not in outputs[where], where
        assert "postgres" in outputs[where] and "wordpress" in outputs[where], where
        assert "passq-fixture/busybox" in outputs[where] or where in ("terminal", "junit.xml"), where
    sec02 = next(r for r in results if r["control"] == "SEC-02" and r["service"] == "wordpress")
    assert sec02["outcome"] == "failed"
    assert "WORDPRESS_DB_PASSWORD: the value equals the service name" in sec02["evidence"]
    assert "europe-west-frankfurt" not in outputs["compliance.json"]  # never quoted, never learned


# -- the target stack is left as it was ---------------------------------------------------

# The engine's own healthcheck keeps running during the audit: its log, streak, running
# exec (ExecIDs lists execs in flight) and, on a loaded machine, its verdict move on
# without any doing of ours.
VOLATILE = (("State", "Health", "Log"), ("State", "Health", "FailingStreak"),
            ("State", "Health", "Status"), ("ExecIDs",))


def comparable(attrs: dict) -> dict:
    attrs = json.loads(json.dumps(attrs))
    for path in VOLATILE:
        node = attrs
        for key in path[:-1]:
            node = node.get(key) or {}
        node.pop(path[-1], None)
    return attrs


def leftovers(client) -> dict:
    """What a run could leave: probe containers, and networks and volumes of no compose project."""
    unowned = lambda labels: compose.PROJECT_LABEL not in (labels or {})  # noqa: E731
    return {
        "probes": {c.id for c in client.containers.list(all=True,
                                                        filters={"label": compose.PROBE_LABEL})},
        "networks": {n.id for n in client.networks.list() if unowned(n.attrs.get("Labels"))},
        "volumes": {v.id for v in client.volumes.list() if unowned(v.attrs.get("Labels"))},
    }


@pytest.fixture(scope="module")
def probed(client):
    """edge -> app (allowed), edge -> store (denied), a writable root filesystem the write
    probe writes to (and must clean), a healthcheck that keeps running."""
    health = {"test": ["CMD", "true"], "interval": 500_000_000}
    with project_of(client,
                    ("edge", {"user": "1000:1000", "read_only": True, "healthcheck": health}),
                    ("app", {"command": ["httpd", "-f", "-p", "8081"], "user": "1000:1000"}),
                    ("store", {"command": ["httpd", "-f", "-p", "8082"], "read_only": True}),
                    ("pad", {})) as name:
        for service, port in (("app", 8081), ("store", 8082)):  # the allowed flows connect
            wait_until(lambda s=service, p=port: listening(client.containers.get(f"{name}-{s}-1"), p),
                       what=f"{service} on {port}")
        yield name


def write_policy(path, name):
    path.write_text(f"""stack: {name}
services: {{edge: {{}}, app: {{}}, store: {{}}, pad: {{}}}}
flows:
  deny: [{{from: app, to: edge, port: 9}}]
  allow: [{{from: edge, to: app, port: 8081}}, {{from: edge, to: store, port: 8082}}]
""")
    return path


def test_a_full_run_changes_nothing_in_the_stack_and_leaves_nothing_behind(client, probed, tmp_path):
    ids = [c.id for c in client.containers.list(all=True, filters={
        "label": f"{compose.PROJECT_LABEL}={probed}"})]
    # healthy first: a status flipping mid-run is no change of ours
    wait_until(lambda: not any((client.api.inspect_container(i)["State"].get("Health") or {})
                               .get("Status") == "starting" for i in ids),
               interval=0.2, what="every healthcheck of the stack to leave `starting`")
    before = {i: comparable(client.api.inspect_container(i)) for i in ids}
    diffs = {i: client.api.diff(i) for i in ids}
    left = leftovers(client)
    run = live.audit("--stack", probed, f"--policy={write_policy(tmp_path / 'p.yml', probed)}",
                     report_dir=tmp_path / "reports")
    outcomes = run.outcomes()
    (net04,) = [r for r in run.results if r["control"] == "NET-04"]
    assert "allow edge -> app:8081: connected" in net04["evidence"], run.output  # the probes ran
    assert "deny app -> edge:9: failed" in net04["evidence"]  # refused: edge's address answered
    assert outcomes[("HRD-02", "pad")] == {"failed"}  # the kernel shows pad's root mount rw
    after = {i: comparable(client.api.inspect_container(i)) for i in ids}
    changed = {i[:12]: sorted(k for k in before[i] if before[i][k] != after[i].get(k)) for i in ids}
    assert after == before, {i: keys for i, keys in changed.items() if keys}
    assert {i: client.api.diff(i) for i in ids} == diffs  # the probe's file is gone again
    remaining = leftovers(client)
    assert remaining["probes"] <= left["probes"]
    assert remaining["networks"] <= left["networks"] and remaining["volumes"] <= left["volumes"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_nothing_and_no_green_report(client, probed, tmp_path, signum):
    """Interrupted while its probes run: no probe container, network or volume stays, and
    compliance.json is the previous complete report or a failed one, never a pass."""
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    previous = {"schema": "passq-compliance/1", "stack": "previous-run", "gate": {"passed": True}}
    files.write_json(report_dir / "compliance.json", previous)
    left = leftovers(client)
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--stack", probed,
         f"--policy={write_policy(tmp_path / 'p.yml', probed)}", f"--report-dir={report_dir}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    owner = f"{socket.gethostname()}:{child.pid}"
    try:
        def probing():
            assert child.poll() is None, child.stdout.read()
            return client.api.containers(all=True, filters={"label": f"{probes.OWNER_LABEL}={owner}"})

        wait_until(probing, timeout=60, interval=0.02, what="a probe container of the run")
        child.send_signal(signum)
        output, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode not in (0, None), output
    after = leftovers(client)
    assert not client.api.containers(all=True, filters={"label": f"{probes.OWNER_LABEL}={owner}"})
    assert after["networks"] <= left["networks"] and after["volumes"] <= left["volumes"]
    document = json.loads((report_dir / "compliance.json").read_text())
    assert document == previous or document["gate"]["passed"] is False, document["gate"]
    assert not [p.name for p in report_dir.iterdir() if p.name.endswith(".tmp")]


def test_reports_are_written_to_a_temporary_file_then_renamed(tmp_path, monkeypatch):
    """A reader (or a kill -9) sees the old file or the complete new one: the text goes to a
    temporary file in the same directory, flushed, then os.replace()s the report."""
    target = tmp_path / "compliance.json"
    replaced = []
    real_replace = os.replace

    def spy(source, destination):
        source = str(source)
        with open(source) as handle:
            replaced.append((source, str(destination), json.load(handle)))
        assert not os.path.exists(destination)  # nothing half-written at the real name
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", spy)
    files.write_json(target, {"gate": {"passed": False}})
    ((source, destination, content),) = replaced
    assert os.path.dirname(source) == str(tmp_path) and destination == str(target)
    assert os.path.basename(source).startswith(".compliance.json.") and source.endswith(".tmp")
    assert content == {"gate": {"passed": False}}
    assert [p.name for p in tmp_path.iterdir()] == ["compliance.json"]
