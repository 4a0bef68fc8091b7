"""Faults: the engine out of reach, a stack with nothing running, a broken policy, a
container that vanishes or restarts mid-run, no /proc, probes that hang. Each ends in
one clear error or an `error` outcome, never a pass and never a traceback wall."""

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest

from compliance import policy
from compliance.checks import live as live_checks
from compliance.checks import users
from compliance.observations import ProbeError
from compliance.sources import compose, engine, probes
from compliance.sources.probes import runner as probe_runner
from tests import live
from tests.live import ROOT
from tests.waiting import listening, wait_until

BUSYBOX = "passq-fixture/busybox:1.35"


@pytest.fixture(scope="module")
def client(docker_engine):
    return docker.from_env()


@pytest.fixture
def throwaway(client):
    """throwaway(service=dict(...), ...) -> project: labelled like compose, removed afterwards
    (also when a test removed some of them itself)."""
    created = []

    def make(project=None, **services) -> str:
        project = project or f"pqf-{uuid.uuid4().hex[:8]}"
        for service, spec in services.items():
            spec = dict(spec)
            command = spec.pop("command", ["sleep", "900"])
            run = spec.pop("run", True)
            image = spec.pop("image", BUSYBOX)
            labels = {compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: service,
                      **spec.pop("labels", {})}
            kwargs = dict(name=f"{project}-{service}-1", labels=labels, **spec)
            created.append(client.containers.run(image, command, detach=True, **kwargs) if run
                           else client.containers.create(image, command, **kwargs))
        return project

    yield make
    for container in created:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


NO_VIEW = Path("/nonexistent/proc")  # no view of the engine host, as for a remote engine


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("ERROR:")]


# -- the engine out of reach ---------------------------------------------------------------


