"""The release gate (interface.md, "Exit status"): --fail-on, errors, and never green over nothing."""

import pytest

from compliance import controls
from tests.conftest import PLUGIN_ARGS

# One catalog control of each severity, failed on purpose by the module below.
FAILING = {"low": "RES-03", "medium": "RES-01", "high": "HRD-01", "critical": "SEC-02"}

MODULE = """
    import pytest
    from compliance import outcomes

    @pytest.mark.control("IMG-01")
    def test_passes(container, verdict):
        verdict(outcomes.passed("image=pinned"))

    @pytest.mark.control("{control}")
    def test_fails(container, verdict):
        verdict(outcomes.failed("should hold", "Fact=false"))
"""


@pytest.fixture(scope="module")
def project(make_stack):
    return make_stack({"web": {"user": "1000:1000"}})


@pytest.mark.parametrize("failing", controls.SEVERITIES)
@pytest.mark.parametrize("fail_on", controls.SEVERITIES)
def test_an_unwaived_failure_fails_the_run_from_fail_on_upwards(audit, project, failing, fail_on):
    run = audit(project, MODULE.format(control=FAILING[failing]), "--fail-on", fail_on)
    blocks = controls.SEVERITIES.index(failing) >= controls.SEVERITIES.index(fail_on)
    assert run.ret == (1 if blocks else 0), run.text()
    gate = run.json()["gate"]
    assert gate == {"fail_on": fail_on, "passed": not blocks}
    assert run.sarif()["runs"][0]["properties"]["gate"]["passed"] is (not blocks)


def test_every_control_passing_is_exit_0(audit, project):
    run = audit(project, MODULE.format(control="IMG-01").replace("failed(", "passed(").replace(
        '"should hold", ', ""))
    assert run.ret == 0, run.text()
    assert run.json()["summary"] == {"passed": 2, "failed": 0, "waived": 0, "skipped": 0, "error": 0}


def test_an_error_fails_the_run_whatever_fail_on_says(audit, project):
    run = audit(project, """
        import pytest
        from compliance import outcomes

        @pytest.mark.control("RES-03")
        def test_undecided(container, verdict):
            verdict(outcomes.undecided("engine gave no PidsLimit"))
    """, "--fail-on", "critical")
    assert run.ret == 1
    assert [r["outcome"] for r in run.json()["results"]] == ["error"]
    assert run.json()["gate"]["passed"] is False


def test_a_failing_plain_test_in_the_run_fails_it(audit, project):
    run = audit(project, MODULE.format(control="RES-03") + """
    def test_not_a_control():
        assert False
    """, "--fail-on", "critical")
    assert run.ret == 1


def test_no_container_of_the_stack_is_a_failure_and_no_report_claims_a_pass(audit):
    run = audit("pqc-no-such-stack", MODULE.format(control="IMG-01"))
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "pqc-no-such-stack" in run.text() and "unix://" in run.text()
    document = run.json()
    assert document["gate"]["passed"] is False and document["results"] == []
    assert "pqc-no-such-stack" in document["failure"]
    assert run.sarif()["runs"][0]["invocations"][0]["executionSuccessful"] is False
    assert "NOT AUDITED" in run.html() and "\u2611" not in run.html()


def test_a_run_stopped_by_maxfail_is_never_green(audit, project):
    # -x stops at the first failure; below --fail-on it would not block, but
    # the controls after it were never evaluated.
    run = audit(project, MODULE.format(control="RES-03") + """
    @pytest.mark.control("USR-01")
    def test_never_run(container, verdict):
        verdict(outcomes.passed("uid=1000"))
    """, "--fail-on", "high", "-x")
    assert run.ret == 1
    assert run.json()["gate"]["passed"] is False


def test_a_session_without_compliance_tests_writes_no_reports(pytester):
    pytester.makepyfile("def test_plain():\n    assert True\n")
    outcome = pytester.runpytest(*PLUGIN_ARGS, "--report-dir", "reports")
    assert outcome.ret == 0
    assert not any((pytester.path / "reports").glob("*.*"))


def test_collect_only_lists_the_tests_and_writes_no_report_and_no_gate(audit, project):
    run = audit(project, MODULE.format(control="RES-03"), "--co", "-q")
    assert run.ret == 0, run.text()
    assert "test_compliance.py::test_fails[web]" in run.text()
    assert "release gate" not in run.text()
    assert not run.report_dir.exists() or not any(run.report_dir.iterdir())
