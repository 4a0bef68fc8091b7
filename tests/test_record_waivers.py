"""Waivers without an engine: a waiver file's waivers settled on hand-made results and
rendered from the record (waived, expired, stale, unused), and the plugin applying them in a
static audit of a compose file. tests/test_waivers.py does the same over live audits."""

import json
import textwrap
from datetime import date

from compliance import waivers
from compliance.report import json_report, sarif
from tests.conftest import PLUGIN_ARGS
from tests.records import make_record, metadata, result

TODAY = date(2026, 6, 1)
WAIVERS = """\
- {control: USR-01, service: db, reason: entrypoint drops to 999, approved_by: a@x, expires: 2099-01-31}
- {control: HRD-01, reason: vendor image, approved_by: a@x, expires: 2026-05-31}
- {control: RES-03, service: cache, reason: no such service, approved_by: a@x, expires: 2099-01-31}
- {control: HRD-06, service: web, reason: fixed since, approved_by: a@x, expires: 2099-01-31}
"""
# Each evaluation's outcome as its check found it, before any waiver.
OUTCOMES = {("USR-01", "db"): "failed", ("USR-01", "web"): "passed", ("HRD-01", "web"): "failed",
            ("HRD-01", "db"): "error", ("HRD-06", "web"): "passed"}


def loaded(tmp_path) -> waivers.WaiverFile:
    path = tmp_path / "waivers.yml"
    path.write_text(WAIVERS)
    return waivers.load(path)


def recorded(waiver_file, control, service, outcome):
    """The result as the plugin records it: settled under the file's matching waiver."""
    failed = {"message": "should hold"} if outcome == "failed" else {}
    return waivers.settle(result(control, outcome, service, **failed),
                          waiver_file.match(control, service, TODAY), TODAY)


def test_each_waiver_is_applied_expired_stale_ignored_or_unused_in_the_reports(tmp_path):
    waiver_file = loaded(tmp_path)
    results = [recorded(waiver_file, control, service, outcome)
               for (control, service), outcome in OUTCOMES.items()]
    record = make_record(results, passed=False, unused_waivers=tuple(waivers.unused(
        waiver_file, results, TODAY)), metadata=metadata(waivers={"path": "waivers.yml", "sha256": None}))
    document = json_report.document(record)
    statuses = {(r["control"], r["service"]): (r["outcome"], r["waiver"] and r["waiver"]["status"])
                for r in document["results"]}
    assert statuses == {("USR-01", "db"): ("waived", "applied"), ("USR-01", "web"): ("passed", None),
                        ("HRD-01", "web"): ("failed", "expired"), ("HRD-01", "db"): ("error", "expired"),
                        ("HRD-06", "web"): ("passed", "stale")}
    (expired,) = [r for r in document["results"] if r["outcome"] == "failed"]
    assert expired["message"] == "should hold (waiver expired on 2026-05-31)"
    assert document["waivers"]["applied"] == 1
    assert [(w["control"], w["line"], w["why"]) for w in document["waivers"]["unused"]] == [
        ("HRD-01", 2, "expired on 2026-05-31"), ("RES-03", 3, "matched no failure in this run"),
        ("HRD-06", 4, "stale: the control passed where it was waived; remove the waiver")]
    run = sarif.document(record)["runs"][0]
    assert [r["ruleId"] for r in run["results"] if not r.get("suppressions")] == ["HRD-01"]
    assert "(waiver expired on 2026-05-31)" in run["results"][-1]["message"]["text"]
    notes = run["invocations"][0]["toolConfigurationNotifications"]
    assert [n["message"]["text"].split(" is unused")[0] for n in notes] == [
        "waiver HRD-01 (waivers.yml:2)", "waiver RES-03 for cache (waivers.yml:3)",
        "waiver HRD-06 for web (waivers.yml:4)"]


STATIC_CHECKS = """
    import pytest
    from compliance import outcomes

    @pytest.mark.control("USR-01")
    def test_user(container, verdict):
        if container.service == "db":
            verdict(outcomes.failed("should run as a non-root user", "user: (unset)"))
        verdict(outcomes.passed("user: 1000:1000"))

    @pytest.mark.control("HRD-01")
    def test_no_new_privileges(container, verdict):
        verdict(outcomes.failed("should hold", "security_opt: []"))
"""


def static_audit(pytester, checks: str):
    """A static audit of a two-service compose file with the waiver file; the engine is
    out of reach on purpose."""
    pytester.makefile(".yml", policy="stack: shop\n", waivers=WAIVERS, compose=textwrap.dedent("""\
        services:
          web: {image: "busybox:1.35", user: "1000:1000"}
          db: {image: "busybox:1.35"}
    """))
    pytester.makepyfile(test_compliance=textwrap.dedent(checks))
    return pytester.runpytest(*PLUGIN_ARGS, "--policy", "policy.yml", "--static-only",
                              "--compose-file", "compose.yml", "--waivers", "waivers.yml",
                              "--report-dir", "reports")


def test_a_static_audit_applies_the_waiver_file_without_an_engine(pytester, monkeypatch):
    """The plugin's own path (each result settled under its waiver as it is recorded)."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/passq-static.sock")
    outcome = static_audit(pytester, STATIC_CHECKS)
    document = json.loads((pytester.path / "reports" / "compliance.json").read_text())
    statuses = {(r["control"], r["service"]): (r["outcome"], r["waiver"] and r["waiver"]["status"])
                for r in document["results"]}
    # HRD-01's waiver for every service expired on 2026-05-31: a failure again, saying so
    assert statuses == {("USR-01", "db"): ("waived", "applied"), ("USR-01", "web"): ("passed", None),
                        ("HRD-01", "db"): ("failed", "expired"), ("HRD-01", "web"): ("failed", "expired")}
    assert outcome.ret == 1 and document["gate"]["passed"] is False
    assert {w["control"] for w in document["waivers"]["unused"]} == {"HRD-01", "RES-03", "HRD-06"}
    outcome.stdout.fnmatch_lines(["unused waiver HRD-01 for every service (waivers.yml:2): expired on *"])


def test_an_xfail_marker_is_no_waiver(pytester, monkeypatch):
    """Only the waiver file waives (approver, expiry): an xfail-marked compliance test would
    accept a failure nobody signed off, so the run stops before any check, saying so."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/passq-static.sock")
    marked = '@pytest.mark.xfail(reason="later")\n    @pytest.mark.control("HRD-01")'
    outcome = static_audit(pytester, STATIC_CHECKS.replace('@pytest.mark.control("HRD-01")', marked))
    assert outcome.ret == 4
    document = json.loads((pytester.path / "reports" / "compliance.json").read_text())
    assert "is not xfail-marked" in document["failure"] and document["results"] == []
    outcome.stderr.fnmatch_lines(["ERROR: *test_no_new_privileges*: a compliance test is not "
                                  "xfail-marked: waive a failure in the waiver file*"])
