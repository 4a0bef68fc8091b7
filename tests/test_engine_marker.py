"""The suite's own split (tests/conftest.py): a test whose fixtures reach the Docker engine is
marked `engine` by them, `-m "not engine"` (scripts/test --unit) leaves it out, and without an
engine it errors in one line naming the engine instead of a wall of connection errors."""

from pathlib import Path

import pytest

NO_ENGINE = "unix:///nonexistent/passq-unit.sock"
TESTS = """
    def test_through_make_stack(make_stack):
        make_stack({"web": {}})

    def test_without_an_engine():
        pass
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    """A copy of the suite's conftest over one test that needs the engine and one that does not,
    with the engine out of reach."""
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(TESTS)
    return lambda *args: pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", *args)


def test_without_an_engine_a_test_that_needs_one_errors_in_one_line(suite):
    outcome = suite()
    outcome.assert_outcomes(passed=1, errors=1)
    problem = (f"Docker engine at {NO_ENGINE} is unreachable: No such file or directory; start one "
               "(scripts/engine), or run the tests that need none (scripts/test --unit)")
    assert problem in outcome.outlines
    assert "Traceback" not in outcome.stdout.str() and "Connection aborted" not in outcome.stdout.str()


def test_not_engine_deselects_it_by_its_fixtures(suite):
    suite("-m", "not engine").assert_outcomes(passed=1, deselected=1)
    suite("-m", "engine").assert_outcomes(errors=1, deselected=1)