def test_a_wrong_docker_host_in_the_environment_is_one_clear_error(tmp_path):
    """test_engine_errors covers --docker-host; the environment variable is the CI's usual way."""
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    run = live.audit("--stack", "hardened", report_dir=tmp_path, env=env)
    assert run.returncode == 4, run.output
    assert error_lines(run.output) == [
        "ERROR: stack 'hardened': Docker engine at unix:///nonexistent/docker.sock is unreachable: "
        "No such file or directory"]
    assert "Traceback" not in run.output
    assert json.loads((tmp_path / "compliance.json").read_text())["gate"]["passed"] is False


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv (util-linux)")
def test_a_socket_the_suite_may_not_open_is_one_clear_error(tmp_path):
    """A socket of mode 000, opened by a process without CAP_DAC_OVERRIDE (root drops it with
    setpriv; any other user is refused anyway): EACCES, as for a user outside the docker group."""
    path = tmp_path / "docker.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    os.chmod(path, 0)
    prefix = (["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
              if os.geteuid() == 0 else [])
    try:
        # tests.live.audit cannot put setpriv in front of the interpreter; the same command else.
        done = subprocess.run([*prefix, sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                               "--stack", "hardened", f"--docker-host=unix://{path}",
                               f"--report-dir={tmp_path / 'reports'}"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        listener.close()
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    assert error_lines(output) == [f"ERROR: stack 'hardened': Docker engine at unix://{path} is "
                                   "unreachable: Permission denied"]
    assert "Traceback" not in output


# -- nothing running -------------------------------------------------------------------------


def test_a_stack_whose_containers_all_stopped_is_never_green(client, throwaway, tmp_path):
    project = throwaway(web={"command": ["true"]}, db={"command": ["true"]})
    wait_until(lambda: not client.containers.list(filters={"label": f"{compose.PROJECT_LABEL}={project}"}),
               what="both containers to exit")
    path = tmp_path / "policy.yml"
    path.write_text(f"stack: {project}\nservices: {{web: {{}}, db: {{}}}}\n"
                    "flows:\n  allow: [{from: web, to: db, port: 80}]\n")
    run = live.audit("--stack", project, f"--policy={path}", report_dir=tmp_path / "reports")
    assert run.returncode == 1, run.output
    assert (f"NOTHING RUNNING: all 2 containers of stack {project!r} are stopped; HLT-02 fails "
            "for each and no live probe can run") in run.output
    outcomes = run.outcomes()
    assert outcomes[("HLT-02", "web")] == outcomes[("HLT-02", "db")] == {"failed"}
    assert outcomes[("NET-04", None)] == {"error"}  # no running container to probe from
    assert outcomes[("USR-01", "web")] == {"failed"}  # Config.User is root: decided from config
    assert json.loads((run.report_dir / "compliance.json").read_text())["gate"]["passed"] is False


# -- a broken policy, through the command line -------------------------------------------------


@pytest.mark.parametrize(("text", "where"), [
    ("stack: hardened\ndefaults:\n  user: [non-root\n", ":4:1: malformed YAML"),
    ("stack: hardened\ndefaults:\n  memroy_max: 512M\n", ":3: defaults.memroy_max: unknown key"),
    ("stack: hardened\ndefaults:\n  cpus_max: lots\n", ":3: defaults.cpus_max: expected a number"),
    ("stack: hardened\nservices: {web: {}}\nflows:\n  deny:\n    - {from: web, to: dbb, port: 5432}\n",
     ":5: flows.deny.0.to: unknown service 'dbb'"),
    ("stack: hardened\ndefaults:\n  pids_max: -1\n", ":3: defaults.pids_max: must be positive"),
], ids=["malformed-yaml", "unknown-key", "wrong-type", "unknown-flow-service", "negative-limit"])
def test_a_broken_policy_stops_the_run_before_any_check(tmp_path, text, where):
    path = tmp_path / "policy.yml"
    path.write_text(text)
    run = live.audit("--stack", "hardened", f"--policy={path}", report_dir=tmp_path / "reports")
    assert run.returncode == 4, run.output
    (line,) = error_lines(run.output)
    assert line.startswith(f"ERROR: {path}{where}"), line
    assert "Traceback" not in run.output and " passed" not in run.output
    document = json.loads((run.report_dir / "compliance.json").read_text())
    assert document["results"] == [] and document["gate"]["passed"] is False


# -- a container that vanishes or restarts in the middle of a run ------------------------------

DISRUPTED = """
    import docker
    import pytest

    from compliance.checks import health, users
    from compliance.checks import live as live_checks
    from compliance.audit import AUDIT
    from tests.waiting import wait_until


    def test_0_disrupt_the_stack(request):
        audit = request.config.stash[AUDIT]
        by_service = {c.service: c for c in audit.stack().containers}
        client = docker.from_env()
        client.containers.get(by_service["gone"].id).remove(force=True)
        client.containers.get(by_service["bounced"].id).restart(timeout=0)
        wait_until(lambda: audit.changed(by_service["gone"])
                   and "started" in (audit.changed(by_service["bounced"]) or ""),
                   timeout=20, interval=0.05, what="the engine's events of the removal and the restart")


    @pytest.mark.control("USR-01")
    def test_user(container, service_policy, verdict):
        verdict(users.non_root(container, service_policy))


    @pytest.mark.control("HLT-02")
    def test_running(container, restarts, verdict):
        verdict(health.running_and_healthy(container, restarts))


    @pytest.mark.control("HRD-02")
    def test_write_live(container, live, verdict):
        verdict(live_checks.read_only_live(container, live.write(container)))
"""


def test_a_container_removed_mid_run_errors_its_remaining_controls_a_restarted_one_does_not(
        audit, throwaway):
    """Removal makes the snapshot wrong: error. A restart changes no configuration: the
    configuration controls still judge the snapshot, and HLT-02 fails (it did not stay up)."""
    project = throwaway(steady={"user": "1000:1000", "read_only": True},
                        gone={"user": "1000:1000", "read_only": True},
                        bounced={"user": "1000:1000", "read_only": True})
    run = audit(project, DISRUPTED)
    assert run.ret == 1, run.text()
    assert {p.name for p in run.report_dir.iterdir()} >= {
        "compliance.json", "compliance.sarif", "compliance.html", "junit.xml"}
    document = run.json()
    assert document["gate"]["passed"] is False
    by = {}
    for result in document["results"]:
        by.setdefault(result["service"], {})[result["control"]] = result
    assert {r["outcome"] for r in by["steady"].values()} == {"passed"}
    assert len(by["gone"]) == len(by["bounced"]) == 3
    for result in by["gone"].values():
        assert result["outcome"] == "error"
        assert result["message"].startswith("the container was stopped")
        assert "removed during the run" in result["message"]
        assert result["evidence"] == f"container {project}-gone-1"
    bounced = by["bounced"]
    assert (bounced["USR-01"]["outcome"], bounced["HRD-02"]["outcome"]) == ("passed", "passed"), bounced
    assert bounced["HLT-02"]["outcome"] == "failed"
    assert "during the run the container stopped, then started" in bounced["HLT-02"]["evidence"]
    junit = (run.report_dir / "junit.xml").read_text()
    assert junit.count('<property name="outcome" value="error" />') == 3


CRASH_LOOP = """
    import pytest

    from compliance.checks import hardening, health, resources


    @pytest.mark.control("HLT-02")
    def test_running(container, restarts, verdict):
        verdict(health.running_and_healthy(container, restarts))


    @pytest.mark.control("HRD-02")
    def test_read_only(container, verdict):
        verdict(hardening.read_only_rootfs(container))


    @pytest.mark.control("RES-01")
    def test_memory(container, service_policy, verdict):
        verdict(resources.memory_limit(container, service_policy))
"""


def test_a_crash_looping_container_fails_hlt02_and_keeps_its_configuration_verdicts(
        audit, client, throwaway):
    """restart: always over a process that exits at once: HLT-02 fails with its state,
    exit code and restart count; every configuration control still judges the snapshot."""
    project = throwaway(loop={"command": ["sh", "-c", "sleep 0.3; exit 3"], "read_only": True,
                              "restart_policy": {"Name": "always"}})
    wait_until(lambda: client.containers.get(f"{project}-loop-1").attrs["RestartCount"] >= 2,
               what="a few restarts")
    for _ in range(3):
        run = audit(project, CRASH_LOOP)
        by = {r["control"]: r for r in run.json()["results"]}
        assert by["HLT-02"]["outcome"] == "failed", by["HLT-02"]
        assert "RestartCount=" in by["HLT-02"]["evidence"]
        evidence = by["HLT-02"]["evidence"]
        assert any(seen in evidence for seen in (  # restarting, or caught running between two
                "State.ExitCode=3", "during the run", "at the snapshot after its last restart")), evidence
        assert by["HRD-02"]["outcome"] == "passed", by["HRD-02"]
        assert by["RES-01"]["outcome"] == "failed", by["RES-01"]
        assert "no longer describes it" not in run.text()


def test_a_probe_into_a_vanished_container_is_an_error(client, throwaway):
    """The live probes of a container removed after the snapshot observe nothing: error."""
    project = throwaway(web={"user": "1000:1000", "read_only": True}, db={"user": "1000:1000"})
    connected = engine.connect()
    stack = compose.take(connected, project, proc=NO_VIEW)  # the write probe runs too
    client.containers.get(f"{project}-web-1").remove(force=True)
    pol = policy.Policy(path="-", sha256="-", services={"web": policy.ServicePolicy(),
                                                        "db": policy.ServicePolicy()},
                        allow_flows=(policy.Flow("web", "db", 80),))
    observed = probes.Live(probes.ProbeRunner(connected), stack, pol)
    try:
        write = live_checks.read_only_write(observed.write(stack.service("web")[0]))
        flows = live_checks.flows(observed.flows())
    finally:
        observed.close()
    assert write.outcome == "error" and "No such container" in write.message, write
    assert flows.outcome == "error" and "No such container" in flows.message, flows


# -- no /proc, no docker top, probes that hang ----------------------------------------------


def test_without_proc_the_real_uid_comes_from_docker_top_and_without_both_usr01_errors(
        throwaway, tmp_path, monkeypatch):
    project = throwaway(web={"user": "1000:1000"})
    connected = engine.connect()
    empty = tmp_path / "proc"
    empty.mkdir()
    (web,) = compose.take(connected, project, proc=empty).containers
    assert web.process == compose.Ids(1000, 1000, (1000,) * 4, (1000,) * 4)  # from `docker top`
    assert users.non_root(web, policy.ServicePolicy()).outcome == "passed"

    def refused(*args, **kwargs):
        raise docker.errors.APIError("top: permission denied")

    monkeypatch.setattr(connected.api, "top", refused)
    (web,) = compose.take(connected, project, proc=empty).containers
    assert web.process is None
    finding = users.non_root(web, policy.ServicePolicy())
    assert (finding.outcome, finding.message) == ("error", "the real uid of the main process could "
                                                           "not be read")


@pytest.fixture(scope="module")
def hanging_image(client):
    """A probe image whose shell never returns (every probe hangs), tagged locally."""
    tag = f"pqf-hang/busybox:{uuid.uuid4().hex[:8]}"
    dockerfile = (f"FROM {BUSYBOX}\nRUN rm /bin/sh && printf '#!/bin/busybox sh\\nexec /bin/busybox "
                  "sleep 3600\\n' > /bin/sh && chmod 755 /bin/sh\n")
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
    yield tag
    client.images.remove(tag, force=True)


def test_a_probe_that_hangs_is_bounded_and_an_error(throwaway, hanging_image):
    project = throwaway(web={"user": "1000:1000", "read_only": True}, db={"user": "1000:1000"})
    connected = engine.connect()
    stack = compose.take(connected, project, proc=NO_VIEW)  # the write probe runs too
    pol = policy.Policy(path="-", sha256="-", services={"web": policy.ServicePolicy(),
                                                        "db": policy.ServicePolicy()},
                        allow_flows=(policy.Flow("web", "db", 80),))
    runner = probes.ProbeRunner(connected, hanging_image, deadline=3)
    observed = probes.Live(runner, stack, pol)
    started = time.monotonic()
    try:
        write = live_checks.read_only_write(observed.write(stack.service("web")[0]))
        flows = live_checks.flows(observed.flows())
    finally:
        observed.close()
    assert time.monotonic() - started < 20  # two rounds of probes, each killed after 3 s
    assert write.outcome == "error" and "did not finish within 3 s" in write.message, write
    assert flows.outcome == "error" and "did not finish within 3 s" in flows.message, flows
    assert not connected.api.containers(all=True, filters={
        "label": f"{compose.PROBE_LABEL}={runner.run_id}"})


def test_a_database_that_never_answers_the_sslrequest_is_an_error(client, throwaway):
    """It accepts the connection and then says nothing: no 'S', so no pass; bounded by timeouts."""
    project = throwaway(db={"command": ["nc", "-ll", "-p", "5432", "-e", "sleep", "60"],
                            "user": "1000:1000"})
    wait_until(lambda: listening(client.containers.get(f"{project}-db-1"), 5432), what="db on 5432")
    connected = engine.connect()
    stack = compose.take(connected, project)
    pol = policy.Policy(path="-", sha256="-", services={"db": policy.ServicePolicy()},
                        database=policy.Database("db"))
    observed = probes.Live(probes.ProbeRunner(connected), stack, pol)
    started = time.monotonic()
    try:
        tls = observed.tls()
    finally:
        observed.close()
    assert time.monotonic() - started < probe_runner.DEADLINE_S
    assert not isinstance(tls, ProbeError), tls
    assert tls and all(o.answer is None for o in tls), tls
    finding = live_checks.database_server_tls(pol.database, tls)
    assert finding.outcome == "error", finding
