"""compliance.json and compliance.sarif rendered from hand-made AuditRecords: every outcome,
stack-level and declared results, a run that audited nothing, redaction. No engine: the
reports read only the record (tests/test_reports.py checks them after a live audit)."""

import json

import jsonschema
import pytest

from compliance.report import json_report, sarif
from tests.records import POLICY, STACK, make_record, metadata, result
from tests.test_reports import SARIF_SCHEMA

SECRET = "pq-record-secret-4Kz9"
UNUSED = {"control": "RES-03", "service": "cache", "reason": "r", "approved_by": "a@x",
          "expires": "2099-01-31", "status": "unused", "line": 4, "why": "matched no failure in this run"}

RESULTS = (
    result("IMG-01", "passed", "web", evidence="image=busybox:1.35"),
    result("USR-01", "failed", "db", evidence="Config.User=''", message="should run as a non-root user"),
    result("HRD-06", "failed", "web", evidence="CapDrop=[]"),
    result("RES-03", "failed", "web", evidence="PidsLimit=0"),
    result("SEC-02", "waived", "db", waiver={
        "control": "SEC-02", "service": "db", "reason": "rotated", "approved_by": "a@x",
        "expires": "2099-01-31", "status": "applied"}),
    result("HLT-01", "skipped", "web", evidence="", message="not applicable: a one-shot job"),
    result("NET-03", "failed", None, evidence="backend Internal=false"),
    result("HRD-01", "error", "web", evidence="", message="no SecurityOpt in inspect data"),
    result("IMG-01", "failed", "api", location={"file": "compose.yml", "line": 7}),
)


