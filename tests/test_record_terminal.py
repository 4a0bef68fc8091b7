"""The closing table and gate line in the terminal, written from hand-made AuditRecords
through pytest's own terminal reporter (tests/test_terminal.py reads them after a live audit)."""

import io

import pytest

from compliance import controls
from compliance.report import terminal
from tests.records import STACK, make_record, result

HEADER = "control passed failed waived skipped error  title"


def title(control: str) -> str:
    return controls.CATALOG[control].title


def summary(config, record) -> list[str]:
    out = io.StringIO()
    terminal.summary(pytest.TerminalReporter(config, file=out), record, "reports")
    return out.getvalue().splitlines()


@pytest.fixture
def config(pytester, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # the width of a piped terminal, whatever this one's is
    return pytester.parseconfig()


def test_each_evaluated_control_in_catalog_order_with_its_outcomes_by_count(config):
    failed, error = result("USR-01", "failed", "db"), result("HRD-01", "error", "web")
    lines = summary(config, make_record([
        failed, result("IMG-01", "passed", "web"),
        result("IMG-01", "passed", "db"), result("USR-01", "waived", "web"),
        result("HLT-01", "skipped", "web"), error,
    ], passed=False, fail_on="high"))
    assert lines[0].strip("-").strip() == "passq-compliance"
    assert lines[1:3] == [f"judged: stack {STACK}",
                          "reports: reports/compliance.html, compliance.json, compliance.sarif, junit.xml"]
    # every failure and error whole, one line each (pytest's short summary cuts them)
    assert lines[3:5] == [terminal.finding(failed), terminal.finding(error)]
    assert lines[3].startswith("USR-01 db: should")
    assert lines[5:] == [
        HEADER,
        f"IMG-01       2      -      -       -     -  {title('IMG-01')}",
        f"USR-01       -      1      1       -     -  {title('USR-01')}",
        f"HRD-01       -      -      -       -     1  {title('HRD-01')}",
        f"HLT-01       -      -      -       1     -  {title('HLT-01')}",
        "total        2      1      1       1     1",
        "release gate (--fail-on high): FAILED",
    ]


def test_a_title_is_cut_to_the_terminals_width(config, monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")
    lines = summary(config, make_record([result("HRD-06", "passed")]))
    row = next(line for line in lines if line.startswith("HRD-06"))
    assert len(title("HRD-06")) > 20  # else nothing to cut
    assert len(row) == 49 and title("HRD-06").startswith(row.split("  ")[-1])


def test_why_nothing_was_audited_and_the_warnings_lead(config):
    lines = summary(config, make_record(
        [], failure="stack 'shop': Docker engine at unix:///x.sock is unreachable",
        warnings=("NOTHING RUNNING: all 2 containers of stack 'shop' are stopped",
                  "unused waiver RES-03 for cache (waivers.yml:4): matched no failure in this run")))
    assert lines[1:4] == ["NOT AUDITED: stack 'shop': Docker engine at unix:///x.sock is unreachable",
                          "NOTHING RUNNING: all 2 containers of stack 'shop' are stopped",
                          "unused waiver RES-03 for cache (waivers.yml:4): matched no failure in this run"]
    assert HEADER not in lines  # no table over no results
    assert lines[-1] == "release gate (--fail-on low): FAILED"
