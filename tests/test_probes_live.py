"""Live probes on a real engine: the fixture stacks' verdicts, a target without any
shell, the write probe's cleanup, leftovers, --no-live, and interrupted runs that
leave no probe container behind."""

import contextlib
import os
import socket
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import docker
import pytest

from compliance import policy
from compliance.checks import live as checks
from compliance.sources import compose, engine, probes
from compliance.sources.probes import runner as probe_runner
from tests.live import stack_up
from tests.waiting import listening, wait_until

ROOT = Path(__file__).resolve().parent.parent
BUSYBOX = "passq-fixture/busybox:1.35"
NOSHELL = "passq-fixture/noshell:1.35"
LIVE_TESTS = ["compliance/checklist/test_network_live.py", "compliance/checklist/test_hardening_live.py",
              "compliance/checklist/test_network.py::test_database_clients_tls"]
NET04 = "test_network_live.py::test_flows_live"
NET05 = "test_network_live.py::test_database_tls_live"
NET05_CLIENTS = "test_network.py::test_database_clients_tls"
HRD02 = "test_hardening_live.py::test_read_only_rootfs_live"


@pytest.fixture(scope="module")
def client(docker_engine):
    return docker.from_env()


def run_suite(tmp_path, stack: str, policy_path: str, *extra: str, tests=LIVE_TESTS):
    """Run the compliance suite in a subprocess; (outcome, evidence) per test, and the output."""
    junit = tmp_path / f"{stack}.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *tests, "--stack", stack, "--policy", policy_path,
         "--report-dir", str(tmp_path / "reports"), f"--junitxml={junit}", "-rA", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        name = case.get("name").split(" ", 1)[-1]  # junit names a test case `CONTROL test[id]`
        key = f"{case.get('classname').rsplit('.', 1)[-1]}.py::{name}"
        skipped = case.find("skipped")
        results[key] = (props.get("outcome") or ("skipped" if skipped is not None else "?"),
                        props.get("evidence", ""),
                        skipped.get("message", "") if skipped is not None else "")
    return results, done.stdout + done.stderr + junit.read_text()


def no_probe_left(owner: str | None = None) -> list:
    label = f"{probes.OWNER_LABEL}={owner}" if owner else compose.PROBE_LABEL
    return docker.from_env().api.containers(all=True, filters={"label": label})


# -- the fixture stacks --------------------------------------------------------------------


def test_passq_staging_passes_the_live_controls(docker_engine, tmp_path):
    stack_up("passq-staging")
    results, _ = run_suite(tmp_path, "passq-staging", "policies/passq.yml")
    assert results[NET04][0] == "passed", results[NET04]
    assert "deny frontend -> db:5432: blocked" in results[NET04][1]
    assert "allow backend -> db:5432: connected" in results[NET04][1]
    assert results[NET05][0] == "passed", results[NET05]
    assert "answered 'S'" in results[NET05][1]
    assert results[NET05_CLIENTS][0] == "passed", results[NET05_CLIENTS]
    assert "backend DATABASE_URL: sslmode=require" in results[NET05_CLIENTS][1]
    for service in ("db", "backend", "frontend"):
        outcome, evidence, _ = results[f"{HRD02}[{service}]"]
        assert outcome == "passed" and "kernel mountinfo: root mount / overlay ro" in evidence, (
            service, evidence)  # proven without writing: no write probe ran
    assert not [c for c in no_probe_left()
                if probe_runner.owner_gone((c.get("Labels") or {}).get(probes.OWNER_LABEL, ""))]


def test_weak_fails_them_and_never_prints_a_planted_secret(docker_engine, tmp_path):
    stack_up("weak")
    results, output = run_suite(tmp_path, "weak", "fixtures/stacks/weak/policy.yml")
    assert results[NET04][0] == "failed"
    assert "deny web -> db:5432: failed" in results[NET04][1]
    assert "deny cache -> db:5432: blocked" in results[NET04][1]
    assert results[NET05][0] == "failed"
    assert "answered 'N'" in results[NET05][1]
    assert results[NET05_CLIENTS][0] == "failed"
    assert "api DATABASE_URL: sslmode=prefer" in results[NET05_CLIENTS][1]
    assert results[f"{HRD02}[web]"][0] == "failed"  # read_only turned off by the drift file
    assert results[f"{HRD02}[sidecar]"][0] == "failed"
    assert results[f"{HRD02}[jobs]"][0] == "skipped"  # exited: nothing to write to
    for service in ("api", "db", "cache", "monitor", "worker"):  # monitor: pid: host
        assert results[f"{HRD02}[{service}]"][0] == "passed", results[f"{HRD02}[{service}]"]
    assert "weak-secret-" not in output


