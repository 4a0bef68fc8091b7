"""The suite's own split (tests/conftest.py): a test whose fixtures reach the Docker engine is
marked `engine` by them, `-m "not engine"` (scripts/test --unit) leaves it out, and without an
engine it errors in one line naming the engine instead of a wall of connection errors."""

import os
import subprocess
import sys

from tests.live import ROOT

NO_ENGINE = "unix:///nonexistent/passq-unit.sock"
# test_gate's through the make_stack and audit fixtures; test_record_gate's needs no engine
TESTS = ("tests/test_gate.py::test_every_control_passing_is_exit_0",
         "tests/test_record_gate.py::test_one_blocking_result_among_passes_blocks_the_run")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *TESTS, *args],
                          cwd=ROOT, env={**os.environ, "DOCKER_HOST": NO_ENGINE}, capture_output=True,
                          text=True, timeout=120)


def test_without_an_engine_a_test_that_needs_one_errors_in_one_line():
    done = run("-rE")
    assert done.returncode == 1, done.stdout
    assert done.stdout.splitlines()[-1].strip("= ").startswith("1 passed, 1 error")
    problem = (f"Docker engine at {NO_ENGINE} is unreachable: No such file or directory; start one "
               "(scripts/engine), or run the tests that need none (scripts/test --unit)")
    assert problem in done.stdout.splitlines(), done.stdout
    assert "Traceback" not in done.stdout and "Connection aborted" not in done.stdout


def test_not_engine_deselects_it_by_its_fixtures():
    done = run("-m", "not engine")
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-1].strip("= ").startswith("1 passed, 1 deselected")
