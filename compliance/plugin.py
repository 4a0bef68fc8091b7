"""The pytest plugin: options, the one snapshot, parametrization, outcomes, the gate.

Hooks only (the audit's fixtures are compliance/fixtures.py); what a control decides
lives in compliance/checks, what a control is lives in compliance/controls.

Installed, the plugin loads with every pytest run of the environment. Like pytest-html
without --html it does nothing unless an audit is asked for: --stack, --static-only,
--compose-file, or the ini setting `compliance_audit` (this repository's pytest.ini and
the passq-compliance command's audit.ini). Otherwise it only adds its options and
markers and steps aside: no policy is read, no report written, testinfra's `host` stays
testinfra's, and none of its hooks or fixtures run.
"""

import functools
import itertools
import sys
from collections import Counter
from pathlib import Path

import pytest
from pytest_metadata.plugin import metadata_key

from compliance import controls, fixtures, hosts
from compliance.audit import AUDIT, Audit
from compliance.heap import Heap
from compliance.items import CURRENT_TEST, FINDING, OWN, control_of, subject, subject_of
from compliance.outcomes import ControlError, ControlFailed, Result
from compliance.report import html, outputs, scrub, terminal
from compliance.sources import probes

HTML_REPORT = pytest.StashKey[object]()  # pytest-html's report data, to title it at the end
HEAP = pytest.StashKey[Heap]()
PATH_OPTIONS = ("--report-dir", "--policy", "--waivers", "--trivy-reports", "--compose-file")


def pytest_addoption(parser):
    group = parser.getgroup("compliance", "passq-compliance")
    group.addoption("--stack", metavar="NAME",
                    help="compose project to audit (default: the policy's `stack`)")
    group.addoption("--compose-file", action="append", default=[], metavar="PATH",
                    help="declared compose file (repeatable)")
    group.addoption("--policy", metavar="PATH", help="policy file (default: PassQ's, policies/passq.yml)")
    group.addoption("--waivers", metavar="PATH", help="waiver file")
    group.addoption("--trivy-reports", metavar="DIR", help="directory of Trivy JSON reports")
    group.addoption("--docker-host", metavar="URL",
                    help="engine to audit (default: DOCKER_HOST, else the local socket)")
    group.addoption("--fail-on", choices=controls.SEVERITIES, default="low",
                    help="lowest severity whose unwaived failure fails the run (default: low)")
    group.addoption("--report-dir", metavar="DIR", default="reports",
                    help="where the reports go (default: reports/)")
    group.addoption("--no-live", action="store_true",
                    help="skip the live probes (they report `skipped`); no probe container is "
                         "started, so a tcp:// engine's host is not looked at either")
    group.addoption("--probe-image", metavar="IMAGE", default=probes.PROBE_IMAGE,
                    help="image of the live probe containers: a busybox with sh, nc, timeout, "
                         f"dd, od (default: {probes.PROBE_IMAGE})")
    group.addoption("--static-only", action="store_true",
                    help="audit only the declared config: the --compose-file files (required) "
                         "and the secret files they and the policy name; never connect to the "
                         "engine (the pull-request gate)")
    group.addoption("--swarm", action="store_true",
                    help="the stack is a swarm stack (docker stack deploy); detected when --stack names "
                         "no compose project and the engine is a swarm manager")
    group.addoption("--node-engine", action="append", default=[], metavar="NODE=URL",
                    help="the engine of a swarm node (hostname or node ID), for its tasks' containers "
                         "(repeatable; also the policy's swarm.nodes)")
    group.addoption("--scan", action="store_true",
                    help="where a trivy binary is on PATH, scan the running images into the "
                         "reports directory first (offline, its DB must be cached)")
    parser.addini("compliance_audit", type="bool", default=False,
                  help="run an audit without --stack, --static-only or --compose-file "
                       "(the policy's stack)")
    parser.addini("compliance_policy", "default policy file", default="policies/passq.yml")
    parser.addini("compliance_require_full_catalog", type="bool", default=False,
                  help="fail collection unless every catalog control has a test")


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-html read their paths
def pytest_configure(config):
    _refuse_a_misread_rootdir(config)
    config.addinivalue_line("markers", "control(id): the catalog control this test evaluates")
    for severity in controls.SEVERITIES:
        config.addinivalue_line("markers", f"severity_{severity}: controls of severity {severity}")
    for area in sorted({c.area for c in controls.CATALOG.values()}):
        config.addinivalue_line("markers", f"area_{area}: controls of area {area.upper()}")
    if not audit_asked(config):
        config.pluginmanager.unregister(sys.modules[__name__])  # none of its hooks run
        return
    outputs.configure(config)
    config.stash[AUDIT] = Audit(config)
    config.stash[HEAP] = Heap()
    config.add_cleanup(config.stash[HEAP].release)  # the session's last clean-up (heap.py)
    if not config.pluginmanager.is_registered(fixtures):
        config.pluginmanager.register(fixtures, "passq-compliance-fixtures")
    # After testinfra's own plugin, so that `host` means a container of the audited stack.
    if not config.pluginmanager.is_registered(hosts):
        config.pluginmanager.register(hosts, "passq-compliance-hosts")


