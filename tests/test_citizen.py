"""Installed, the suite is a good citizen: a project that merely has it in its environment
runs its own tests as if it were not there, until an audit is asked for."""

import gc

PLAIN = """
import gc, os

def test_arithmetic():
    assert 1 + 1 == 2

def test_passwd(host):  # testinfra's own host: this machine
    assert host.file("/etc/passwd").exists
    assert host.backend.NAME == "local"

def test_nothing_changed_for_us():
    assert "DOCKER_HOST" not in os.environ or os.environ["DOCKER_HOST"] == {docker_host!r}
    assert gc.get_threshold() == {threshold!r}
"""


def test_a_foreign_project_runs_untouched_and_gets_no_report(pytester):
    import os

    pytester.makepyfile(test_theirs=PLAIN.format(docker_host=os.environ.get("DOCKER_HOST"),
                                                 threshold=gc.get_threshold()))
    done = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    done.assert_outcomes(passed=3)
    assert "-- passq-compliance --" not in done.stdout.str()  # no closing table
    assert "NOT AUDITED" not in done.stdout.str()
    assert not (pytester.path / "reports").exists()


def test_an_audit_option_turns_it_on(pytester):
    """The same folder with --static-only is an audit: its mistake is the suite's error."""
    pytester.makepyfile(test_theirs="def test_arithmetic():\n    assert 1 + 1 == 2\n")
    done = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--static-only")
    assert done.ret == 4
    assert any(line.startswith("ERROR:") for line in done.errlines + done.outlines)