def test_hardened_passes_net04_from_a_target_without_a_shell(docker_engine, tmp_path):
    stack_up("hardened")
    results, _ = run_suite(tmp_path, "hardened", "fixtures/stacks/hardened/policy.yml")
    assert results[NET04][0] == "passed"
    assert "hardened-web-1 -> " in results[NET04][1]  # web runs the noshell image
    assert results[NET05][0] == "skipped"
    assert "no database" in results[NET05][2]


# -- a throwaway project of our own ----------------------------------------------------------


@pytest.fixture(scope="module")
def project(client, tmp_path_factory):
    """edge (noshell) -> app -> store over an internal network, plus a root container with a
    writable root filesystem; removed afterwards."""
    name = f"probetest-{uuid.uuid4().hex[:8]}"
    labels = {compose.PROJECT_LABEL: name}
    nets, containers = {}, []
    try:
        for net, internal in (("front", False), ("back", True)):
            nets[net] = client.networks.create(f"{name}_{net}", internal=internal, labels={
                **labels, compose.NETWORK_LABEL: net})

        def run(service, image, network, command=None, **kwargs):
            container = client.containers.run(
                image, command, detach=True, network=nets[network].name,
                name=f"{name}-{service}-1", labels={**labels, compose.SERVICE_LABEL: service},
                **kwargs)
            containers.append(container)
            return container

        run("edge", NOSHELL, "front", read_only=True)
        app = run("app", BUSYBOX, "front", ["httpd", "-f", "-p", "8081", "-h", "/var/www"],
                  read_only=True, user="1001:1001")
        nets["back"].connect(app)
        store = run("store", BUSYBOX, "back", ["httpd", "-f", "-p", "8082", "-h", "/var/www"],
                    read_only=True, user="1001:1001")
        run("scratchpad", BUSYBOX, "front", ["sleep", "600"])  # root, writable rootfs
        path = tmp_path_factory.mktemp("policy") / "policy.yml"
        path.write_text(f"""stack: {name}
services: {{edge: {{}}, app: {{}}, store: {{}}, scratchpad: {{}}}}
flows:
  deny: [{{from: edge, to: store, port: 8082}}]
  allow: [{{from: edge, to: app, port: 8081}}, {{from: app, to: store, port: 8082}}]
""")
        wait_until(lambda: listening(app, 8081) and listening(store, 8082), what="app and store to listen")
        yield name, str(path)
    finally:
        for container in containers:
            container.remove(force=True)
        for net in nets.values():
            net.remove()


NO_VIEW = Path("/nonexistent/proc")  # no view of the engine host: HRD-02 needs the write probe


def snapshot(project):
    """The snapshot as a remote engine gives it (no /proc to read), so that every probe kind,
    the write probe too, runs for real."""
    name, policy_path = project
    connected = engine.connect()
    return connected, compose.take(connected, name, proc=NO_VIEW), policy.load(policy_path)


def test_a_target_without_any_shell_gets_net04_verdicts(client, project):
    edge = client.containers.get(f"{project[0]}-edge-1")
    assert edge.exec_run(["sh", "-c", "true"]).exit_code != 0  # no shell in there
    connected, stack, pol = snapshot(project)
    observed = probes.Live(probes.ProbeRunner(connected), stack, pol)
    try:
        flows = observed.flows()
    finally:
        observed.close()
    by_flow = {str(o.flow): o for o in flows}
    assert {a.result for a in by_flow["edge -> store:8082"].attempts} == {"timeout"}
    assert "connected" in {a.result for a in by_flow["edge -> app:8081"].attempts}
    assert checks.flows(flows).outcome == "passed"
    assert str(stack.service("edge")[0].process) == "1001:1001"  # USR-01 reads it too


def test_the_write_probe_leaves_nothing_behind(client, project):
    connected, stack, pol = snapshot(project)
    runner = probes.ProbeRunner(connected)
    observed = probes.Live(runner, stack, pol)
    try:
        pad, store = stack.service("scratchpad")[0], stack.service("store")[0]
        wrote, refused = observed.write(pad), observed.write(store)
    finally:
        observed.close()
    assert (wrote.result, wrote.left_behind, wrote.removed, wrote.as_ids) == ("written", True, True, "0:0")
    assert checks.read_only_write(wrote).outcome == "failed"
    assert (refused.result, refused.errno) == ("refused", "EROFS")
    assert checks.read_only_write(refused).outcome == "passed"
    changes = client.api.diff(pad.id) or []
    assert not [c for c in changes if "passq-compliance-probe" in c["Path"]]