def audit_asked(config) -> bool:
    """Whether this run is an audit: an audit option, or the ini setting says so."""
    return bool(config.getoption("stack") or config.getoption("static_only")
                or config.getoption("compose_file") or config.getini("compliance_audit"))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """One more test done, counted by the heap policy (heap.py)."""
    if item.config.stash[AUDIT].active:
        item.config.stash[HEAP].test_done()


@pytest.hookimpl(tryfirst=True)  # before pytest's own collections for unraisable exceptions
def pytest_unconfigure(config):
    """The audit is over: what it kept is frozen out of the cycle collector (heap.py)."""
    audit = config.stash.get(AUDIT, None)
    if audit is not None and audit.active:
        Heap.run_over()


def _refuse_a_misread_rootdir(config) -> None:
    """pytest picks its rootdir and ini file before plugins load, so it takes the value of
    `--report-dir /elsewhere` for a test path: rooted there, the project's pytest.ini is
    silently lost and the wrong tests are collected. Say so instead of auditing the wrong thing."""
    if config.inipath is not None or config.rootpath == config.invocation_params.dir:
        return
    for option, value in itertools.pairwise(config.invocation_params.args):
        path = Path(config.invocation_params.dir, value)
        if option in PATH_OPTIONS and (path == config.rootpath or config.rootpath in path.parents):
            raise pytest.UsageError(
                f"pytest read `{option} {value}` as a test path and lost its configuration "
                f"(no pytest.ini found from {config.rootpath}; the passq-compliance command takes "
                f"either form); write {option}={value}")


DESELECTED = pytest.StashKey[list]()


def pytest_generate_tests(metafunc):
    """One test per container (or declared service), the service as its id. Under
    --static-only the containers are the declared services. Both subjects are loaded before
    any id is made, so the redactor knows every secret first: a service named like a
    credential's value is redacted in every output alike."""
    audit = metafunc.config.stash[AUDIT]
    static = metafunc.config.getoption("static_only")
    if not {"declared_service", "container", "host"} & set(metafunc.fixturenames):
        return
    declared = audit.declared_stack()
    stack = audit.subjects()
    if "declared_service" in metafunc.fixturenames and declared is not None:
        # without a model, deselected at collection (no --compose-file)
        services = list(declared.containers)
        metafunc.parametrize("declared_service", services, ids=[audit.redact(s.test_id) for s in services])
    containers = stack.containers if stack else []
    ids = [audit.redact(c.test_id) for c in containers]
    if "container" in metafunc.fixturenames:
        metafunc.parametrize("container", containers, ids=ids)
    elif "host" in metafunc.fixturenames and not static:  # the team's own testinfra tests
        metafunc.parametrize("host", containers, ids=ids, indirect=True)


