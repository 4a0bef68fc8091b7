"""Waivers: the file is validated like the policy; only real failures are waived."""

import textwrap
from datetime import date

import pytest

from compliance import waivers
from compliance.outcomes import Result

VALID = """\
- control: NET-01
  service: nginx-proxy          # omit for every service
  reason: Public TLS endpoint; the host firewall limits sources.
  approved_by: security@passq.example
  expires: 2027-01-31
- control: HRD-01
  reason: Vendor image needs setuid until the 2.x release.
  approved_by: security@passq.example
  expires: "2026-12-31"
"""


def load(tmp_path, text):
    path = tmp_path / "waivers.yml"
    path.write_text(textwrap.dedent(text))
    return waivers.load(path)


def test_the_interface_example_loads(tmp_path):
    loaded = load(tmp_path, VALID)
    first, second = loaded.waivers
    assert (first.control, first.service, first.expires, first.line) == (
        "NET-01", "nginx-proxy", date(2027, 1, 31), 1)
    assert (second.service, second.expires) == (None, date(2026, 12, 31))
    assert len(loaded.sha256) == 64


def test_an_empty_file_waives_nothing(tmp_path):
    assert load(tmp_path, "").waivers == ()


@pytest.mark.parametrize(("text", "expected"), [
    ("- control: NET-01\n  reason: r\n  approved_by: a\n  expires: 2027-01-31\n  servce: db\n",
     "waivers.yml:5: servce: unknown key"),
    ("- control: NET-01\n  approved_by: a\n  expires: 2027-01-31\n", "waivers.yml:1: reason: missing"),
    ("- control: NET-01\n  reason: r\n  expires: 2027-01-31\n", "waivers.yml:1: approved_by: missing"),
    ("- control: NET-01\n  reason: r\n  approved_by: a\n", "waivers.yml:1: expires: missing"),
    ("- control: NET-01\n  reason: r\n  approved_by: a\n  expires: 2027-02-30\n",
     "waivers.yml:4: expires: expected a date YYYY-MM-DD"),
    ("- control: NET-01\n  reason: r\n  approved_by: a\n  expires: next year\n",
     "waivers.yml:4: expires: expected a date YYYY-MM-DD"),
    ("- control: NET-99\n  reason: r\n  approved_by: a\n  expires: 2027-01-31\n",
     "waivers.yml:1: control: unknown control 'NET-99'"),
    ("- control: NET-01\n  reason: ''\n  approved_by: a\n  expires: 2027-01-31\n",
     "waivers.yml:2: reason: expected a non-empty string"),
    ("- control: NET-03\n  service: db\n  reason: r\n  approved_by: a\n  expires: 2027-01-31\n",
     "waivers.yml:2: service: NET-03 is evaluated once per stack"),
    ("control: NET-01\n", "waivers.yml: (top level): expected a list of waivers"),
    ("- control: NET-01\n  reason: r\n  approved_by: a\n  expires: 2027-01-31\n"
     "- control: NET-01\n  reason: r\n  approved_by: b\n  expires: 2027-01-31\n",
     "waivers.yml:5: (waiver): duplicate waiver for NET-01 (every service) (first at line 1)"),
    ("- control: [NET-01\n", "waivers.yml:2:1: malformed YAML"),
])
def test_a_bad_waiver_is_one_line_naming_file_line_and_key(tmp_path, text, expected):
    with pytest.raises(waivers.WaiverError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert "\n" not in message
    assert message.replace(str(tmp_path) + "/", "").startswith(expected), message


def test_a_services_own_valid_waiver_wins(tmp_path):
    loaded = load(tmp_path, """\
        - {control: USR-01, reason: all, approved_by: a, expires: 2099-01-01}
        - {control: USR-01, service: db, reason: db expired, approved_by: a, expires: 2020-01-01}
        - {control: USR-01, service: web, reason: web, approved_by: a, expires: 2099-01-01}
    """)
    today = date(2026, 6, 1)
    assert loaded.match("USR-01", "web", today).reason == "web"
    assert loaded.match("USR-01", "db", today).reason == "all"  # valid beats expired
    assert loaded.match("USR-01", "cache", today).reason == "all"
    assert loaded.match("IMG-01", "web", today) is None


def test_a_projects_own_waiver_covers_that_project_only(tmp_path):
    """In a monorepo two projects may each have a `db`: `project` keeps a waiver to one."""
    loaded = load(tmp_path, """\
        - {control: USR-01, service: db, project: shop, reason: shop, approved_by: a, expires: 2099-01-01}
        - {control: USR-01, service: db, reason: every db, approved_by: a, expires: 2099-01-01}
        - {control: NET-03, project: shop, reason: shop's stack, approved_by: a, expires: 2099-01-01}
    """)
    today = date(2026, 6, 1)
    assert loaded.match("USR-01", "db", today, "shop").reason == "shop"
    assert loaded.match("USR-01", "db", today, "api").reason == "every db"
    assert loaded.match("USR-01", "db", today).reason == "every db"
    assert loaded.match("NET-03", None, today, "shop").entry("applied")["project"] == "shop"
    assert loaded.match("NET-03", None, today, "api") is None


def test_a_waiver_is_valid_through_its_expiry_date(tmp_path):
    waiver = load(tmp_path, VALID).waivers[0]
    assert not waiver.expired(date(2027, 1, 31))
    assert waiver.expired(date(2027, 2, 1))


WAIVER = waivers.Waiver("USR-01", None, "r", "a", date(2027, 1, 31), line=1)


def _result(outcome):
    return Result("USR-01", "web", "p-web-1", "t::x[web]", outcome, "uid=0", "should")


@pytest.mark.parametrize(("outcome", "settled", "status"), [
    ("failed", "waived", "applied"), ("passed", "passed", "stale"), ("error", "error", "ignored"),
    ("skipped", "skipped", "ignored")])
def test_settle_names_what_the_waiver_did(outcome, settled, status):
    result = waivers.settle(_result(outcome), WAIVER, date(2027, 1, 31))
    assert (result.outcome, result.waiver["status"]) == (settled, status)


def test_a_failure_under_an_expired_waiver_says_it_expired():
    settled = waivers.settle(_result("failed"), WAIVER, date(2027, 2, 1))
    assert (settled.outcome, settled.waiver["status"]) == ("failed", "expired")
    assert settled.message == "should (waiver expired on 2027-01-31)"


def test_no_waiver_leaves_the_result_as_it_is():
    assert waivers.settle(_result("failed"), None, date(2027, 1, 31)) == _result("failed")


# -- through the plugin -------------------------------------------------------

MODULE = """
    import pytest
    from compliance import outcomes

    @pytest.mark.control("USR-01")
    def test_user(container, verdict):
        if container.service == "db":
            verdict(outcomes.failed("should run as a non-root user", "Config.User=''"))
        verdict(outcomes.passed("Config.User='1000:1000'"))

    @pytest.mark.control("HRD-01")
    def test_undecided(container, verdict):
        verdict(outcomes.undecided("no SecurityOpt in inspect data"))
"""


PASSING_HRD = MODULE.replace('undecided("no SecurityOpt in inspect data")', 'passed("ok")')


@pytest.fixture(scope="module")
def project(make_stack):
    return make_stack({"web": {"user": "1000:1000"}, "db": {}})


def _by_test(document):
    return {r["test"].split("::")[1]: r for r in document["results"]}


def test_a_valid_waiver_waives_the_failure(audit, project):
    run = audit(project, PASSING_HRD, waivers="""\
        - control: USR-01
          service: db
          reason: Postgres entrypoint drops to uid 999 itself.
          approved_by: security@passq.example
          expires: 2099-01-31
    """)
    assert run.ret == 0, run.text()
    result = _by_test(run.json())["test_user[db]"]
    assert result["outcome"] == "waived"
    assert result["waiver"] == {"control": "USR-01", "service": "db",
                                "reason": "Postgres entrypoint drops to uid 999 itself.",
                                "approved_by": "security@passq.example", "expires": "2099-01-31",
                                "status": "applied"}
    assert run.json()["waivers"]["applied"] == 1 and run.json()["waivers"]["unused"] == []
    # SARIF keeps the finding, suppressed by the waiver: a dashboard shows it dismissed.
    (found,) = run.sarif()["runs"][0]["results"]
    assert (found["ruleId"], found["properties"]["service"]) == ("USR-01", "db")
    assert found["suppressions"] == [{
        "kind": "external", "status": "accepted",
        "justification": "Postgres entrypoint drops to uid 999 itself.",
        "properties": {"approved_by": "security@passq.example", "expires": "2099-01-31"}}]


def test_an_expired_waiver_does_not_apply_and_says_so(audit, project):
    run = audit(project, MODULE, "--fail-on", "critical", waivers="""\
        - {control: USR-01, service: db, reason: old, approved_by: a@x, expires: 2020-01-31}
    """)
    assert run.ret == 1
    result = _by_test(run.json())["test_user[db]"]
    assert result["outcome"] == "failed"
    assert result["waiver"]["status"] == "expired"
    assert "waiver expired on 2020-01-31" in result["message"]
    assert "waiver expired on 2020-01-31" in run.sarif()["runs"][0]["results"][0]["message"]["text"]
    unused = run.json()["waivers"]["unused"]
    assert [(w["control"], w["why"]) for w in unused] == [("USR-01", "expired on 2020-01-31")]


def test_an_error_is_never_waived(audit, project):
    run = audit(project, MODULE, waivers="""\
        - {control: HRD-01, reason: r, approved_by: a@x, expires: 2099-01-31}
    """)
    assert run.ret == 1
    results = _by_test(run.json())
    assert {results[t]["outcome"] for t in ("test_undecided[web]", "test_undecided[db]")} == {"error"}
    assert results["test_undecided[web]"]["waiver"]["status"] == "ignored"
    assert run.json()["waivers"]["unused"][0]["why"] == "matched no failure in this run"


def test_an_unused_waiver_is_listed_in_every_report(audit, project):
    run = audit(project, MODULE, waivers="""\
        - {control: USR-01, service: db, reason: r, approved_by: a@x, expires: 2099-01-31}
        - {control: RES-03, service: cache, reason: no such service, approved_by: a@x, expires: 2099-01-31}
    """)
    unused = run.json()["waivers"]["unused"]
    assert [(w["control"], w["service"], w["line"]) for w in unused] == [("RES-03", "cache", 2)]
    notes = run.sarif()["runs"][0]["invocations"][0]["toolConfigurationNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["RES-03"]
    assert "waivers.yml:2" in notes[0]["message"]["text"]
    assert "Unused waivers" in run.html() and "RES-03 for cache (line 2)" in run.html()
    assert "unused waiver RES-03 for cache (waivers.yml:2)" in run.text()


def test_a_stale_waiver_shows_but_does_not_fail_the_gate(audit, project):
    run = audit(project, PASSING_HRD, waivers="""\
        - {control: USR-01, service: web, reason: fixed since, approved_by: a@x, expires: 2099-01-31}
        - {control: USR-01, service: db, reason: r, approved_by: a@x, expires: 2099-01-31}
    """)
    assert run.ret == 0, run.text()
    result = _by_test(run.json())["test_user[web]"]
    assert (result["outcome"], result["waiver"]["status"]) == ("passed", "stale")
    assert run.json()["gate"]["passed"] is True
    assert run.json()["waivers"]["unused"][0]["why"].startswith("stale")
    assert "(stale waiver)" in run.html()
    assert "1 stale waiver" in run.text() and "stale waiver: USR-01 passed" in run.text()
    junit = (run.report_dir / "junit.xml").read_text()
    assert '<property name="waiver" value="stale" />' in junit


@pytest.mark.parametrize(("text", "expected"), [
    ("- {control: NET-77, reason: r, approved_by: a, expires: 2099-01-31}\n", "unknown control 'NET-77'"),
    ("- control: [USR-01\n", "malformed YAML"),
    ("- {control: USR-01, reason: r, approved_by: a, expires: soon}\n", "expires: expected a date"),
])
def test_a_bad_waiver_file_stops_the_run_before_any_check(audit, project, text, expected):
    run = audit(project, MODULE, waivers=text)
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "waivers.yml:" in run.text() and expected in run.text()
    assert run.json()["results"] == [] and run.json()["gate"]["passed"] is False
