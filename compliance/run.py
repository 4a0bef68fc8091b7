"""One audit run as pytest sees it: the plugin object whose methods are the audit's hooks.

compliance/plugin.py registers one AuditRun per session, only when an audit is asked
for (as pytest-html registers its report object only with --html). It holds the run's
state (the Audit, the heap policy, pytest-html's report), so the hooks share nothing
through module globals. Its job is glue: parametrize the checklist over the subjects,
attach each test's control, turn each test's Finding into one Result and pytest's report
of it, and end with the gate and the reports. What a control decides lives in
compliance/checks, what a control is in compliance/controls, the inputs and the gate in
compliance/audit.
"""

import functools
from collections import Counter
from pathlib import Path

import pytest
from pytest_metadata.plugin import metadata_key

from compliance import controls
from compliance.audit import AUDIT, Audit
from compliance.heap import Heap
from compliance.items import CONTROL, CURRENT_TEST, FINDING, control_of, stack_of, subject, subject_of
from compliance.outcomes import ControlError, ControlFailed, Result, undecided, verdict
from compliance.report import html, outputs, scrub, terminal

COMPOSE_SUFFIXES = (".yml", ".yaml")
STACK_FIXTURES = {"container", "stack", "declared_service", "declared_stack", "secret_files"}


class AuditRun:
    """The hooks of one audit, and what they keep between them."""

    def __init__(self, config):
        self.config = config
        self.audit = config.stash[AUDIT] = Audit(config)
        self.heap = Heap()
        config.add_cleanup(self.heap.release)  # the session's last clean-up (heap.py)
        self.html_report = None  # pytest-html's report data, titled again at the end
        self.deselected: list[str] = []  # why tests were deselected, one line per reason
        outputs.configure(config)

    # -- collection --------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc):
        """One test per container (or declared service), the service as its id. Under
        --static-only the containers are the declared services. Both subjects are loaded
        before any id is made, so the redactor knows every secret first: a service named
        like a credential's value is redacted in every output alike."""
        names = set(metafunc.fixturenames)
        if not {"declared_service", "container", "host", "stack"} & names:
            return
        audit = self.audit
        declared = [s for stack in audit.declared_stacks() for s in stack.containers]
        stacks = audit.subject_stacks()
        if "declared_service" in names and declared:
            # without a model, deselected at collection (no --compose-file)
            metafunc.parametrize("declared_service", declared,
                                 ids=[audit.redact(s.test_id) for s in declared])
        containers = [c for stack in stacks for c in stack.containers]
        ids = [audit.redact(c.test_id) for c in containers]
        if "container" in names:
            metafunc.parametrize("container", containers, ids=ids)
        elif "host" in names and not self.config.getoption("static_only"):
            metafunc.parametrize("host", containers, ids=ids, indirect=True)  # the team's own tests
        elif "stack" in names and len(stacks) > 1:  # each project of a monorepo (--project)
            metafunc.parametrize("stack", stacks, ids=[audit.redact(s.project) for s in stacks])

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session):
        """Options that cannot audit anything stop the run before any input is loaded
        (Audit.scope_failure). A compose file given as a bare argument is a test path to
        pytest, which then reports it "not found" although it exists: say what was meant
        instead. (No test is YAML.)"""
        failure = self.audit.scope_failure()
        if failure:
            self._stop(failure)
        for arg in session.config.args:
            if Path(arg.split("::")[0]).suffix in COMPOSE_SUFFIXES:
                self._stop(f"{arg} is not a test path: pass a compose file as --compose-file {arg}")

    def _stop(self, failure: str):
        """End the run before any check, as one `ERROR:` line and exit 4; the reports say why."""
        self.audit.failure = failure
        raise pytest.UsageError(failure)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session, config, items):
        """Every compliance test has exactly one known control, whose severity and area
        become its markers; the team's own checks of every container count as OWN."""
        audit = self.audit
        if audit.failure:
            self._stop(audit.failure)
        audit.load_waivers()
        covered = set()
        marks_of = {}  # control id -> its severity and area markers, made once
        for item in items:
            marks = list(item.iter_markers("control"))
            names = set(getattr(item, "fixturenames", ()))
            if not marks and "host" in names:  # the team's own check of every container
                item.stash[CONTROL] = controls.OWN.id
                item.add_marker(f"severity_{controls.OWN.severity}")
                audit.candidates += 1
                continue
            if not marks and not STACK_FIXTURES & names:
                continue
            audit.candidates += 1
            if len(marks) != 1 or len(marks[0].args) != 1:
                self._stop(f"{item.nodeid}: a compliance test needs exactly one @pytest.mark.control(ID)")
            control = controls.CATALOG.get(marks[0].args[0])
            if control is None:
                self._stop(f"{item.nodeid}: unknown control {marks[0].args[0]!r}")
            if item.get_closest_marker("xfail") is not None:
                self._stop(f"{item.nodeid}: a compliance test is not xfail-marked: waive a failure "
                           "in the waiver file (--waivers), which names who approved it and until when")
            covered.add(control.id)
            item.stash[CONTROL] = control.id
            item.repr_failure = functools.partial(_repr_finding, item, item.repr_failure)
            if control.id not in marks_of:
                marks_of[control.id] = (getattr(pytest.mark, f"severity_{control.severity}"),
                                        getattr(pytest.mark, f"area_{control.area}"))
            for mark in marks_of[control.id]:
                item.add_marker(mark)
        self._deselect_unreachable(items)
        missing = sorted(set(controls.CATALOG) - covered)
        if config.getini("compliance_require_full_catalog") and missing:
            self._stop(f"catalog controls without a test: {', '.join(missing)}")

    def _deselect_unreachable(self, items) -> None:
        """Without an engine (--static-only) only the controls the declaration can settle
        run (`Control.static`), each on the declared services; the others, and a test that
        reads the live probes (`live`), need the running stack and cannot. Without
        --compose-file there are no declared services. Deselect them, counted."""
        static, declared = self.config.getoption("static_only"), self.config.getoption("compose_file")
        reasons, kept, dropped = Counter(), [], []
        for item in items:
            names = set(getattr(item, "fixturenames", ()))
            control = control_of(item)
            if static and control and ("live" in names or not controls.describe(control).static):
                reason = "--static-only: tests that need the running stack"
            elif static and "declared_service" in names:
                reason = "--static-only: declared-only tests (the declared services are the containers)"
            elif not declared and "declared_service" in names:
                reason = "no --compose-file: checks of declared services"
            else:
                kept.append(item)
                continue
            reasons[reason] += 1
            dropped.append(item)
        if dropped:
            self.config.hook.pytest_deselected(items=dropped)
            items[:] = kept
        self.deselected = [f"{reason}: {n} deselected" for reason, n in reasons.items()]

    def pytest_collection_finish(self, session):
        """A session without compliance tests is no audit: it writes no reports. One whose
        compliance tests were all deselected (`-k` or `-m` matching none) audited nothing:
        an error, not pytest's "no tests ran"."""
        audit = self.audit
        audit.collected = sum(control_of(item) is not None for item in session.items)
        audit.redact = audit.redact.protect(item.nodeid for item in session.items)  # names, never hidden
        if audit.candidates and not audit.collected and not self.config.getoption("collectonly"):
            chosen = [f"{flag} {value!r}" for flag, value in
                      (("-k", self.config.getoption("keyword")),
                       ("-m", self.config.getoption("markexpr"))) if value]
            self._stop(f"nothing to audit: {' and '.join(chosen) or 'the options'} deselected every "
                       f"one of the {audit.candidates} compliance tests")
        if not audit.active:
            outputs.release(self.config)

    def pytest_report_collectionfinish(self, config):
        return [f"passq-compliance: {line}" for line in self.deselected]

    # -- each test: its Finding, its Result, pytest's report of it -----------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        """The test being run is named for `verdict`, and in junit.xml by its control too
        (outputs.name_testcase). A container removed, recreated or reconfigured since the
        snapshot cannot be judged from it: its remaining controls are errors with the
        reason, never passes."""
        self.config.stash[CURRENT_TEST] = item
        control = control_of(item)
        if control is None:
            return
        outputs.name_testcase(item, control)
        container = subject_of(item, declared=False)
        if container is None or control == controls.OWN.id:
            return
        reason = None if _judged_by_its_task(container, control) else container.unavailable
        reason = reason or self.audit.changed(container)
        if reason:
            finding = undecided(reason, f"container {container.name}").redacted(self.audit.redact)
            item.stash[FINDING] = finding
            verdict(finding, terminal.lead(control, self.audit.redact(container.service)))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item, nextitem):
        """One more test done, counted by the heap policy (heap.py)."""
        if self.audit.active:
            self.heap.test_done()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        """The test's Result, from its Finding (or, where no check reported one, what
        pytest saw), with its waiver settled; pytest's report then says the same: a waived
        failure is an accepted one (pytest's `xfailed`), a finding reads as itself."""
        report = yield
        control = control_of(item)
        if control is None or (report.passed and report.when != "call"):
            return report
        audit = self.audit
        finding = item.stash.get(FINDING, None)
        service, container = subject(item)
        judged = subject_of(item) or stack_of(item)
        result = audit.keep(service=service, result=Result(
            control=control,
            service=audit.redact(service) if service else None,
            container=audit.redact(container) if container else None,
            nodeid=report.nodeid,
            outcome=_outcome(finding, report, call, own=control == controls.OWN.id),
            evidence=finding.evidence if finding else "",
            message=finding.message if finding else audit.redact(_reason(report, call)),
            duration_s=round(report.duration, 4),
            location=({"file": finding.location.file, "line": finding.location.line}
                      if finding and finding.location else audit.location(judged, control)),
            node=getattr(judged, "node", None) or None,
            remediation=finding.remediation if finding else "",
            project=getattr(judged, "project", None),
        ))
        if finding is not None and _reads_as_finding(item, call.excinfo):
            report.longrepr = str(call.excinfo.value)  # a set-up error too, not only the call's
        if result.outcome == "waived":
            waiver = result.waiver
            report.outcome = "skipped"
            report.wasxfail = (f"waived until {waiver['expires']} by {waiver['approved_by']}: "
                               f"{waiver['reason']}")
        scrub.scrub(report, audit.redact)
        self._describe(item, report, result)
        return report

    def _describe(self, item, report, result) -> None:
        """What the other reports read of a result: its properties (junit.xml's), its
        outcome and waiver for the terminal, and the record pytest-html's row renders."""
        waiver_status = result.waiver["status"] if result.waiver else ""
        properties = [("control", result.control), ("outcome", result.outcome),
                      ("service", result.service or ""), ("evidence", result.evidence),
                      ("waiver", waiver_status)]
        item.user_properties += properties  # junitxml writes the teardown report's copy
        report.user_properties += properties
        report.compliance_outcome = result.outcome
        report.compliance_waiver = waiver_status
        report.compliance_entry = html.entry(result, self.audit.redact)  # plain data
        report.extras = [*getattr(report, "extras", []), *html.entry_extras(report.compliance_entry)]

    def pytest_runtest_logreport(self, report):
        """A failure outside the compliance results (a test of the team's own that is no
        check of a container, a fixture's crash) keeps the gate shut."""
        if report.failed and not hasattr(report, "compliance_outcome"):
            self.audit.other_failures += 1

    def pytest_report_teststatus(self, report, config):
        outcome = getattr(report, "compliance_outcome", None)
        if outcome == "error" and report.when == "call":
            return "error", "E", "ERROR"
        if outcome == "waived":
            return "waived", "w", "WAIVED"
        if getattr(report, "compliance_waiver", "") == "stale" and report.when == "call":
            return "stale waiver", "S", ("STALE WAIVER", {"yellow": True})
        return None

    # -- the end: the gate and the reports -----------------------------------------------

    def pytest_sessionstart(self, session):
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            self.config.pluginmanager.register(terminal.QuietPasses(reporter), "passq-quiet-passes")

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        """The gate: only unwaived failures at or above --fail-on, and errors, fail the run
        (Audit.gate). The run's record is frozen first, so pytest-html's page (written in
        its own session finish) renders it too; then the exit status and the other
        reports, which never claim a pass for a run without results."""
        audit = self.audit
        audit.close()
        if session.exitstatus == pytest.ExitCode.INTERNAL_ERROR and audit.failure is None:
            audit.failure = "internal error of the suite (its traceback is in the output)"
        if audit.failure is not None:
            self._report_failure(audit.failure)
        if audit.active:
            record = audit.conclude(session)
            if self.html_report is not None:
                html.report_title(self.html_report, record)
        result = yield
        if audit.active:
            if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
                session.exitstatus = pytest.ExitCode.OK if audit.passed else pytest.ExitCode.TESTS_FAILED
            audit.write_reports(Path(self.config.getoption("report_dir")))
        return result

    def _report_failure(self, failure: str) -> None:
        """A run that audited nothing says so in junit.xml and compliance.html too, as the
        error of a collector named `passq-compliance` (pytest's own way of reporting a run
        that could not collect), never as "0 tests". Not to the terminal, which already ends
        with the one `ERROR:` line."""
        report = pytest.CollectReport("passq-compliance", "failed", failure, [])
        terminal_reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        others = self.config.pluginmanager.subset_hook_caller(
            "pytest_collectreport", [terminal_reporter] if terminal_reporter else [])
        others(report=report)

    @pytest.hookimpl(tryfirst=True)  # before pytest's own collections for unraisable exceptions
    def pytest_unconfigure(self, config):
        """The audit is over: what it kept is frozen out of the cycle collector (heap.py)."""
        if self.audit.active:
            Heap.run_over()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter, config):
        """Around pytest's own summary, so the run ends with the audit's table and gate line
        (after the short test summary)."""
        result = yield
        if self.audit.active and self.audit.concluded is not None:
            terminal.summary(terminalreporter, self.audit.concluded, config.getoption("report_dir"))
        return result

    # -- compliance.html through pytest-html (compliance/report/html.py) -----------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report):
        self.html_report = report  # titled again once the record exists
        html.report_title(report, None)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix, summary, postfix, session):
        if self.audit.concluded is not None:
            html.results_summary(prefix, self.audit.concluded, self.config.stash[metadata_key])

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells):
        html.results_table_header(cells)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report, cells):
        html.results_table_row(report, cells)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_html(self, report, data):
        html.results_table_html(report, data)


