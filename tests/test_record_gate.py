"""The release gate without an engine: which results block at each --fail-on, over every
severity and outcome, and the verdict every report renders from the record.
tests/test_gate.py runs the same rules through live audits (exit status, -x, plain tests)."""

import io

import pytest

from compliance import controls
from compliance.audit import Audit
from compliance.outcomes import OUTCOMES
from compliance.report import json_report, sarif, terminal
from tests.conftest import PLUGIN_ARGS
from tests.records import make_record, result

# One catalog control of each severity.
OF_SEVERITY = {"low": "RES-03", "medium": "RES-01", "high": "HRD-01", "critical": "SEC-02"}
# --fail-on -> the severities whose unwaived failure fails the run (interface.md, "Exit status")
BLOCKING = {"low": {"low", "medium", "high", "critical"}, "medium": {"medium", "high", "critical"},
            "high": {"high", "critical"}, "critical": {"critical"}}


@pytest.mark.parametrize("fail_on", controls.SEVERITIES)
def test_errors_and_unwaived_failures_from_fail_on_upwards_block_nothing_else_does(pytester, fail_on):
    audit = Audit(pytester.parseconfig(*PLUGIN_ARGS, "--fail-on", fail_on))
    blocks, expected = {}, {}
    for severity, control in OF_SEVERITY.items():
        for outcome in OUTCOMES:
            audit.results = [result(control, outcome)]
            blocks[severity, outcome] = bool(audit.blocking_results())
            expected[severity, outcome] = outcome == "error" or (
                outcome == "failed" and severity in BLOCKING[fail_on])
    assert blocks == expected


def test_one_blocking_result_among_passes_blocks_the_run(pytester):
    audit = Audit(pytester.parseconfig(*PLUGIN_ARGS, "--fail-on", "high"))
    audit.results = [result("IMG-01", "passed"), result("RES-03", "failed"), result("HRD-01", "failed"),
                     result("SEC-02", "waived")]
    assert [r.control for r in audit.blocking_results()] == ["HRD-01"]


@pytest.mark.parametrize("passed", [True, False])
def test_the_json_the_sarif_and_the_terminal_show_the_records_verdict(pytester, passed):
    record = make_record([result("IMG-01", "passed"), result("RES-03", "failed")], passed=passed,
                         fail_on="medium")
    assert json_report.document(record)["gate"] == {"fail_on": "medium", "passed": passed}
    assert sarif.document(record)["runs"][0]["properties"]["gate"] == {"fail_on": "medium",
                                                                       "passed": passed}
    out = io.StringIO()
    terminal.summary(pytest.TerminalReporter(pytester.parseconfig(), file=out), record, "reports")
    verdict = "PASSED" if passed else "FAILED"
    assert out.getvalue().splitlines()[-1] == f"release gate (--fail-on medium): {verdict}"
