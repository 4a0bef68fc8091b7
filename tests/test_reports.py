"""The four reports: compliance.json to the contract, SARIF valid against the
official 2.1.0 schema, the HTML's checklist ticks and escaping, junit.xml,
redaction everywhere, atomic writes."""

import gc
import html
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from compliance import controls
from compliance.report import files
from compliance.report import html as html_report

SARIF_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text())
SECRET = "hunter2-correct-horse-battery"

# The real checks of IMG-01 and USR-01 (compliance/checklist's two first areas).
CHECKS = """
    import pytest
    from compliance.checks import images, users

    @pytest.mark.control("IMG-01")
    def test_image_pinned(container, service_policy, verdict):
        verdict(images.pinned_reference(container.image_ref, service_policy.floating_tags))

    @pytest.mark.control("USR-01")
    def test_non_root_user(container, service_policy, verdict):
        verdict(users.non_root(container, service_policy))
"""


@pytest.fixture(scope="module")
def hardened(make_stack):
    return make_stack({"web": {"user": "1000:1000"}, "api": {"user": "1001:1001"}})


@pytest.fixture(scope="module")
def weak(make_stack):
    """db runs as root from a floating tag and holds a secret in its environment;
    the service label of the other one is markup, as anyone building an image may set."""
    return make_stack({
        "web": {"user": "1000:1000"},
        "db": {"tag": "latest", "environment": {"DB_PASSWORD": SECRET}},
        "<script>alert(1)</script>": {"user": "1000:1000"},
    })


def _blob(page: str) -> dict:
    """pytest-html's test data, as its JavaScript reads it."""
    return json.loads(html.unescape(re.search(r'data-jsonblob="(.*?)"', page, re.S).group(1)))


def _strings(tree):
    if isinstance(tree, dict):
        tree = list(tree.values())
    if isinstance(tree, list):
        return [s for item in tree for s in _strings(item)]
    return [tree] if isinstance(tree, str) else []


def _checklist(page: str) -> dict:
    items = re.findall(r'<li class="(ticked|unticked)"><span class="box">(.)</span>([^<]+)<', page)
    return {text: (state == "ticked", box) for state, box, text in items}


def test_compliance_json_follows_the_contract(audit, weak):
    document = audit(weak, CHECKS, "--fail-on", "critical").json()
    assert list(document)[:10] == ["schema", "stack", "started_at", "duration_s", "engine", "policy",
                                   "summary", "gate", "results", "judged"]
    assert document["schema"] == "passq-compliance/1" and document["stack"] == weak
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["started_at"])
    assert isinstance(document["duration_s"], float)
    assert document["engine"]["host"].startswith("unix://") and document["engine"]["version"]
    assert document["engine"]["api_calls"] > 0
    assert document["policy"]["path"] == "policy.yml" and len(document["policy"]["sha256"]) == 64
    assert document["summary"] == {"passed": 4, "failed": 2, "waived": 0, "skipped": 0, "error": 0}
    assert document["gate"] == {"fail_on": "critical", "passed": True}
    contract = ["control", "title", "severity", "service", "container", "outcome", "evidence",
                "remediation", "waiver"]
    for result in document["results"]:
        assert list(result)[:9] == contract
        control = controls.CATALOG[result["control"]]
        assert (result["title"], result["severity"], result["remediation"]) == (
            control.title, control.severity, control.remediation)
        assert result["outcome"] in ("passed", "failed") and result["waiver"] is None
    failed = {(r["control"], r["service"]) for r in document["results"] if r["outcome"] == "failed"}
    assert failed == {("IMG-01", "db"), ("USR-01", "db")}
    assert {i["ref"] for i in document["images"]} == {"passq-fixture/busybox:1.35",
                                                      "passq-fixture/busybox:latest"}


def test_stack_level_results_have_no_service_or_container(audit, hardened):
    document = audit(hardened, """
        import pytest
        from compliance import outcomes

        @pytest.mark.control("NET-03")
        def test_internal(stack, verdict):
            verdict(outcomes.failed("should be internal", "backend_network Internal=false"))
    """).json()
    (result,) = document["results"]
    assert (result["service"], result["container"], result["outcome"]) == (None, None, "failed")