COMPOSE_SUFFIXES = (".yml", ".yaml")


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session):
    """A compose file given as a bare argument is a test path to pytest, which then reports
    it "not found" although it exists: say what was meant instead. (No test is YAML.)"""
    for arg in session.config.args:
        if Path(arg.split("::")[0]).suffix in COMPOSE_SUFFIXES:
            _stop(session.config, f"{arg} is not a test path: pass a compose file as "
                                  f"--compose-file {arg}")


def _stop(config, failure: str):
    """End the run before any check, as one `ERROR:` line and exit 4; the reports say why."""
    config.stash[AUDIT].failure = failure
    raise pytest.UsageError(failure)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    audit = config.stash[AUDIT]
    failure = audit.failure or audit.static_scope_failure()
    if failure:
        _stop(config, failure)
    covered = set()
    marks_of = {}  # control id -> its severity and area markers, made once
    for item in items:
        marks = list(item.iter_markers("control"))
        names = set(getattr(item, "fixturenames", ()))
        if not marks and "host" in names:  # the team's own check of every container
            item.stash[OWN] = True
            item.add_marker(f"severity_{controls.OWN.severity}")
            audit.candidates += 1
            continue
        uses_stack = {"container", "stack", "declared_service", "declared_stack",
                      "secret_files"} & names
        if not marks and not uses_stack:
            continue
        audit.candidates += 1
        if len(marks) != 1 or len(marks[0].args) != 1:
            raise pytest.UsageError(f"{item.nodeid}: a compliance test needs exactly one "
                                    "@pytest.mark.control(ID)")
        control = controls.CATALOG.get(marks[0].args[0])
        if control is None:
            raise pytest.UsageError(f"{item.nodeid}: unknown control {marks[0].args[0]!r}")
        covered.add(control.id)
        item.repr_failure = functools.partial(_repr_finding, item, item.repr_failure)
        if control.id not in marks_of:
            marks_of[control.id] = (getattr(pytest.mark, f"severity_{control.severity}"),
                                    getattr(pytest.mark, f"area_{control.area}"))
        for mark in marks_of[control.id]:
            item.add_marker(mark)
        audit.apply_waiver(item, control)
    _deselect_unreachable(config, items)
    missing = sorted(set(controls.CATALOG) - covered)
    if config.getini("compliance_require_full_catalog") and missing:
        raise pytest.UsageError(f"catalog controls without a test: {', '.join(missing)}")


def _deselect_unreachable(config, items) -> None:
    """Without an engine (--static-only) only the controls the declaration can settle run
    (`Control.static`), each on the declared services; the others, and a test that reads the
    live probes (`live`), need the running stack and cannot. Without --compose-file there are
    no declared services. Deselect them, counted."""
    static, declared = config.getoption("static_only"), config.getoption("compose_file")
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
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    config.stash[DESELECTED] = [f"{reason}: {n} deselected" for reason, n in reasons.items()]


def pytest_collection_finish(session):
    """A session without compliance tests is no audit: it writes no reports. One whose
    compliance tests were all deselected (`-k` or `-m` matching none) audited nothing:
    an error, not pytest's "no tests ran"."""
    config = session.config
    audit = config.stash[AUDIT]
    audit.collected = sum(control_of(item) is not None for item in session.items)
    audit.redact = audit.redact.protect(item.nodeid for item in session.items)  # names, never hidden
    if audit.candidates and not audit.collected and not config.getoption("collectonly"):
        chosen = [f"{flag} {value!r}" for flag, value in
                  (("-k", config.getoption("keyword")), ("-m", config.getoption("markexpr"))) if value]
        _stop(config, f"nothing to audit: {' and '.join(chosen) or 'the options'} deselected every "
                      f"one of the {audit.candidates} compliance tests")
    if not audit.active:
        outputs.release(config)


