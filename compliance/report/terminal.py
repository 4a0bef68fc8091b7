"""The audit in the terminal: each finding as one line, and the closing table.

A compliance failure is a finding, not a crash of the suite: pytest shows the
control, the subject and the message with its evidence instead of stack
frames (the line starts with `lead`), unless the user asks for frames (--tb=long or
native, to debug the suite itself). The run ends with the audit's own section
(`summary`): every failure and error again, one whole line each with its
`file:line` (pytest cuts its short summary to the terminal's width, 80 columns
in a CI log, which may leave only the test's name), under GitHub Actions also
as workflow commands that annotate the file; then one table, each control's
outcomes by count, and the gate line. Everything is written through pytest's
own terminal reporter.
"""

import os
import shutil

import pytest

from compliance import controls
from compliance.outcomes import OUTCOMES
from compliance.report import views

FRAMES = ("long", "native")  # --tb styles that keep the traceback of a finding


def lead(control: str, service: str | None, project: str | None = None) -> str:
    """What a finding's line starts with: `HRD-04 sock`, or `NET-04 (stack)`; in a run of
    several projects led by the project's name: `HRD-02 api:db`, `NET-03 api:(stack)`."""
    return f"{control} {project + ':' if project else ''}{service or '(stack)'}"


def summary(terminalreporter, record, report_dir) -> None:
    tr = terminalreporter
    tr.write_sep("-", "passq-compliance")
    if record.failure:
        tr.write_line(f"NOT AUDITED: {record.failure}", red=True)
    for warning in record.warnings:
        tr.write_line(warning, red=warning.startswith("NOTHING RUNNING"),
                      yellow=not warning.startswith("NOTHING RUNNING"))
    tr.write_line(f"judged: {record.metadata['judged']}")
    tr.write_line(f"reports: {report_dir}/compliance.html, compliance.json, compliance.sarif, junit.xml")
    refuted = [r for r in record.results if r.outcome in views.REFUTED]
    for result in refuted:
        tr.write_line(finding(result), red=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in annotations(refuted):
            tr.write_line(line)  # no colour: the runner reads the line as written
    _table(tr, record.results)
    for project, results in views.by_project(record):
        counts = ", ".join(f"{n} {outcome}" for outcome, n in views.summary(results).items() if n)
        tr.write_line(f"project {project['name']}: {counts or 'no results'}",
                      red=any(r.outcome in views.REFUTED for r in results))
    verdict = "PASSED" if record.gate_passed else "FAILED"
    tr.write_line(f"release gate (--fail-on {record.fail_on}): {verdict}",
                  green=record.gate_passed, red=not record.gate_passed, bold=True)


def said(result) -> str:
    """A refuted result's message, with its evidence, on one line."""
    text = result.message
    if result.outcome == "error" and not text.startswith("could not evaluate"):
        text = f"could not evaluate: {text}"
    if result.evidence:
        text += f" (evidence: {result.evidence})"
    return " ".join(text.split())


def finding(result) -> str:
    """A failure or error as one line, never cut: `file:line: ` where the result has a
    location (a declared one), then control, service and message."""
    where = f"{result.location['file']}:{result.location['line']}: " if result.location else ""
    return f"{where}{lead(result.control, result.service, result.project)}: {said(result)}"


def annotations(results) -> list[str]:
    """The `::error` commands of `results`, those with a file first: GitHub shows only the
    first ten errors of a step on the files."""
    return [annotation(r) for r in sorted(results, key=lambda r: r.location is None)]


def annotation(result) -> str:
    """GitHub's `::error` workflow command for a failure or error: the runner shows it on the
    file's line in the pull request (a result without a location: in the run's summary).
    Escaped as the runner unescapes: %, CR and LF in the message; also `:` and `,` in a
    property's value."""
    properties = {"title": lead(result.control, result.service, result.project)}
    if result.location:
        properties = {"file": result.location["file"], "line": result.location["line"], **properties}
    listed = ",".join(f"{name}={_escape(str(value), in_property=True)}" for name, value in properties.items())
    return f"::error {listed}::{_escape(said(result))}"


def _escape(text: str, in_property: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if in_property else text


def _table(tr, results) -> None:
    """One row per evaluated control: its outcomes by count (zero as '-'), then its title,
    cut to the terminal's width."""
    if not results:
        return
    width = shutil.get_terminal_size().columns  # as pytest measures it: 80 when piped, or $COLUMNS

    def row(first, counts, last="", **markup):
        cells = " ".join(str(counts[o] or "-").rjust(len(o)) for o in OUTCOMES)
        tr.write_line(f"{first:<7} {cells}  {last}"[:width - 1].rstrip(), **markup)

    row("control", dict(zip(OUTCOMES, OUTCOMES, strict=True)), "title", bold=True)
    for control_id, counts in views.per_control(results):
        refuted = bool(counts["failed"] or counts["error"])
        row(control_id, counts, controls.CATALOG[control_id].title,
            red=refuted, green=not refuted and bool(counts["passed"]))
    row("total", views.summary(results), bold=True)


class QuietPasses:
    """Files each passed set-up or tear-down report without captured output under a
    category of its own (the hook `pytest_report_teststatus`: the empty one, which pytest
    counts nowhere and shows nowhere), then takes it out of the terminal reporter's `stats`
    as soon as it is filed. Nothing shows them, and pytest's failure summary scans the
    reports of that category once per failure (looking for tear-down output to print): on a
    large stack, every failure times every set-up and tear-down, the largest cost of the
    run (benchmarks/README.md)."""

    CATEGORY = ""  # pytest_report_teststatus: "the empty string" counts towards no total

    def __init__(self, reporter):
        self.reporter = reporter

    @staticmethod
    def _quiet(report) -> bool:
        return report.when in ("setup", "teardown") and report.passed and not report.sections

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report):
        if self._quiet(report):
            return self.CATEGORY, "", ""
        return None

    @pytest.hookimpl(trylast=True)  # after the terminal reporter has filed the report
    def pytest_runtest_logreport(self, report) -> None:
        if not self._quiet(report):
            return
        filed = self.reporter.stats.get(self.CATEGORY)
        if filed and filed[-1] is report:
            filed.pop()
