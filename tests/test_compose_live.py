"""Live: CMP-01 against a running stack of our own, and --static-only without any engine.

The drift stack is tests/data/drift/compose.yml, started under a project name
of its own (never hardened, weak or passq-staging) and always removed. It is
audited against changed copies of its compose file and after a container was
recreated by hand. The features stack (tests/data/features) runs the compose
features real repositories use, so CMP-01 shows they cause no false difference.
"""

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from compliance import controls
from compliance.sources import compose_files
from tests.live import stack_up
from tests.test_live_verdicts import readme_failures

ROOT = Path(__file__).resolve().parents[1]
DRIFT = ROOT / "tests" / "data" / "drift" / "compose.yml"
DRIFT_POLICY = DRIFT.with_name("policy.yml")
FEATURES = ROOT / "tests" / "data" / "features"

WEAK = ROOT / "fixtures" / "stacks" / "weak"
IMAGE = "passq-fixture/busybox:1.35"
CMP_TEST = "compliance/checklist/test_declared.py::test_matches_declared"


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=check)


def engine_with_image() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return docker("image", "inspect", IMAGE, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


live = pytest.mark.skipif(not engine_with_image(), reason=f"needs a Docker engine with {IMAGE} "
                          "(scripts/setup)")


def audit(*args, env=None, report_dir):
    return subprocess.run([sys.executable, "-m", "pytest", f"--rootdir={ROOT}", f"-c={ROOT / 'pytest.ini'}",
                           f"--report-dir={report_dir}", "-v", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


@contextlib.contextmanager
def running(compose_file: Path, project: str, extra: list[str], wait=("--wait", "--wait-timeout", "60")):
    """The stack of `compose_file` (every profile) up (and healthy, unless `wait` is empty: a
    disabled healthcheck fails compose's wait) under `project`; removed afterwards, with the
    containers named in `extra`."""
    command = compose_files.compose_command()
    subprocess.run([str(ROOT / "scripts" / "generate-secrets"), compose_file], check=True,
                   capture_output=True, timeout=60)
    base = [*command, "-p", project, "-f", str(compose_file), "--profile", "*"]
    up = subprocess.run([*base, "up", "-d", *wait], capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stderr
        yield
    finally:
        for name in extra:
            docker("rm", "-f", name, check=False)
        subprocess.run([*base, "down", "-v", "--remove-orphans", "--timeout", "1"],
                       capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def drift_stack(docker_engine, tmp_path_factory):
    """Our own copy of the drift stack, up and healthy; torn down afterwards."""
    directory = tmp_path_factory.mktemp("drift")
    compose_file = directory / "compose.yml"
    shutil.copy(DRIFT, compose_file)
    project = f"passq-drift-test-{os.getpid()}"
    extra: list[str] = []
    with running(compose_file, project, extra):
        yield project, compose_file, extra


def changed_copy(compose_file: Path, name: str, *edits) -> Path:
    text = compose_file.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    copy = compose_file.with_name(name)
    copy.write_text(text)
    return copy


@live
def test_stack_as_declared_passes_cmp_01(drift_stack, tmp_path):
    project, compose_file, _ = drift_stack
    run = audit("--stack", project, f"--compose-file={compose_file}", f"--policy={DRIFT_POLICY}",
                CMP_TEST, report_dir=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "test_matches_declared[web] PASSED" in run.stdout


@live
def test_changed_compose_file_fails_with_the_exact_diff(drift_stack, tmp_path):
    project, compose_file, _ = drift_stack
    changed = changed_copy(compose_file, "changed.yml", ("    read_only: true\n", ""),
                           ('"127.0.0.1::8080"', '"0.0.0.0::8080"'))
    run = audit("--stack", project, f"--compose-file={changed}", f"--policy={DRIFT_POLICY}",
                CMP_TEST, report_dir=tmp_path)
    assert run.returncode == 1
    assert "test_matches_declared[web] FAILED" in run.stdout
    assert ("(evidence: read_only: declared false, running true; "
            "ports: declared [0.0.0.0:(any)->8080/tcp], running [127.0.0.1:(any)->8080/tcp])") in run.stdout


@live
def test_without_compose_file_cmp_01_is_skipped(drift_stack, tmp_path):
    project, _, _ = drift_stack
    run = audit("--stack", project, CMP_TEST, "-rs", report_dir=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "test_matches_declared[web] SKIPPED" in run.stdout
    assert "no --compose-file given" in run.stdout


@live
def test_container_recreated_by_hand_and_an_undeclared_one_fail(drift_stack, tmp_path):
    """Runs last: it replaces the stack's web container."""
    project, compose_file, extra = drift_stack
    web = f"{project}-web-1"
    labels = docker("inspect", web, "-f",
                    '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}\n{{end}}').stdout.split()
    labels = [label for label in labels if label.startswith("com.docker.compose.")
              and not label.startswith("com.docker.compose.config-hash")]
    docker("rm", "-f", web)
    extra.append(web)
    label_args = [arg for label in labels for arg in ("--label", label)]
    docker("run", "-d", "--name", web, *label_args, "--network", f"{project}_front",
           "--user", "1001:1001", "--read-only", "--tmpfs", "/tmp", "--security-opt",
           "no-new-privileges:true", "--cap-drop", "ALL", "--memory", "64m", "--cpus", "0.25",
           "--pids-limit", "50", "-p", "127.0.0.1::8080",
           "--health-cmd", "wget -q -O- http://127.0.0.1:8080/", "--health-interval", "2s",
           IMAGE, "httpd", "-f", "-p", "8080", "-h", "/var/www")
    intruder = f"{project}-intruder-1"
    extra.append(intruder)
    docker("run", "-d", "--name", intruder, "--label", f"com.docker.compose.project={project}",
           "--label", "com.docker.compose.service=intruder", IMAGE, "sleep", "300")
    run = audit("--stack", project, f"--compose-file={compose_file}", f"--policy={DRIFT_POLICY}",
                CMP_TEST, report_dir=tmp_path)
    assert run.returncode == 1
    assert "test_matches_declared[web] FAILED" in run.stdout
    assert "test_matches_declared[intruder] FAILED" in run.stdout
    assert "memory: declared 32M, running 64M" in run.stdout
    assert ("healthcheck.test: declared [CMD, wget, -q, -O-, http://127.0.0.1:8080/], "
            "running [CMD-SHELL, wget -q -O- http://127.0.0.1:8080/]") in run.stdout
    assert "(evidence: service 'intruder' is not declared)" in run.stdout


def weak_secret_files() -> None:
    """Weak's secret files as its `prepare` weakens them (SEC-03 fails on them). They are
    git-ignored, so a checkout where weak was never brought up has none, and a static
    audit skips SEC-03 there (docs/declared-config.md)."""
    stack_up("weak")


@pytest.mark.skipif(not (WEAK / "compose.yml").is_file(), reason="the weak fixture stack is not there")
def test_static_only_on_weak_fails_the_right_controls_without_an_engine(docker_engine, tmp_path):
    weak_secret_files()
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/passq-no-engine.sock")
    run = audit("--static-only", "--stack", "weak", f"--policy={WEAK / 'policy.yml'}",
                f"--compose-file={WEAK / 'compose.yml'}", env=env, report_dir=tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "Traceback" not in out and "unreachable" not in out
    failed = {line.split("::", 1)[1].split(" ")[0] for line in run.stdout.splitlines()
              if line.startswith("compliance/checklist/") and " FAILED" in line}
    passed = {line.split("::", 1)[1].split(" ")[0] for line in run.stdout.splitlines()
              if line.startswith("compliance/checklist/") and " PASSED" in line}
    assert {f for f in failed if f.startswith("test_image_pinned")} == {
        "test_image_pinned[web]", "test_image_pinned[api]", "test_image_pinned[worker]"}
    assert "test_secret_files_private" in failed
    # every declarable control ran on the declared services; nothing that needs the stack did
    assert {"test_read_only_rootfs[sidecar]", "test_no_host_privileges[monitor]",
            "test_ports_bound_to_allowed_hosts[web]", "test_internal_networks",
            "test_database_clients_tls", "test_no_plaintext_secrets_in_env[api]"} <= failed
    assert "test_read_only_rootfs[api]" in passed
    ran = failed | passed
    assert not any(t.startswith(("test_matches_declared", "test_declared_image_pinned",
                                 "test_running_and_healthy", "test_flows_live")) for t in ran)
    assert "--static-only: tests that need the running stack:" in run.stdout
    assert "deselected" in run.stdout
    for planted in ("weak-secret-", "changeme"):
        assert planted not in out
        for report in tmp_path.iterdir():
            assert planted not in report.read_text(errors="replace"), report


# What the declaration of weak says differently from its running stack, and why.
STATIC_ONLY = {("USR-01", "cache")}  # no user: declared; the image's own USER is non-root
LIVE_ONLY = {
    ("HRD-02", "web"),  # compose.drift.yml, started over compose.yml, turns read_only off
    ("HRD-05", "jobs"), ("HRD-05", "monitor"),  # label=disable, added by the engine at run time
    ("SEC-01", "db"),  # the root-owned 0600 file is unreadable by uid 999: seen from inside
}


@pytest.mark.skipif(not (WEAK / "compose.yml").is_file(), reason="the weak fixture stack is not there")
def test_static_verdicts_are_the_live_ones_on_weak(docker_engine, tmp_path):
    """One check per control: judged on the declaration, weak fails where its running stack
    fails (its README's table), but for the facts only one of the two views holds."""
    weak_secret_files()
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/passq-no-engine.sock")
    run = audit("--static-only", f"--policy={WEAK / 'policy.yml'}",
                f"--compose-file={WEAK / 'compose.yml'}", env=env, report_dir=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    document = json.loads((tmp_path / "compliance.json").read_text())
    static = {(r["control"], r["service"]) for r in document["results"] if r["outcome"] == "failed"}
    live = {(c, s) for c, s in readme_failures() if controls.CATALOG[c].static}
    assert static - live == STATIC_ONLY
    assert live - static == LIVE_ONLY
    assert all(r["location"] and r["location"]["file"].endswith("compose.yml")
               for r in document["results"] if r["outcome"] == "failed")
    assert document["stack"] is None and document["static"] is True
    assert [f["path"] for f in document["compose_files"]] == ["fixtures/stacks/weak/compose.yml"]


@pytest.mark.skipif(not (WEAK / "compose.yml").is_file(), reason="the weak fixture stack is not there")
def test_a_static_report_points_each_result_at_its_file_and_line(tmp_path):
    """SARIF 2.1.0 with a relative artifact URI and a start line for every declared result, so
    a code-scanning upload annotates the pull request; the JSON names the file, its SHA-256 and
    each result's line, the HTML its file:line."""
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/passq-no-engine.sock")
    audit("--static-only", f"--policy={WEAK / 'policy.yml'}", f"--compose-file={WEAK / 'compose.yml'}",
          env=env, report_dir=tmp_path)
    schema = json.loads((ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())
    sarif = json.loads((tmp_path / "compliance.sarif").read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(sarif))
    assert not errors, [e.message for e in errors]
    results = sarif["runs"][0]["results"]
    assert results
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "fixtures/stacks/weak/compose.yml"
        assert physical["region"]["startLine"] >= 1
    document = json.loads((tmp_path / "compliance.json").read_text())
    digest = hashlib.sha256((WEAK / "compose.yml").read_bytes()).hexdigest()
    assert document["compose_files"] == [{"path": "fixtures/stacks/weak/compose.yml", "sha256": digest}]
    assert document["judged"] == "static audit of fixtures/stacks/weak/compose.yml"
    lines = (WEAK / "compose.yml").read_text().splitlines()
    read_only = next(r for r in document["results"] if r["test"].endswith("test_read_only_rootfs[sidecar]"))
    assert lines[read_only["location"]["line"] - 1].strip().startswith(("read_only", "sidecar:"))
    html = (tmp_path / "compliance.html").read_text()
    assert f"fixtures/stacks/weak/compose.yml:{read_only['location']['line']}" in html
    assert "no stack" not in html


PROJECT = ROOT / "tests" / "data" / "compose" / "project"


def test_a_multi_file_project_points_every_report_at_one_real_file_and_line(tmp_path):
    """include, extends, a merge key, a profile and an override: each declared result names
    one file (relative to the folder the suite runs in) and a line within it, the same in the
    JSON, the SARIF and the HTML; the profile service is judged and its results say so."""
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/passq-no-engine.sock")
    run = audit("--static-only", f"--compose-file={PROJECT / 'compose.yaml'}",
                f"--compose-file={PROJECT / 'compose.prod.yaml'}", env=env, report_dir=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    document = json.loads((tmp_path / "compliance.json").read_text())
    assert [f["path"] for f in document["compose_files"]] == [
        f"tests/data/compose/project/{name}" for name in
        ("compose.yaml", "compose.prod.yaml", "services/db.yaml", "services/cache.yaml", "common/base.yaml")]
    located = [r for r in document["results"] if r["location"]]
    assert len(located) == len(document["results"])
    for result in located:
        where = result["location"]
        lines = (ROOT / where["file"]).read_text().splitlines()
        assert 1 <= where["line"] <= len(lines), result
    assert {r["location"]["file"] for r in located} == {f["path"] for f in document["compose_files"]}
    sarif = json.loads((tmp_path / "compliance.sarif").read_text())["runs"][0]["results"]
    assert sarif
    by_test = {r["test"]: r["location"] for r in located}
    for result in sarif:
        physical = result["locations"][0]["physicalLocation"]
        where = by_test[result["properties"]["test"]]
        assert physical["artifactLocation"]["uri"] == where["file"]
        assert physical["region"]["startLine"] == where["line"]
    html = (tmp_path / "compliance.html").read_text()
    assert all(f"{r['location']['file']}:{r['location']['line']}" in html for r in located)
    debug = [r for r in document["results"] if r["service"] == "debug"]
    assert debug and all(r["test"].endswith("[debug(profile=debug)]") for r in debug)
    assert "[debug(profile=debug)]" in html
    assert any(r["control"] == "IMG-01" and r["outcome"] == "failed" for r in debug)


@pytest.fixture(scope="module")
def features_stack(tmp_path_factory):
    """Our own copy of the features stack, every profile up; torn down afterwards."""
    directory = tmp_path_factory.mktemp("features") / "features"
    shutil.copytree(FEATURES, directory)
    project = f"passq-features-test-{os.getpid()}"
    with running(directory / "compose.yml", project, [], wait=()):
        yield project, directory / "compose.yml"


@live
def test_compose_features_cause_no_false_difference_and_the_same_verdicts(features_stack, tmp_path):
    """include, extends, merge keys, env_file, port ranges and the other port forms, the bare
    `no-new-privileges`, a disabled healthcheck, a profile service: run exactly as declared,
    CMP-01 passes for each service, and every declarable control gives the live verdict
    statically, but for what only one view holds (HRD-03: a kernel mount vs a declared one)."""
    project, compose_file = features_stack
    env = dict(os.environ)
    for name in ("PASSQ_FEATURES_IMAGE", "PASSQ_FEATURES_UID"):
        env.pop(name, None)
    run = audit("--stack", project, f"--compose-file={compose_file}", env=env,
                report_dir=tmp_path / "live")
    assert "Traceback" not in run.stdout + run.stderr
    live = json.loads((tmp_path / "live" / "compliance.json").read_text())["results"]
    assert {(r["service"], r["outcome"]) for r in live if r["control"] == "CMP-01"} == {
        ("web", "passed"), ("cache", "passed"), ("debug", "passed")}, \
        [r["evidence"] for r in live if r["control"] == "CMP-01"]
    audit("--static-only", f"--compose-file={compose_file}", env=env, report_dir=tmp_path / "static")
    static = json.loads((tmp_path / "static" / "compliance.json").read_text())["results"]

    def verdicts(results):
        return {(r["control"], r["service"]): r["outcome"] for r in results
                if r["service"] and controls.describe(r["control"]).static}

    assert verdicts(static) == verdicts(live)
    assert verdicts(live)[("HLT-01", "web")] == "failed"  # healthcheck: {disable: true}
    assert verdicts(live)[("NET-06", "web")] == "passed"  # a host port range above 1024
