"""The fixtures of an audit: its inputs and subjects, the live probes, and the verdict a
check reports through. Registered by the plugin only when an audit is asked for, so a
project that merely has the suite installed sees none of them (no `policy` or `stack`
fixture of ours in its namespace, no autouse fixture in its tests)."""

import pytest

from compliance import controls, outcomes
from compliance.audit import AUDIT
from compliance.items import CURRENT_TEST, FINDING, control_of, stack_of, subject, subject_of
from compliance.report import terminal
from compliance.sources import probes


@pytest.fixture(scope="session")
def declared_stack(pytestconfig):
    """The declared services as Subjects (compliance.model.Stack), or None without --compose-file."""
    return pytestconfig.stash[AUDIT].declared_stack()


@pytest.fixture
def secret_files(pytestconfig, stack):
    """SEC-03's facts about the secret files the stack's compose files and the policy name
    (None: none named)."""
    return pytestconfig.stash[AUDIT].secret_files(stack)


@pytest.fixture(scope="session")
def policy(pytestconfig):
    return pytestconfig.stash[AUDIT].policy


@pytest.fixture(scope="session")
def stack(pytestconfig):
    """The subjects of the audit: the running stack, or under --static-only the declared one."""
    return pytestconfig.stash[AUDIT].subjects()


@pytest.fixture(scope="session")
def live(request, pytestconfig, stack, policy):
    """The live probes of this run (NET-04, NET-05, HRD-02's write probe): every kind a
    selected test reads, their probe containers in one pool, started in the background at
    first use (a swarm task's on its node's engine). Until the end SIGTERM interrupts like
    Ctrl-C, so every probe container is removed."""
    if pytestconfig.getoption("no_live"):
        pytest.skip("live probes disabled (--no-live)")
    audit = pytestconfig.stash[AUDIT]
    runner = probes.ProbeRunner(audit.engine, pytestconfig.getoption("probe_image"), nodes=audit.nodes)
    observed = probes.Live(runner, stack, policy, together=_live_kinds(request.session.items))
    with probes.sigterm_interrupts():
        observed.start()
        try:
            yield observed
        finally:
            observed.close()


def _live_kinds(items) -> set[str]:
    """The kinds of live observation (probes.KINDS) the session's selected tests read."""
    kinds = set()
    for item in items:
        mark = item.get_closest_marker("control")
        if mark and mark.args and "live" in getattr(item, "fixturenames", ()):
            kinds.add(controls.describe(mark.args[0]).probe)
    return kinds - {""}


@pytest.fixture(scope="session")
def vulnerability_reports(pytestconfig):
    """The run's Trivy reports (compliance.scans.Reports), read once."""
    return pytestconfig.stash[AUDIT].vulnerability_reports()


@pytest.fixture
def restarts(pytestconfig, container):
    """What the container's process did during the run (stopped, started, ...), for HLT-02."""
    return pytestconfig.stash[AUDIT].restarts(container)


@pytest.fixture
def service_policy(policy, container):
    return policy.for_service(container.service)


@pytest.fixture(scope="session")
def verdict(pytestconfig):
    """Report a check's Finding for the test being run: redacted, remembered for the
    reports, then raised. One function for the whole session, since the test is the one
    pytest runs (pytest_runtest_setup names it): no test pays for a fixture of its own."""
    audit = pytestconfig.stash[AUDIT]

    def report(finding):
        __tracebackhide__ = True
        item = pytestconfig.stash[CURRENT_TEST]
        finding = finding.redacted(audit.redact)
        item.stash[FINDING] = finding
        service, _ = subject(item)
        judged = subject_of(item) or stack_of(item)
        outcomes.verdict(finding, terminal.lead(control_of(item), audit.redact(service) if service else None,
                                                getattr(judged, "project", None)))

    return report
