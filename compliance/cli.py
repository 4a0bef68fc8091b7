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

With --static-only it loads exactly the pytest plugins the static gate uses (the suite's,
pytest-html, pytest-metadata; pytest's `--disable-plugin-autoload`), not every plugin
installed beside it: each one wraps every test, and a pull-request gate of 50 services runs
a thousand. A plugin the user names with `-p NAME` still loads. Nor does it capture each
test's log records and output: a static check neither logs nor prints.

`--help` and `--version` are the command's own: a user of the tool asks about
its options and exit codes, not pytest's (those stay behind `--help-pytest`).
The options are listed from the plugin's own definitions, so the two never differ.
"""

import argparse
import sys
from importlib import metadata
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
# `-p html` (pytest-html's entry point name) is also the standard library's `html`, imported
# long before: pytest warns that it cannot rewrite it, which it need not (no test lives there).
HTML_IMPORTED = IMPORTED.replace("; compliance", "; html")
COMMAND = "passq-compliance"
EXAMPLES = f"""\
examples:
  {COMMAND} --stack passq --compose-file docker-compose.production.yml
  {COMMAND} --static-only --compose-file docker-compose.production.yml   # pull-request gate
  {COMMAND} --static-only --project api --project web=web,web/ci.yml --project tools/ci   # a monorepo
  {COMMAND} --stack passq -m "severity_high or severity_critical"
  {COMMAND} --stack passq -k db          # one service
  {COMMAND} --stack passq --co -q        # list what would run, write no report
  {COMMAND} baseline reports/compliance.json --owner NAME --days 90 > waivers.yml   # accept today's failures

exit status:
  0  every control passed, was waived, or failed below --fail-on
  1  an unwaived failure at or above --fail-on, or a control that could not be evaluated
  2  interrupted
  3  an internal error of the suite (a traceback)
  4  nothing audited, with one ERROR: line: a wrong option or argument, a malformed
     policy, waiver or compose file, an unreachable engine, no container of the stack,
     no compliance test selected

Reports go to ./reports: compliance.html, compliance.json, compliance.sarif, junit.xml.
Any other argument goes to pytest (-k, -m, -x, --tb ...): {COMMAND} --help-pytest lists them.
With --static-only only the suite's, pytest-html's and pytest-metadata's pytest plugins load
(`-p NAME` loads another installed one), and a check's output and log records are not captured.
"""


# The pytest plugins a static run loads (by entry point name), and nothing else installed:
# not testinfra's (its `host` is this machine; the static gate reaches no host), not
# hypothesis's (a development tool that wraps every test's call and report).
STATIC_PLUGINS = ("html", "metadata")
# What pytest does in every phase of every test that a static check never needs: capture its
# log records (it logs nothing) and its output (it prints nothing). A user's own --capture wins.
STATIC_PHASES = ("-p", "no:logging", "--capture=no")


def pytest_args(args: list[str]) -> list[str]:
    """The arguments for pytest: ours first, so a user's own -c, --rootdir, -o or -p still wins."""
    static = ["--disable-plugin-autoload", *(a for name in STATIC_PLUGINS for a in ("-p", name)),
              *STATIC_PHASES, "-W", HTML_IMPORTED] if "--static-only" in args else []
    return ["--config-file", str(SETTINGS), "--rootdir", str(Path.cwd()), "-p", "compliance.plugin",
            *static, "-o", f"compliance_policy={POLICY}", "-W", IMPORTED, *args, str(CHECKLIST)]


def version() -> str:
    return metadata.version(COMMAND)


class _Options:
    """Takes pytest's parser's place for the plugin's pytest_addoption: keeps each option."""

    def __init__(self):
        self.options = []

    def getgroup(self, *args, **kwargs):
        return self

    def addoption(self, *names, **attrs):
        self.options.append((names, attrs))

    def addini(self, *args, **kwargs):
        pass


def usage() -> str:
    """The command's help: its own options (the plugin's), examples and exit status."""
    from compliance import plugin  # only here: the audit's imports need not slow --version

    collected = _Options()
    plugin.pytest_addoption(collected)
    parser = argparse.ArgumentParser(
        prog=COMMAND, usage=f"{COMMAND} [options] [pytest options]", epilog=EXAMPLES,
        description="Audit a Docker compose stack (live, or its compose files with --static-only)\n"
                    "against PassQ's container security checklist.",
        formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False)
    for names, attrs in collected.options:
        parser.add_argument(*names, **{k: v for k, v in attrs.items()
                                       if k in ("action", "choices", "metavar", "help")})
    parser.add_argument("-h", "--help", action="store_true", help="this help")
    parser.add_argument("--help-pytest", action="store_true", help="pytest's help, with every option")
    parser.add_argument("-V", "--version", action="store_true", help=f"{COMMAND}'s version")
    return parser.format_help()


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["baseline"]:  # a subcommand of its own: reads a report, runs no audit
        from compliance import baseline
        return baseline.main(args[1:])
    if {"-h", "--help"} & set(args):
        print(usage(), end="")
        return 0
    if {"-V", "--version"} & set(args):
        print(f"{COMMAND} {version()}")
        return 0
    args = ["--help" if arg == "--help-pytest" else arg for arg in args]
    return int(pytest.main(pytest_args(args)))