def test_sarif_is_valid_2_1_0_with_one_rule_per_control_and_one_result_per_failure(audit, weak):
    sarif = audit(weak, CHECKS).sarif()
    validator = jsonschema.Draft7Validator(SARIF_SCHEMA,
                                           format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    assert not list(validator.iter_errors(sarif)), [e.message for e in validator.iter_errors(sarif)]
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(controls.CATALOG)
    usr = rules[list(controls.CATALOG).index("USR-01")]
    control = controls.CATALOG["USR-01"]
    assert usr["name"] == "ContainerRunsAsANonRootUser"
    assert (usr["shortDescription"]["text"], usr["fullDescription"]["text"], usr["help"]["text"]) == (
        control.title, control.rationale, control.remediation)
    assert usr["properties"]["severity"] == "high" and usr["properties"]["cis"].endswith(" 4.1")
    assert usr["properties"]["checklist"] == "Containers run as non-root users"
    assert sorted(r["ruleId"] for r in run["results"]) == ["IMG-01", "USR-01"]
    for result in run["results"]:
        container = result["properties"]["container"]
        assert result["level"] == "error"  # high
        assert f"service db, container {container}" in result["message"]["text"]
        assert "evidence:" in result["message"]["text"]
        (logical,) = result["locations"][0]["logicalLocations"]
        assert (logical["name"], logical["fullyQualifiedName"]) == (container, f"{weak}/db/{container}")


def test_a_waived_failure_is_a_suppressed_sarif_result_with_the_reason(audit, weak):
    run = audit(weak, CHECKS, waivers="""\
        - control: USR-01
          service: db
          reason: Postgres entrypoint drops to uid 999 itself.
          approved_by: security@passq.example
          expires: 2099-01-31
    """)
    sarif = run.sarif()
    validator = jsonschema.Draft7Validator(SARIF_SCHEMA)
    assert not list(validator.iter_errors(sarif)), [e.message for e in validator.iter_errors(sarif)]
    results = {r["ruleId"]: r for r in sarif["runs"][0]["results"]}
    assert sorted(results) == ["IMG-01", "USR-01"]
    assert "suppressions" not in results["IMG-01"]
    (suppression,) = results["USR-01"]["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    assert suppression["justification"] == "Postgres entrypoint drops to uid 999 itself."


def test_live_results_point_at_their_service_in_the_compose_file(audit, weak, pytester):
    """A live audit given the compose files hangs each result on its service's declaration:
    the line of the key that decides the control, else the service's own line."""
    (pytester.path / "compose.yml").write_text(
        "services:\n"
        "  web:\n"
        "    image: passq-fixture/busybox:1.35\n"
        "    user: '1000:1000'\n"
        "  db:\n"
        "    image: passq-fixture/busybox:latest\n")
    run = audit(weak, CHECKS, "--compose-file", "compose.yml")
    located = {(r["control"], r["service"]): r["location"] for r in run.json()["results"]}
    assert located[("IMG-01", "db")] == {"file": "compose.yml", "line": 6}  # its image: key
    assert located[("USR-01", "db")] == {"file": "compose.yml", "line": 5}  # no user: the service
    assert located[("USR-01", "web")] == {"file": "compose.yml", "line": 4}
    sarif = run.sarif()
    validator = jsonschema.Draft7Validator(SARIF_SCHEMA)
    assert not list(validator.iter_errors(sarif)), [e.message for e in validator.iter_errors(sarif)]
    physical = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in sarif["runs"][0]["results"]}
    assert physical["IMG-01"] == {"artifactLocation": {"uri": "compose.yml"}, "region": {"startLine": 6}}
    assert physical["USR-01"] == {"artifactLocation": {"uri": "compose.yml"}, "region": {"startLine": 5}}


def test_html_ticks_an_item_only_when_all_its_controls_passed(audit, hardened, weak):
    passing = _checklist(audit(hardened, CHECKS).html())
    assert passing["All images use pinned versions"] == (True, "\u2611")
    assert passing["Containers run as non-root users"] == (True, "\u2611")
    # Items whose controls this run did not evaluate are never ticked.
    assert passing["Security constraints applied"] == (False, "\u2610")
    failing = _checklist(audit(weak, CHECKS).html())
    assert failing["All images use pinned versions"] == (False, "\u2610")
    assert failing["Containers run as non-root users"] == (False, "\u2610")
    assert not any(ticked for ticked, _ in failing.values())


def test_html_has_matrix_links_provenance_and_result_columns(audit, weak):
    run = audit(weak, CHECKS)
    page = run.html()
    tests = _blob(page)["tests"]
    anchors = {re.search(r'id="(result-[0-9a-f]+)"', rows[0]["resultsTableRow"][1]).group(1)
               for rows in tests.values()}
    links = set(re.findall(r'href="#(result-[0-9a-f]+)"', page))
    assert links == anchors and len(anchors) == 6
    for text in ("Provenance", "Docker 20.10", "passq-fixture/busybox:latest", "policy.yml",
                 run.json()["policy"]["sha256"], "Release gate (--fail-on low): FAILED"):
        assert text in page
    row = next(rows[0]["resultsTableRow"] for node, rows in tests.items() if "non_root_user[db]" in node)
    assert "Remediation:" in row[6] and "Config.User=" in row[6]
    assert "Set <code>user:</code> in compose" in row[6]  # the catalog's Markdown, rendered
    assert row[5].startswith('<td class="col-outcome"><span class="o-failed">failed')


def test_html_leads_with_the_gate_counts_by_severity_a_chart_and_failures_by_control(audit, weak):
    page = audit(weak, CHECKS, "--fail-on", "critical").html()
    summary = page[page.index('<div class="passq">'):]
    banner, glance, failures = (summary.index(s) for s in (
        '<div class="verdict pass" role="status"><span class="word">PASSED</span>',
        '<table class="severities">', '<h2 id="failures">Failures by control'))
    assert banner < glance < failures < summary.index("<h2>Security checklist</h2>")
    counts = re.findall(r'<tr class="(blocking|)"><td class="sev-(\w+)">\w+</td><td>(\d+)</td>', summary)
    # IMG-01 and USR-01 are high: both failures there, only critical blocks the gate
    assert counts == [("blocking", "critical", "0"), ("", "high", "2"), ("", "medium", "0"),
                      ("", "low", "0")]
    svg = re.search(r"<svg .*?</svg>", summary, re.S).group(0)
    assert "<title>Failed evaluations by severity: 0 critical, 2 high, 0 medium, 0 low</title>" in svg
    rows = re.findall(r"<tr><td>([A-Z]+-\d+) [^<]*</td>.*?<td class=\"where\">(.*?)</td></tr>",
                      summary[failures:], re.S)
    assert [(control, re.findall(r">(\w+)</a>", where)) for control, where in rows] == [
        ("IMG-01", ["db"]), ("USR-01", ["db"])]


def test_markup_from_a_label_is_escaped_everywhere_in_the_html(audit, weak):
    page = audit(weak, CHECKS).html()
    assert "<script>alert(1)</script>" not in page
    # pytest-html's JavaScript inserts these values as HTML; the test ids it keys
    # them by only ever become a DOM id property, never markup.
    values = "\n".join(_strings(_blob(page)))
    assert "<script>alert" not in values and "&lt;script&gt;alert(1)&lt;/script&gt;" in values
    assert "<th>&lt;script&gt;alert(1)&lt;/script&gt;</th>" in page  # matrix column


def test_a_container_name_with_markup_is_escaped_in_its_row():
    record = {"control": "USR-01", "title": "t", "severity": "high", "service": "web",
              "container": "<script>alert(1)</script>", "outcome": "failed", "evidence": "<b>",
              "remediation": "r", "waiver": None, "message": "<i>", "test": "t.py::x[web]"}

    class Report:
        compliance_entry = record
        when, passed, sections = "call", False, []

    cells = ["<td>Failed</td>", "test", "duration", "<td>links</td>"]
    html_report.results_table_row(Report, cells)
    joined = "".join(cells)
    assert "<script>" not in joined and "<i>" not in joined
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in joined
    assert "<code>&lt;b&gt;</code>" in joined and "<div>&lt;i&gt;</div>" in joined


def test_no_environment_value_reaches_any_report(audit, weak):
    run = audit(weak, CHECKS + """
    @pytest.mark.control("SEC-02")
    def test_leaky_check(container, verdict):
        from compliance import outcomes
        value = container.env.get("DB_PASSWORD", "none")
        if container.service == "db":
            raise RuntimeError(f"unexpected value {value}")
        verdict(outcomes.failed(f"should not hold {value}", f"DB_PASSWORD={value}"))
    """)
    for name in ("compliance.json", "compliance.sarif", "compliance.html", "junit.xml"):
        assert SECRET not in (run.report_dir / name).read_text(), name
    assert SECRET not in run.text()


def test_junit_goes_to_the_report_dir_with_the_controls_properties(audit, hardened):
    junit = (audit(hardened, CHECKS).report_dir / "junit.xml").read_text()
    assert '<property name="control" value="USR-01" />' in junit
    assert '<property name="outcome" value="passed" />' in junit


def test_junit_test_cases_are_named_by_their_control(audit, weak):
    """CI test views list a test case by name and classname, not by its properties."""
    run = audit(weak, CHECKS)
    cases = ElementTree.parse(run.report_dir / "junit.xml").getroot().iter("testcase")
    names = {case.get("name"): case.get("classname") for case in cases}
    assert {"IMG-01 test_image_pinned[db]", "USR-01 test_non_root_user[db]",
            "USR-01 test_non_root_user[web]"} <= set(names)
    assert all(re.fullmatch(r"(IMG|USR)-01 test_\w+\[.+\]", name) for name in names), names
    assert set(names.values()) == {"test_compliance"}
    assert "record_xml_attribute" not in run.text()  # its warnings are not for this use


def test_an_interrupted_write_keeps_the_old_report(tmp_path, monkeypatch):
    target = tmp_path / "compliance.json"
    files.write_json(target, {"gate": {"passed": False}})

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", killed)
    with pytest.raises(KeyboardInterrupt):
        files.write_json(target, {"gate": {"passed": True}})
    assert json.loads(target.read_text()) == {"gate": {"passed": False}}
    assert [p.name for p in tmp_path.iterdir()] == ["compliance.json"]


def test_a_passed_set_up_or_tear_down_gets_no_row_unless_it_printed():
    class Quiet:
        when, passed, outcome, sections, nodeid = "setup", True, "passed", [], "t.py::x[web]"

    class Talkative(Quiet):
        when, sections = "teardown", [("Captured stdout teardown", "bye")]

    quiet, talkative = ["<td>Passed</td>", "test", "duration", "<td></td>"], ["<td>Passed</td>", "test",
                                                                              "duration", "<td></td>"]
    html_report.results_table_row(Quiet, quiet)
    html_report.results_table_row(Talkative, talkative)
    assert quiet == [] and len(talkative) == 7


def test_the_results_table_has_one_outcome_column_and_no_links_column():
    header = ['<th class="sortable" data-column-type="result">Result</th>', "<th>Test</th>",
              "<th>Duration</th>", "<th>Links</th>"]
    html_report.results_table_header(header)
    assert [re.sub(r"<[^>]+>", "", cell) for cell in header] == [
        "Result", "Control", "Severity", "Service", "Container", "Outcome", "Evidence"]
    # pytest-html's Result stays, for its filters and sorting, and is hidden by the stylesheet
    assert '#results-table th[data-column-type="result"], #results-table td.col-result {display: none}' \
        in html_report.STYLE


def test_remediation_markdown_is_rendered_and_everything_else_escaped():
    e = html_report.Escape(str)
    assert html_report.markdown("Set `read_only: true` and **mount** <b>tmpfs</b>.", e) == (
        "Set <code>read_only: true</code> and <strong>mount</strong> &lt;b&gt;tmpfs&lt;/b&gt;.")
    assert html_report.markdown("`<script>` [docs](https://docs.docker.com/x?a=1&b=2)", e) == (
        '<code>&lt;script&gt;</code> <a href="https://docs.docker.com/x?a=1&amp;b=2">docs</a>')
    assert html_report.markdown("[x](javascript:alert(1))", e) == "[x](javascript:alert(1))"
    for control in controls.CATALOG.values():  # every backtick of the catalog pairs up
        assert "`" not in re.sub(r"<code>.*?</code>", "", html_report.markdown(control.remediation, e))


def test_a_findings_record_opens_in_the_page_not_through_a_data_link():
    record = {"control": "USR-01", "outcome": "failed", "evidence": "<b>", "service": "db"}
    (extra,) = html_report.entry_extras(record)
    assert extra["format_type"] == "html" and "data:" not in extra["content"]
    pre = re.fullmatch(r'<details class="passq-record"><summary>JSON record</summary><pre>(.*)</pre>'
                       r"</details>", extra["content"], re.S).group(1)
    assert json.loads(html.unescape(pre)) == record and "<b>" not in pre
    assert html_report.entry_extras({**record, "outcome": "passed"}) == []


def test_a_skip_logs_its_reason_not_pytests_tuple():
    class Skipped:
        longrepr = ("/x/test_secrets.py", 11, "Skipped: not applicable: no <secrets>")

    log = ["('/x/test_secrets.py', 11, 'Skipped: ...')\n", "other"]
    html_report.results_table_html(Skipped, log)
    assert log == ["Skipped: not applicable: no &lt;secrets&gt;\n", "other"]


def test_an_audit_in_this_process_leaves_the_cycle_collector_as_it_found_it(audit, weak):
    thresholds = gc.get_threshold()
    audit(weak, CHECKS)  # pytester runs it in this process: its freeze must not outlive it
    assert gc.get_freeze_count() == 0 and gc.isenabled() and gc.get_threshold() == thresholds
