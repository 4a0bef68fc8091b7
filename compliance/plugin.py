"""The pytest plugin: options, the one inventory, parametrization, outcomes, the gate.

Hooks and fixtures only; what a control decides lives in compliance/checks,
what a control is lives in compliance/controls.
"""

import time
from pathlib import Path

import pytest

from compliance import controls, outcomes
from compliance.audit import Audit
from compliance.outcomes import ControlError, ControlFailed, Result

AUDIT = pytest.StashKey[Audit]()
FINDING = pytest.StashKey[object]()
SEVERITY_RANK = {s: i for i, s in enumerate(controls.SEVERITIES)}


def pytest_addoption(parser):
    group = parser.getgroup("compliance", "passq-compliance")
    group.addoption("--stack", help="compose project to audit (default: the policy's `stack`)")
    group.addoption("--compose-file", action="append", default=[], metavar="PATH",
                    help="declared compose file (repeatable)")
    group.addoption("--policy", metavar="PATH", help="policy file (default: policies/passq.yml)")
    group.addoption("--waivers", metavar="PATH", help="waiver file")
    group.addoption("--trivy-reports", metavar="DIR", help="directory of Trivy JSON reports")
    group.addoption("--docker-host", metavar="URL",
                    help="engine to audit (default: DOCKER_HOST, else the local socket)")
    group.addoption("--fail-on", choices=controls.SEVERITIES, default="low",
                    help="lowest severity whose unwaived failure fails the run (default: low)")
    group.addoption("--report-dir", metavar="DIR", default="reports",
                    help="where the reports go (default: reports/)")
    group.addoption("--no-live", action="store_true",
                    help="skip the live probes; they report `skipped`")
    parser.addini("compliance_policy", "default policy file", default="policies/passq.yml")
    parser.addini("compliance_require_full_catalog", type="bool", default=False,
                  help="fail collection unless every catalog control has a test")


def pytest_configure(config):
    config.addinivalue_line("markers", "control(id): the catalog control this test evaluates")
    for severity in controls.SEVERITIES:
        config.addinivalue_line("markers", f"severity_{severity}: controls of severity {severity}")
    for area in sorted({c.area for c in controls.CATALOG.values()}):
        config.addinivalue_line("markers", f"area_{area}: controls of area {area.upper()}")
    config.stash[AUDIT] = Audit(config)


def pytest_generate_tests(metafunc):
    if "container" in metafunc.fixturenames:
        stack = metafunc.config.stash[AUDIT].stack()
        containers = stack.containers if stack else []
        metafunc.parametrize("container", containers, ids=[c.test_id for c in containers])


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    audit = config.stash[AUDIT]
    if audit.failure:
        raise pytest.UsageError(audit.failure)
    covered = set()
    for item in items:
        marks = list(item.iter_markers("control"))
        uses_stack = {"container", "stack"} & set(getattr(item, "fixturenames", ()))
        if not marks and not uses_stack:
            continue
        if len(marks) != 1 or len(marks[0].args) != 1:
            raise pytest.UsageError(f"{item.nodeid}: a compliance test needs exactly one "
                                    "@pytest.mark.control(ID)")
        control = controls.CATALOG.get(marks[0].args[0])
        if control is None:
            raise pytest.UsageError(f"{item.nodeid}: unknown control {marks[0].args[0]!r}")
        covered.add(control.id)
        item.add_marker(f"severity_{control.severity}")
        item.add_marker(f"area_{control.area}")
        audit.apply_waiver(item, control)
    missing = sorted(set(controls.CATALOG) - covered)
    if config.getini("compliance_require_full_catalog") and missing:
        raise pytest.UsageError(f"catalog controls without a test: {', '.join(missing)}")


@pytest.fixture(scope="session")
def policy(pytestconfig):
    return pytestconfig.stash[AUDIT].policy


@pytest.fixture(scope="session")
def stack(pytestconfig):
    return pytestconfig.stash[AUDIT].stack()


@pytest.fixture
def service_policy(policy, container):
    return policy.for_service(container.service)


@pytest.fixture
def verdict(request, pytestconfig):
    """Report a check's Finding: redacted, remembered for the reports, then raised."""
    audit = pytestconfig.stash[AUDIT]
    control = controls.CATALOG[request.node.get_closest_marker("control").args[0]]

    def report(finding):
        __tracebackhide__ = True
        finding = finding.redacted(audit.redact)
        request.node.stash[FINDING] = finding
        outcomes.verdict(finding, f"{control.id} {control.title}")

    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    mark = item.get_closest_marker("control")
    if mark is None or (report.when != "call" and not report.failed and not report.skipped):
        return report
    if report.when == "teardown" and not report.failed:
        return report
    audit = item.config.stash[AUDIT]
    container = getattr(item, "callspec", None) and item.callspec.params.get("container")
    finding = item.stash.get(FINDING, None)
    outcome = _outcome(report, call)
    evidence = finding.evidence if finding else ""
    message = finding.message if finding else audit.redact(_reason(report, call))
    result = Result(
        control=mark.args[0],
        service=container.service if container else None,
        container=container.name if container else None,
        nodeid=report.nodeid, outcome=outcome, evidence=evidence, message=message,
        waiver=audit.waiver_for(item), duration_s=round(report.duration, 4),
    )
    report.user_properties += [("control", result.control), ("outcome", outcome),
                               ("service", result.service or ""), ("evidence", evidence)]
    report.compliance_outcome = outcome
    audit.record(result)
    return report


def _outcome(report, call) -> str:
    if hasattr(report, "wasxfail"):
        return "waived" if report.skipped else "failed"
    if report.passed:
        return "passed"
    if report.skipped:
        return "skipped"
    if report.when == "call" and call.excinfo and call.excinfo.errisinstance(ControlFailed):
        return "failed"
    return "error"


def _reason(report, call) -> str:
    if call.excinfo is None:
        return getattr(report, "wasxfail", "") or ""
    if call.excinfo.errisinstance((ControlFailed, ControlError)):
        return str(call.excinfo.value)
    if report.skipped:
        return str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
    return f"{call.excinfo.typename}: {call.excinfo.value}"[:500]


def pytest_report_teststatus(report, config):
    outcome = getattr(report, "compliance_outcome", None)
    if outcome == "error" and report.when == "call":
        return "error", "E", "ERROR"
    if outcome == "waived":
        return "waived", "w", "WAIVED"
    return None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    """The gate: only unwaived failures at or above --fail-on, and errors, fail the run."""
    audit = session.config.stash[AUDIT]
    if not audit.results:
        return
    audit.finish(time.time())
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        blocking = audit.blocking_results()
        other_failures = session.testsfailed - audit.failed_count()
        session.exitstatus = (pytest.ExitCode.TESTS_FAILED if blocking or other_failures > 0
                              else pytest.ExitCode.OK)
    audit.write_reports(Path(session.config.getoption("report_dir")))