def pytest_report_collectionfinish(config):
    return [f"passq-compliance: {line}" for line in config.stash.get(DESELECTED, [])]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """The test being run is named for `verdict`, and in junit.xml by its control too
    (outputs.name_testcase). A container removed, recreated or reconfigured since the
    snapshot cannot be judged from it: its remaining controls are errors with the reason,
    never passes."""
    item.config.stash[CURRENT_TEST] = item
    control = control_of(item)
    if control is not None:
        outputs.name_testcase(item, control)
    container = subject_of(item, declared=False)
    mark = item.get_closest_marker("control")
    if container is not None and mark is not None:
        if container.unavailable and not _judged_by_its_task(container, mark.args[0]):
            raise ControlError(f"could not evaluate {container.name}: {container.unavailable}")
        changed = item.config.stash[AUDIT].changed(container)
        if changed:
            raise ControlError(f"could not evaluate {container.name}: {changed}")


def _judged_by_its_task(subject, control: str) -> bool:
    """A swarm task that is not running fails HLT-02 by its state, which the manager knows
    even when its container cannot be inspected."""
    task = subject.attrs.get("Task") or {}
    return control == "HLT-02" and bool(task) and task.get("State") != "running"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when != "call" and not report.failed and not report.skipped:
        return report
    control = control_of(item)
    if control is None:
        return report
    if report.when == "teardown" and not report.failed:
        return report
    audit = item.config.stash[AUDIT]
    service, container = subject(item)
    finding = item.stash.get(FINDING, None)
    outcome = _outcome(report, call, own=control == controls.OWN.id)
    evidence = finding.evidence if finding else ""
    message = finding.message if finding else audit.redact(_reason(report, call))
    result = Result(
        control=control,
        service=audit.redact(service) if service else None,
        container=audit.redact(container) if container else None,
        nodeid=report.nodeid, outcome=outcome, evidence=evidence, message=message,
        waiver=audit.waiver_for(item), duration_s=round(report.duration, 4),
        location=({"file": finding.location.file, "line": finding.location.line}
                  if finding and finding.location else audit.location(subject_of(item), control)),
        node=getattr(subject_of(item), "node", None) or None,
        remediation=finding.remediation if finding else "",
    )
    _finding_not_frames(item, call, report, finding)
    scrub.scrub(report, audit.redact)
    result = audit.record(result)
    waiver_status = result.waiver["status"] if result.waiver else ""
    properties = [("control", result.control), ("outcome", outcome),
                  ("service", result.service or ""), ("evidence", evidence),
                  ("waiver", waiver_status)]
    item.user_properties += properties  # junitxml writes the teardown report's copy
    report.user_properties += properties
    report.compliance_outcome = outcome
    report.compliance_waiver = waiver_status
    report.compliance_record = html.record(result, audit.redact)  # plain data: xdist-safe
    report.extras = [*getattr(report, "extras", []), *html.record_extras(report.compliance_record)]
    return report


def _reads_as_finding(item, excinfo) -> bool:
    """A failed or undecided control reads as its finding, in the failure section and in
    the short summary alike (pytest prints a string longrepr as it is); frames only with
    --tb=long or native."""
    return (excinfo is not None and excinfo.errisinstance((ControlFailed, ControlError))
            and item.config.option.tbstyle not in terminal.FRAMES)


def _repr_finding(item, repr_failure, excinfo, *args, **kwargs):
    """A failing check's representation, asked of the item (`repr_failure`): its finding's
    text, which already leads with control and subject. Without this pytest would first
    format every frame of the traceback only to have it dropped (about 2.5 ms a failure,
    the largest share of a big stack's audit)."""
    if _reads_as_finding(item, excinfo):
        return str(excinfo.value)
    return repr_failure(excinfo, *args, **kwargs)


def _finding_not_frames(item, call, report, finding) -> None:
    """An error raised before the check ran (the container changed, in set-up) has no
    finding and is not the item's `repr_failure`: it reads as one, led by control and
    subject."""
    if finding is None and _reads_as_finding(item, call.excinfo):
        service, _ = subject(item)
        report.longrepr = f"{terminal.lead(control_of(item), service)}: {call.excinfo.value}"


