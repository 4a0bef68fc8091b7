"""Where junit.xml and compliance.html go (compliance/report/outputs.py), through pytest's
public API only."""

import ast
from pathlib import Path

from tests.live import ROOT


def test_an_audit_that_collects_no_compliance_test_writes_no_report_over_an_earlier_one(pytester):
    """An audit asked for (here by the ini setting, as this repository's pytest.ini asks) that
    collects only other tests is no audit: the junit and HTML writers it turned on are taken
    away, so an earlier audit's reports stay as they were and pytest ends cleanly."""
    pytester.makeini("[pytest]\ncompliance_audit = true\n")
    pytester.makepyfile(test_theirs="def test_arithmetic():\n    assert 1 + 1 == 2\n")
    reports = pytester.mkdir("reports")
    for name in ("junit.xml", "compliance.html"):
        (reports / name).write_text("an earlier audit's")
    done = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    done.assert_outcomes(passed=1)
    assert done.ret == 0, done.stdout.str() + done.stderr.str()
    assert "generated xml file" not in done.stdout.str()
    assert {p.name: p.read_text() for p in reports.iterdir()} == {
        "junit.xml": "an earlier audit's", "compliance.html": "an earlier audit's"}


def test_the_package_imports_nothing_of_pytests_private_modules():
    """pytest's `_pytest` package may change in any release: the suite uses `pytest`'s
    public names, its hooks and its plugin manager."""
    private = []
    for path in sorted(Path(ROOT, "compliance").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            private += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}"
                        for n in names if n.split(".")[0] == "_pytest"]
    assert private == []


QUIET = """
import pytest
from compliance.report.terminal import QuietPasses

def pytest_sessionstart(session):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    session.config.pluginmanager.register(QuietPasses(reporter), "quiet")

@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    kept = [(r.when, r.nodeid.split("::")[-1]) for r in terminalreporter.stats.get("", [])]
    terminalreporter.write_line(f"kept: {sorted(kept)}")
"""

SAID_IN_TEARDOWN = """
import pytest

@pytest.fixture
def noisy():
    yield
    print("said in tear-down")

def test_quiet():
    pass

def test_fails(noisy):
    assert False
"""


def test_quiet_passes_drops_silent_set_ups_and_tear_downs_and_keeps_what_said_something(pytester):
    """terminal.QuietPasses: a passed set-up or tear-down with nothing captured is not kept;
    a tear-down that printed still shows under its failed test, and the summary line counts
    the tests as before."""
    pytester.makeconftest(QUIET)
    pytester.makepyfile(test_noise=SAID_IN_TEARDOWN)
    done = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:compliance.plugin")
    done.assert_outcomes(passed=1, failed=1)
    done.stdout.fnmatch_lines(["*Captured stdout teardown*", "said in tear-down",
                               "kept: [('teardown', 'test_fails')]"])
