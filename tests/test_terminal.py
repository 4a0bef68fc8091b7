"""The terminal (interface.md, "Terminal"): findings, not crashes; the closing table and gate."""

import pytest

from tests.test_gate import MODULE

FAILING = MODULE.format(control="HRD-04")  # IMG-01 passes, HRD-04 fails
FINDING = "HRD-04 web: should hold (evidence: Fact=false)"


@pytest.fixture(scope="module")
def project(make_stack):
    return make_stack({"web": {"user": "1000:1000"}})


def test_a_failure_reads_as_its_finding_in_the_failures_and_the_short_summary(audit, project):
    run = audit(project, FAILING, "-vv")  # -vv: pytest does not trim the short summary
    lines = run.outcome.stdout.lines
    assert FINDING in lines
    assert [line for line in lines if line.startswith("FAILED")] == [
        f"FAILED test_compliance.py::test_fails[web] - {FINDING}"]
    for frame in ("Traceback", "plugin.py:", "def test_fails", "ControlFailed", "compliance.o"):
        assert frame not in run.text()


def test_tb_long_still_shows_the_frames(audit, project):
    run = audit(project, FAILING, "--tb=long")
    assert f"E       compliance.outcomes.ControlFailed: {FINDING}" in run.outcome.stdout.lines
    assert "    def test_fails(container, verdict):" in run.outcome.stdout.lines


def test_the_run_ends_with_each_controls_outcomes_and_the_gate(audit, project):
    run = audit(project, FAILING)
    lines = run.outcome.stdout.lines
    start = lines.index("control passed failed waived skipped error  title")
    assert [line.split()[:6] for line in lines[start + 1:start + 4]] == [
        ["IMG-01", "1", "-", "-", "-", "-"], ["HRD-04", "-", "1", "-", "-", "-"],
        ["total", "1", "1", "-", "-", "-"]]
    assert lines[start + 1].endswith("Image reference is pinned")
    assert lines[start + 4] == "release gate (--fail-on low): FAILED"
    assert lines[start + 5].startswith("=") and "1 failed, 1 passed" in lines[start + 5]