def validate_sarif(document) -> None:
    validator = jsonschema.Draft7Validator(SARIF_SCHEMA,
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    assert not [e.message for e in validator.iter_errors(document)]


def test_the_json_report_counts_lists_and_gates_exactly_the_records_results(tmp_path):
    record = make_record(RESULTS, passed=False, fail_on="medium", unused_waivers=(UNUSED,),
                         metadata=metadata(waivers={"path": "waivers.yml", "sha256": "2" * 64}))
    json_report.write(record, tmp_path / "compliance.json")
    document = json.loads((tmp_path / "compliance.json").read_text())
    assert document == json.loads(json.dumps(json_report.document(record)))
    assert (document["schema"], document["stack"], document["failure"]) == ("passq-compliance/1", STACK, None)
    assert document["summary"] == {"passed": 1, "failed": 5, "waived": 1, "skipped": 1, "error": 1}
    assert document["gate"] == {"fail_on": "medium", "passed": False}
    assert [(r["control"], r["service"], r["container"], r["outcome"]) for r in document["results"]] == [
        (r.control, r.service, r.container, r.outcome) for r in RESULTS]
    stack_level = document["results"][6]
    assert (stack_level["service"], stack_level["container"], stack_level["severity"]) == (None, None, "high")
    assert document["results"][8]["location"] == {"file": "compose.yml", "line": 7}
    assert document["results"][4]["waiver"]["status"] == "applied"
    assert document["waivers"] == {"path": "waivers.yml", "sha256": "2" * 64, "applied": 1,
                                   "unused": [UNUSED]}
    assert document["images"] == [{"ref": "passq-fixture/busybox:1.35", "digest": "sha256:" + "1" * 64}]


@pytest.mark.parametrize("record", [
    make_record(RESULTS, passed=False, unused_waivers=(UNUSED,)),
    make_record(RESULTS[:2], metadata=metadata(
        judged="static audit of compose.yml", static=True, stack=None,
        engine={"host": None, "version": None, "api_calls": 0},
        compose_files=[{"path": "compose.yml", "sha256": "3" * 64}])),
    make_record((), failure="stack 'shop': Docker engine at unix:///x.sock is unreachable"),
], ids=["live", "static", "audited-nothing"])
def test_sarif_is_valid_2_1_0_for_every_kind_of_record(record):
    validate_sarif(sarif.document(record))


def test_sarif_reports_each_failure_at_its_severity_and_each_error_as_a_notification():
    record = make_record(RESULTS, passed=False, unused_waivers=(UNUSED,),
                         metadata=metadata(waivers={"path": "waivers.yml", "sha256": None}))
    run = sarif.document(record)["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    findings = [r for r in run["results"] if not r.get("suppressions")]
    assert [(f["ruleId"], f["level"], f["properties"]["service"]) for f in findings] == [
        ("USR-01", "error", "db"), ("HRD-06", "warning", "web"), ("RES-03", "note", "web"),
        ("NET-03", "error", None), ("IMG-01", "error", "api")]
    assert all(rules[f["ruleIndex"]] == f["ruleId"] for f in findings)
    usr, *_, net, img = findings
    assert usr["message"]["text"] == ("USR-01 Container runs as a non-root user: should run as a "
                                      f"non-root user (service db, container {STACK}-db-1; "
                                      "evidence: Config.User='')")
    assert usr["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == f"{STACK}/db/{STACK}-db-1"
    assert usr["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": POLICY}}
    assert net["locations"][0]["logicalLocations"][0]["name"] == STACK
    assert img["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "compose.yml"},
                                                       "region": {"startLine": 7}}
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False  # an error leaves a control unproven
    (error,) = invocation["toolExecutionNotifications"]
    assert error["descriptor"]["id"] == "HRD-01"
    assert error["message"]["text"] == (f"HRD-01 could not be evaluated for {STACK}-web-1: "
                                        "no SecurityOpt in inspect data")
    (unused,) = invocation["toolConfigurationNotifications"]
    assert unused["message"]["text"] == ("waiver RES-03 for cache (waivers.yml:4) is unused: "
                                         "matched no failure in this run")
    assert run["properties"]["gate"] == {"fail_on": "low", "passed": False}


def test_a_sarif_alert_keeps_its_fingerprint_when_the_container_is_recreated():
    before, after = (sarif.document(make_record([result("USR-01", "failed", "db", container=name)]))
                     for name in (f"{STACK}-db-1", f"{STACK}-db-2"))
    fingerprint = [d["runs"][0]["results"][0]["partialFingerprints"] for d in (before, after)]
    assert fingerprint[0] == fingerprint[1]
    other = sarif.document(make_record([result("USR-01", "failed", "web")]))
    assert other["runs"][0]["results"][0]["partialFingerprints"] != fingerprint[0]


@pytest.mark.parametrize(("results", "failure"), [
    ((), None),
    ((), "policy.yml:3: stack: expected a string"),
    (RESULTS[:1], "stack 'shop': no containers of stack 'shop'"),
], ids=["no-results", "not-audited", "results-and-a-failure"])
def test_a_run_that_audited_nothing_is_never_a_pass_in_either_report(results, failure):
    record = make_record(results, passed=True, failure=failure)  # whatever the gate said
    document = json_report.document(record)
    assert document["gate"]["passed"] is False and document["failure"] == failure
    run = sarif.document(record)["runs"][0]
    assert run["properties"]["gate"]["passed"] is False
    if failure:
        assert run["invocations"][0]["executionSuccessful"] is False
        assert run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"] == failure


def test_every_string_of_both_reports_passes_the_records_redactor():
    record = make_record([
        result("SEC-02", "failed", "api", evidence=f"API_TOKEN={SECRET}", message=f"holds {SECRET}"),
        result("HRD-01", "error", "api", message=f"probe said {SECRET}"),
    ], passed=False, metadata=metadata(judged=f"stack {STACK} {SECRET}"),
        redact=lambda text: text.replace(SECRET, "[REDACTED]"))
    for document in (json_report.document(record), sarif.document(record)):
        text = json.dumps(document)
        assert SECRET not in text
        assert "API_TOKEN=[REDACTED]" in text


def test_both_reports_are_written_unindented_by_pythons_c_encoder(tmp_path):
    """Indented, Python encodes JSON in pure Python: at 100 services three to five times
    slower (benchmarks/README.md). One line each; `jq .` indents them for reading."""
    record = make_record(RESULTS, passed=False)
    json_report.write(record, tmp_path / "compliance.json")
    sarif.write(record, tmp_path / "compliance.sarif")
    for name in ("compliance.json", "compliance.sarif"):
        text = (tmp_path / name).read_text()
        assert text.count("\n") == 1 and text.endswith("}\n") and json.loads(text)