def _judged_by_its_task(subject, control: str) -> bool:
    """A swarm task that is not running fails HLT-02 by its state, which the manager knows
    even when its container cannot be inspected."""
    task = subject.attrs.get("Task") or {}
    return control == "HLT-02" and bool(task) and task.get("State") != "running"


def _reads_as_finding(item, excinfo) -> bool:
    """A failed or undecided control reads as its finding, in the failure section and in
    the short summary alike (pytest prints a string longrepr as it is); frames only with
    --tb=long or native."""
    return (excinfo is not None and excinfo.errisinstance((ControlFailed, ControlError))
            and item.config.option.tbstyle not in terminal.FRAMES)


def _repr_finding(item, repr_failure, excinfo, *args, **kwargs):
    """A failing check's representation, asked of the item (`repr_failure`): its finding's
    text, which already leads with control and subject. Without this pytest would first
    format every frame of the traceback only to have it dropped (the largest share of a big
    stack's audit, benchmarks/README.md)."""
    if _reads_as_finding(item, excinfo):
        return str(excinfo.value)
    return repr_failure(excinfo, *args, **kwargs)


def _outcome(finding, report, call, own: bool = False) -> str:
    """The evaluation's outcome before its waiver: the Finding's, when the check reported
    one (or set-up did, for a container that changed); else what pytest saw of a test
    that reported none: a skip (--no-live), the team's own assertion, or an error."""
    raised = call.excinfo
    if finding is not None and (raised is None or raised.errisinstance(
            (ControlFailed, ControlError, pytest.skip.Exception))):
        return finding.outcome
    if report.passed or report.skipped:
        return report.outcome
    if own and report.when == "call" and raised.errisinstance(AssertionError):
        return "failed"  # the team's own check asserts: its assertion failed
    return "error"


def _reason(report, call) -> str:
    """What a test without a Finding said: a skip's reason, the team's assertion, or the
    error."""
    if call.excinfo is None:
        return ""
    if call.excinfo.errisinstance(AssertionError):
        said = str(call.excinfo.value)
        return said.splitlines()[0][:500] if said else "assertion failed"
    if report.skipped:
        return str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
    return f"{call.excinfo.typename}: {call.excinfo.value}"[:500]