def test_leftovers_of_dead_runs_are_swept_but_a_concurrent_runs_stay(client, project):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = socket.gethostname()
    leftover = client.containers.create(BUSYBOX, ["true"], labels={
        compose.PROBE_LABEL: "old-run", probes.OWNER_LABEL: f"{host}:{dead}"})
    concurrent = client.containers.create(BUSYBOX, ["true"], labels={
        compose.PROBE_LABEL: "other-run", probes.OWNER_LABEL: f"{host}:{os.getpid()}"})
    try:
        swept = probes.ProbeRunner(engine.connect()).sweep_leftovers()
        assert leftover.id[:12] in swept and concurrent.id[:12] not in swept
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(leftover.id)
        client.containers.get(concurrent.id)
    finally:
        for container in (leftover, concurrent):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def test_probe_containers_are_labelled_and_gone_after_a_run(project):
    connected, stack, pol = snapshot(project)
    runner = probes.ProbeRunner(connected)
    seen = []
    original = runner._one

    def spy(spec):
        seen.append(runner.labels)
        return original(spec)

    runner._one = spy
    probes.Live(runner, stack, pol).flows()
    assert seen and all(s[compose.PROBE_LABEL] == runner.run_id for s in seen)
    assert not docker.from_env().api.containers(
        all=True, filters={"label": f"{compose.PROBE_LABEL}={runner.run_id}"})


def test_a_missing_probe_image_is_an_error_not_a_pass(project):
    connected, stack, pol = snapshot(project)
    observed = probes.Live(probes.ProbeRunner(connected, "passq-fixture/nonesuch:0"), stack, pol)
    finding = checks.flows(observed.flows())
    assert finding.outcome == "error"
    assert "probe image passq-fixture/nonesuch:0 is not on the engine" in finding.message
    write = checks.read_only_write(observed.write(stack.service("store")[0]))
    assert write.outcome == "error" and "nonesuch" in write.message


def test_no_live_skips_with_the_reason(tmp_path, project):
    results, _ = run_suite(tmp_path, project[0], project[1], "--no-live")
    assert results
    for test, (outcome, _, message) in results.items():
        if test != NET05_CLIENTS:  # NET-05's DSN half reads the environment, not a probe
            assert outcome == "skipped" and "live probes disabled (--no-live)" in message


# -- verdicts that must not depend on which probes ran at the same time ----------------------


@pytest.fixture(scope="module")
def one_listener(client, tmp_path_factory):
    """db: a listener that serves one connection at a time (busybox `nc -l` in a loop), so a
    second connection is refused while it serves the first; web and api share db's network,
    the policy denies web -> db and allows api -> db, and NET-05's SSLRequest probe hits the
    same port in the same run."""
    name = f"onelisten-{uuid.uuid4().hex[:8]}"
    labels = {compose.PROJECT_LABEL: name}
    net = client.networks.create(f"{name}_back", labels={**labels, compose.NETWORK_LABEL: "back"})
    containers = []
    try:
        for service, command in (
                ("db", ["sh", "-c", "while :; do nc -l -p 5432 -e sh -c 'sleep 0.5'; done"]),
                ("web", ["sleep", "600"]), ("api", ["sleep", "600"])):
            containers.append(client.containers.run(
                BUSYBOX, command, detach=True, network=net.name, name=f"{name}-{service}-1",
                labels={**labels, compose.SERVICE_LABEL: service}))
        path = tmp_path_factory.mktemp("policy") / "policy.yml"
        path.write_text(f"""stack: {name}
services: {{db: {{}}, web: {{}}, api: {{}}}}
flows:
  deny: [{{from: web, to: db, port: 5432}}]
  allow: [{{from: api, to: db, port: 5432}}]
database: {{service: db, engine: postgres, port: 5432}}
""")
        wait_until(lambda: listening(containers[0], 5432), what="db on 5432")
        yield name, str(path)
    finally:
        for container in containers:
            container.remove(force=True)
        net.remove()


def test_a_busy_one_connection_listener_never_makes_a_deny_flow_pass(tmp_path, one_listener):
    """web reaches db's address, so the deny flow fails in every run, whether the listener
    answered or refused because NET-05's probe held it; the allow flow connects every time."""
    verdicts = []
    for run in range(3):
        (tmp_path / str(run)).mkdir()
        results, output = run_suite(tmp_path / str(run), *one_listener)
        assert NET04 in results, output
        outcome, evidence, _ = results[NET04]
        verdicts.append(outcome)
        assert "deny web -> db:5432: failed" in evidence, evidence
        assert "allow api -> db:5432: connected" in evidence, evidence
    assert verdicts == ["failed"] * 3