def _outcome(report, call, own: bool = False) -> str:
    if hasattr(report, "wasxfail"):  # a waiver's xfail: it waived the failure, or the check passed
        return "waived" if report.skipped else "passed"
    if report.passed:
        return "passed"
    if report.skipped:
        return "skipped"
    if report.when == "call" and call.excinfo is None:
        return "passed"  # strict XPASS: the waived control passed (a stale waiver)
    if report.when == "call" and call.excinfo and call.excinfo.errisinstance(ControlFailed):
        return "failed"
    if own and report.when == "call" and call.excinfo and call.excinfo.errisinstance(AssertionError):
        return "failed"  # the team's own check asserts: its assertion failed
    return "error"


def _reason(report, call) -> str:
    if call.excinfo is None:
        return getattr(report, "wasxfail", "") or ""
    if call.excinfo.errisinstance((ControlFailed, ControlError)):
        return str(call.excinfo.value)
    if call.excinfo.errisinstance(AssertionError):
        said = str(call.excinfo.value)
        return said.splitlines()[0][:500] if said else "assertion failed"
    if report.skipped:
        return str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
    return f"{call.excinfo.typename}: {call.excinfo.value}"[:500]


def pytest_sessionstart(session):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        session.config.pluginmanager.register(terminal.QuietPasses(reporter), "passq-quiet-passes")


def pytest_report_teststatus(report, config):
    outcome = getattr(report, "compliance_outcome", None)
    if outcome == "error" and report.when == "call":
        return "error", "E", "ERROR"
    if outcome == "waived":
        return "waived", "w", "WAIVED"
    if getattr(report, "compliance_waiver", "") == "stale" and report.when == "call":
        return "stale waiver", "S", ("STALE WAIVER", {"yellow": True})
    return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """The gate: only unwaived failures at or above --fail-on, and errors, fail the run
    (Audit.gate). The run's record is frozen first, so pytest-html's page (written in its
    own session finish) renders it too; then the exit status and the other reports, which
    never claim a pass for a run without results."""
    audit = session.config.stash[AUDIT]
    audit.close()
    if session.exitstatus == pytest.ExitCode.INTERNAL_ERROR and audit.failure is None:
        audit.failure = "internal error of the suite (its traceback is in the output)"
    if audit.failure is not None:
        _report_failure(session.config, audit.failure)
    if audit.active:
        record = audit.conclude(session)
        if HTML_REPORT in session.config.stash:
            html.report_title(session.config.stash[HTML_REPORT], record)
    result = yield
    if audit.active:
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.OK if audit.passed else pytest.ExitCode.TESTS_FAILED
        audit.write_reports(Path(session.config.getoption("report_dir")))
    return result


def _report_failure(config, failure: str) -> None:
    """A run that audited nothing says so in junit.xml and compliance.html too, as the error
    of a collector named `passq-compliance` (pytest's own way of reporting a run that could
    not collect), never as "0 tests". Not to the terminal, which already ends with the
    one `ERROR:` line."""
    report = pytest.CollectReport("passq-compliance", "failed", failure, [])
    terminal_reporter = config.pluginmanager.get_plugin("terminalreporter")
    others = config.pluginmanager.subset_hook_caller(
        "pytest_collectreport", [terminal_reporter] if terminal_reporter else [])
    others(report=report)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, config):
    """Around pytest's own summary, so the run ends with the audit's table and gate line
    (after the short test summary)."""
    result = yield
    audit = config.stash[AUDIT]
    if audit.active and audit.concluded is not None:
        terminal.summary(terminalreporter, audit.concluded, config.getoption("report_dir"))
    return result


# -- compliance.html through pytest-html (compliance/report/html.py) ------------

@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report):
    report.config.stash[HTML_REPORT] = report  # titled again once the record exists
    html.report_title(report, None)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix, summary, postfix, session):
    record = session.config.stash[AUDIT].concluded
    if record is not None:
        html.results_summary(prefix, record, session.config.stash[metadata_key])


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells):
    html.results_table_header(cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells):
    html.results_table_row(report, cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report, data):
    html.results_table_html(report, data)
