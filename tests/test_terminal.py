"""The terminal (interface.md, "Terminal"): findings, not crashes, whole at any width (a CI
log's 80 columns) and as GitHub annotations; the closing table and gate."""

import json

import pytest

from compliance.outcomes import Result
from compliance.report import terminal
from tests.test_cli import STATIC, WEAK, command
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


# -- the terminal at 80 columns, and under GitHub Actions ----------------------------------------


@pytest.fixture(scope="module")
def weak_static(tmp_path_factory):
    """--static-only on the weak stack's compose file, under GitHub Actions, at 80 columns.
    pytest cuts its short summary only where it sees no CI (`CI`, `BUILD_NUMBER`): unset
    here, as on a CI system pytest does not know, so the cut line shows."""
    report_dir = tmp_path_factory.mktemp("weak") / "reports"
    done = command(*STATIC, report_dir=report_dir, GITHUB_ACTIONS="true", CI="", BUILD_NUMBER="")
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    refuted = [r for r in json.loads((report_dir / "compliance.json").read_text())["results"]
               if r["outcome"] in ("failed", "error")]
    assert len(refuted) > 20 and all(r["location"] for r in refuted)
    return done.stdout.splitlines(), refuted


def test_each_finding_is_one_whole_line_with_its_file_and_line_at_80_columns(weak_static):
    """pytest cuts its short summary at 80 columns (`FAILED compliance/checklist/...[api] - H...`);
    the audit's own section names every failure whole: file:line, control, service, message."""
    lines, refuted = weak_static
    for result in refuted:
        where = f"{result['location']['file']}:{result['location']['line']}"
        subject = result["service"] or "(stack)"
        assert (f"{where}: {result['control']} {subject}: {result['message']} "
                f"(evidence: {result['evidence']})") in lines, result
    assert any(line.startswith("FAILED ") and len(line) <= 80 and line.endswith("...") for line in lines)


def test_under_github_actions_each_finding_is_also_an_error_annotation(weak_static):
    lines, refuted = weak_static
    annotations = [line for line in lines if line.startswith("::error ")]
    assert len(annotations) == len(refuted)
    for result in refuted:
        head = (f"::error file={result['location']['file']},line={result['location']['line']},"
                f"title={result['control']} {result['service'] or '(stack)'}::")
        assert any(line.startswith(head) and result["message"] in line for line in annotations), head


def test_without_github_actions_no_annotation_is_printed(tmp_path):
    done = command(*STATIC, "-k", "image_pinned", report_dir=tmp_path)
    assert done.returncode == 1, done.stdout[-3000:]
    assert f"{WEAK}/compose.yml:20: IMG-01 web: should name an exact version tag" in done.stdout
    assert "::error" not in done.stdout


def result(**fields) -> Result:
    base = dict(control="HRD-06", service="api", container=None, nodeid="t", outcome="failed",
                evidence="CapDrop=[]", message="should drop 100% of a,b:\nc")
    return Result(**{**base, **fields})


def test_an_annotation_escapes_as_the_runner_unescapes():
    declared = result(location={"file": "deploy/a,b:c.yml", "line": 7})
    assert terminal.annotation(declared) == (
        "::error file=deploy/a%2Cb%3Ac.yml,line=7,title=HRD-06 api::"
        "should drop 100%25 of a,b: c (evidence: CapDrop=[])")
    assert terminal.annotation(result(service=None, outcome="error", message="no\rfact", evidence="")) == (
        "::error title=HRD-06 (stack)::could not evaluate: no fact")  # a live result: no file


def test_a_finding_line_keeps_every_word_on_one_line():
    assert terminal.finding(result(location={"file": "compose.yml", "line": 3})) == (
        "compose.yml:3: HRD-06 api: should drop 100% of a,b: c (evidence: CapDrop=[])")
    assert terminal.finding(result(outcome="error", message="could not evaluate web-1: removed",
                                   evidence="")) == "HRD-06 api: could not evaluate web-1: removed"


def test_annotations_with_a_file_come_first():
    """GitHub shows only a step's first ten error annotations on the files."""
    live, declared = result(), result(service="db", location={"file": "compose.yml", "line": 9})
    assert [line.split("::")[1] for line in terminal.annotations([live, declared, live])] == [
        "error file=compose.yml,line=9,title=HRD-06 db", "error title=HRD-06 api", "error title=HRD-06 api"]
