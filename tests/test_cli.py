"""The `passq-compliance` command as a user meets it: its own help and version.

Every run here is --static-only, or stops before the engine is asked: no engine is needed.
"""

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.live import ROOT

COMMAND = Path(sys.executable).parent / "passq-compliance"
WEAK = "fixtures/stacks/weak"
STATIC = ("--static-only", f"--compose-file={WEAK}/compose.yml", f"--policy={WEAK}/policy.yml")
NO_ENGINE = "unix:///nonexistent/passq-no-engine.sock"


def command(*args, report_dir: Path, **env) -> subprocess.CompletedProcess:
    """The command from the checkout's root, as CI runs it: no terminal, stdout piped."""
    environment = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    environment.update(DOCKER_HOST=NO_ENGINE, COLUMNS="80", **env)
    return subprocess.run([str(COMMAND), *map(str, args), f"--report-dir={report_dir}"], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=300)


def errors(done) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR:")]


# -- help and version -----------------------------------------------------------------------


def test_help_is_the_commands_options_examples_and_exit_status(tmp_path):
    done = command("--help", report_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("usage: passq-compliance [options] [pytest options]")
    for said in ("--compose-file PATH", "--static-only", "--fail-on {low,medium,high,critical}",
                 "examples:", "passq-compliance --static-only --compose-file docker-compose.production.yml",
                 "exit status:", "  4  nothing audited, with one ERROR: line", "--help-pytest"):
        assert said in text, said
    assert "pytest" not in text.split("usage:")[0] and "-k EXPRESSION" not in text
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_help_pytest_is_pytests_help_with_the_suites_options(tmp_path):
    done = command("--help-pytest", report_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "-k EXPRESSION" in done.stdout and "--static-only" in done.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_the_packages(tmp_path, flag):
    done = command(flag, report_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"passq-compliance {metadata.version('passq-compliance')}\n"
