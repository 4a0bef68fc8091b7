"""The whole suite on the three fixture stacks, asserted per (control, service).

`hardened` and `passq-staging` pass every control; `weak` fails exactly where
the table in its README says, and nowhere else. Each run also proves that
none of weak's planted secret values reaches any output.
"""

import re
import subprocess

import pytest

from compliance import controls
from tests.live import ROOT, audit, stack_up

WEAK = ROOT / "fixtures" / "stacks" / "weak"
ROW = re.compile(r"^\| (?P<service>[\w-]+|\(stack\)) \|")
CONTROL = re.compile(r"\*\*([A-Z]{3}-\d\d)\*\*")


def readme_failures() -> set[tuple]:
    """(control, service) pairs the weak README's table names as failures."""
    failures = set()
    for line in (WEAK / "README.md").read_text().splitlines():
        row = ROW.match(line)
        if row and row["service"] != "service":
            service = None if row["service"] == "(stack)" else row["service"]
            failures |= {(control, service) for control in CONTROL.findall(line)}
    return failures


def planted_secrets() -> list[str]:
    text = "".join((WEAK / name).read_text() for name in ("compose.yml", "compose.drift.yml", "prepare"))
    return sorted(set(re.findall(r"weak-secret-[\w-]+", text)))


@pytest.fixture(scope="module")
def weak(docker_engine, tmp_path_factory):
    stack_up("weak")
    report_dir = tmp_path_factory.mktemp("weak")
    return audit("--stack", "weak", "--policy", "fixtures/stacks/weak/policy.yml",
                 "--compose-file", "fixtures/stacks/weak/compose.yml", "-vv", "-rA", "--tb=long",
                 report_dir=report_dir)


def test_weak_fails_exactly_where_its_readme_says(weak):
    expected = readme_failures()
    assert {control for control, _ in expected} == set(controls.CATALOG), "every control fails once"
    assert weak.where("failed") == expected


def test_weak_verdicts_are_proven_from_inside_where_the_engine_host_can_look(weak):
    """The kernel's view decides, and says so: mounts for HRD-02/HRD-03 (nothing written),
    the healthcheck's missing program for HLT-02."""
    evidence = {(r["control"], r["service"], r["test"].split("::")[-1].split("[")[0]): r["evidence"]
                for r in weak.results if r["service"]}
    assert "kernel mountinfo: root mount / overlay rw" in evidence[
        ("HRD-02", "web", "test_read_only_rootfs_live")]
    hrd03 = evidence[("HRD-03", "db", "test_writable_paths_tmpfs")]
    assert "/tmp: kernel mountinfo /tmp tmpfs" in hrd03 and "/var/run/postgresql: kernel" in hrd03
    assert "its program curl: not found in the container" in evidence[
        ("HLT-02", "sidecar", "test_running_and_healthy")]


def test_weak_errors_only_where_a_stopped_container_hides_its_processes(weak):
    # jobs has exited: no real uid (USR-01) and no process list (HRD-08) to judge
    assert weak.where("error") == {("USR-01", "jobs"), ("HRD-08", "jobs")}
    assert weak.returncode == 1


def test_weak_secrets_reach_no_output(weak):
    secrets = planted_secrets()
    assert len(secrets) >= 3
    outputs = {"terminal": weak.output, **{path.name: path.read_text() for path in
                                           weak.report_dir.iterdir() if path.is_file()}}
    assert set(outputs) >= {"compliance.html", "compliance.json", "compliance.sarif", "junit.xml"}
    leaks = {(secret, name) for secret in secrets for name, text in outputs.items() if secret in text}
    assert not leaks


@pytest.mark.parametrize("name, policy, not_applicable", [
    ("hardened", "fixtures/stacks/hardened/policy.yml", {("SEC-01", "web"), ("NET-05", None)}),
    ("passq-staging", "policies/passq.yml", {("SEC-01", "frontend")}),
])
def test_green_stacks_pass_every_control(docker_engine, name, policy, not_applicable, tmp_path):
    stack_up(name)
    trivy = tmp_path / "trivy"  # fresh clean scans of the fixture images
    subprocess.run([str(ROOT / "scripts" / "make-trivy-fixtures"), "--out", str(trivy)], check=True,
                   capture_output=True)
    run = audit("--stack", name, "--policy", policy,
                f"--compose-file=fixtures/stacks/{name}/compose.yml", f"--trivy-reports={trivy}",
                report_dir=tmp_path / "reports")
    outcomes = run.outcomes()
    assert {key for key, seen in outcomes.items() if seen != {"passed"}} == not_applicable, run.output
    assert all(outcomes[key] == {"skipped"} for key in not_applicable)
    assert {control for control, _ in outcomes} == set(controls.CATALOG)
    assert run.returncode == 0


def test_without_a_scan_img02_fails_with_the_command_and_the_scan_item_stays_unticked(docker_engine,
                                                                                     tmp_path):
    """What the demo does where trivy is not installed: nothing was scanned, so nothing ticks."""
    stack_up("passq-staging")
    empty = tmp_path / "trivy"
    empty.mkdir()
    run = audit("--stack", "passq-staging", "--policy", "policies/passq.yml", "--no-live",
                "--compose-file=fixtures/stacks/passq-staging/compose.yml", f"--trivy-reports={empty}",
                report_dir=tmp_path / "reports")
    assert run.returncode == 1
    img02 = [r for r in run.results if r["control"] == "IMG-02"]
    assert img02 and {r["outcome"] for r in img02} == {"failed"}
    assert all("`trivy image --format json --output " in r["message"] for r in img02), img02
    html = (run.report_dir / "compliance.html").read_text()
    assert '<li class="unticked"><span class="box">' in html
    assert re.search(r'<li class="unticked"><span class="box">[^<]*</span>Vulnerability scan completed', html)
