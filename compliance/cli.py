"""`passq-compliance`: the installed checklist, audited from the folder the user is in.

Users run it from their application's repository, where neither this
repository's pytest.ini nor its checklist folder exists. So the command hands
pytest what a checkout would: the suite's settings (compliance/audit.ini:
strict markers and config, strict xfail), PassQ's policy as the default, the
plugin, and the packaged checklist. It names pytest's rootdir itself (the
current folder), because pytest picks one before any plugin can say that
`--policy PATH` takes a value: left to itself it roots at PATH and loses the
settings. Rooted here, test IDs read `test_hardening.py::test_x[service]`
and the reports land in ./reports (--report-dir's default). Every other
argument goes to pytest unchanged.
"""

import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent
SETTINGS = PACKAGE / "audit.ini"
POLICY = PACKAGE / "policies" / "passq.yml"
CHECKLIST = PACKAGE / "checklist"
# This command is `compliance` itself, imported before pytest could mark the package for
# assertion rewriting; it has no asserts to rewrite (an editable install never marks it).
IMPORTED = ("ignore:Module already imported so cannot be rewritten; compliance"
            ":pytest.PytestAssertRewriteWarning")


def pytest_args(args: list[str]) -> list[str]:
    """The arguments for pytest: ours first, so a user's own -c, --rootdir or -o still wins."""
    return ["--config-file", str(SETTINGS), "--rootdir", str(Path.cwd()), "-p", "compliance.plugin",
            "-o", f"compliance_policy={POLICY}", "-W", IMPORTED, *args, str(CHECKLIST)]


def main() -> int:
    if sys.argv[1:2] == ["baseline"]:  # a subcommand of its own: reads a report, runs no audit
        from compliance import baseline
        return baseline.main(sys.argv[2:])
    return int(pytest.main(pytest_args(sys.argv[1:])))
