"""A monorepo in one static run (issue 24): `--project [NAME=]PATH[,PATH...]`, the files compose
itself picks in a folder, every project rendered at once by the real compose, test ids that
name the project, and every report keeping each project's results apart (rendered from
hand-made AuditRecords: tests/records.py)."""

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from compliance.report import html, json_report, sarif, terminal
from compliance.sources import compose_files, declared, projects
from compliance.sources.compose_files import ComposeError
from tests.records import make_record, metadata, result
from tests.test_reports import SARIF_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
SERVICE = "  {name}:\n    image: passq-fixture/busybox:1.35\n"


def compose(folder: Path, *names: str, file: str = "compose.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file
    path.write_text("services:\n" + "".join(SERVICE.format(name=n) for n in names))
    return path


@pytest.fixture
def monorepo(tmp_path, monkeypatch):
    """Three project folders, run from the repository's root (as CI runs the gate)."""
    monkeypatch.chdir(tmp_path)
    compose(tmp_path / "api", "web", "db")
    compose(tmp_path / "shop", "web", file="docker-compose.yml")
    compose(tmp_path / "tools" / "ci", "runner")
    return tmp_path


# -- naming projects, finding their files ------------------------------------------

def test_a_folder_stands_for_the_files_compose_picks_there_and_names_the_project(monorepo):
    assert projects.parse("api") == projects.Project("api", (Path("api/compose.yaml"),))
    assert projects.parse("./shop/") == projects.Project("shop", (Path("shop/docker-compose.yml"),))
    assert projects.parse("tools/ci").name == "tools/ci"
    assert projects.parse(str(monorepo / "api")).name == "api"  # relative to the current folder


def test_a_name_a_file_and_several_paths(monorepo):
    extra = compose(monorepo / "api", "worker", file="extra.yml")
    assert projects.parse(f"backend=api,{extra}") == projects.Project(
        "backend", (Path("api/compose.yaml"), extra))
    assert projects.parse("shop/docker-compose.yml") == projects.Project(
        "shop", (Path("shop/docker-compose.yml"),))


def test_the_current_folder_is_named_dot(monorepo):
    compose(monorepo, "edge")
    assert projects.parse(".") == projects.Project(".", (Path("compose.yaml"),))


@pytest.mark.parametrize("files, picked", [
    (["docker-compose.yaml", "docker-compose.yml", "compose.yml", "compose.yaml"], ["compose.yaml"]),
    (["docker-compose.yaml", "docker-compose.yml", "compose.yml"], ["compose.yml"]),
    (["docker-compose.yaml", "docker-compose.yml"], ["docker-compose.yml"]),
    (["compose.yaml", "compose.override.yaml", "docker-compose.override.yml"],
     ["compose.yaml", "compose.override.yaml"]),
    (["docker-compose.yaml", "compose.override.yml", "compose.override.yaml"],
     ["docker-compose.yaml", "compose.override.yml"]),
])
def test_the_files_picked_are_the_ones_compose_itself_reads_there(tmp_path, files, picked):
    """Each candidate declares its own service: compose run in the folder without -f renders
    exactly the services of the files picked."""
    for n, name in enumerate(files):
        compose(tmp_path, f"s{n}", file=name)
    found = projects.picked(tmp_path)
    assert [p.name for p in found] == picked
    itself = subprocess.run([*compose_files.compose_command(), "config", "--services"], cwd=tmp_path,
                            capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    assert sorted(itself.stdout.split()) == sorted(compose_files.load(found).services)


@pytest.mark.parametrize("spec, message", [
    ("nowhere", "--project nowhere: nowhere: no such file or folder"),
    ("api,gone.yml", "--project api,gone.yml: gone.yml: no such file or folder"),
    ("empty", "--project empty: no compose file in empty/ (looked for compose.yaml, compose.yml, "
              "docker-compose.yml, docker-compose.yaml)"),
    ("=api", "--project '=api': expected [NAME=]PATH[,PATH...]"),
    ("x=", "--project 'x=': expected [NAME=]PATH[,PATH...]"),
    ("api,", "--project 'api,': expected [NAME=]PATH[,PATH...]"),
    ("a:b=api", "--project a:b=api: the project name 'a:b' cannot lead a test id (no space, ':', ',', "
                "'[' or ']'): name it (NAME=PATH)"),
    ("my app", "--project my app: the project name 'my app' cannot lead a test id (no space, ':', ',', "
               "'[' or ']'): name it (NAME=PATH)"),
])
def test_a_wrong_spec_is_one_line_naming_it(monorepo, spec, message):
    (monorepo / "empty").mkdir()
    compose(monorepo / "my app", "x")
    with pytest.raises(ComposeError) as caught:
        projects.parse(spec)
    assert str(caught.value) == message


def test_two_projects_of_one_name_are_refused(monorepo):
    compose(monorepo / "other" / "api", "x")
    with pytest.raises(ComposeError, match=r"^--project: two projects are named 'api': name them "
                                           r"apart \(NAME=PATH\)$"):
        projects.parse_all(["api", "api=other/api"])
    assert [p.name for p in projects.parse_all(["api", "api2=other/api"])] == ["api", "api2"]


# -- loading them all at once ---------------------------------------------------------

def test_every_project_is_rendered_with_its_name_in_the_order_given(monorepo):
    models = projects.load_all(projects.parse_all(["shop", "api", "tools/ci"]))
    assert [(m.project, sorted(m.services)) for m in models] == [
        ("shop", ["web"]), ("api", ["db", "web"]), ("tools/ci", ["runner"])]
    assert [m.sources[0].path for m in models] == [
        "shop/docker-compose.yml", "api/compose.yaml", "tools/ci/compose.yaml"]
    assert projects.provenance(models)[1] == {"name": "api", "compose_files": [
        {"path": "api/compose.yaml", "sha256": models[1].sources[0].sha256}]}


def test_a_project_that_fails_to_render_is_named_in_the_error(monorepo):
    (monorepo / "shop" / "docker-compose.yml").write_text("services:\n  web:\n    image: 3\n    nope: 1\n")
    with pytest.raises(ComposeError) as caught:
        projects.load_all(projects.parse_all(["api", "shop", "tools/ci"]))
    message = str(caught.value)
    assert message.startswith("project shop: compose file shop/docker-compose.yml is invalid: ")
    assert message.endswith("services.web.image must be a string") and "\n" not in message


def test_test_ids_lead_with_the_project_and_a_single_model_keeps_its_own(monorepo):
    (api,) = projects.load_all(projects.parse_all(["api"]))
    assert [s.test_id for s in declared.stack(api).containers] == ["api:db", "api:web"]
    alone = compose_files.load([monorepo / "api" / "compose.yaml"])
    assert alone.project is None
    assert [s.test_id for s in declared.stack(alone).containers] == ["db", "web"]


# -- every report keeps each project apart -----------------------------------------------

API = {"name": "api", "compose_files": [{"path": "api/compose.yaml", "sha256": "a" * 64}]}
SHOP = {"name": "shop", "compose_files": [{"path": "shop/docker-compose.yml", "sha256": "b" * 64}]}


def in_project(project: str, control: str, outcome: str, service: str | None, **fields):
    """A result of a run of several projects: its test id leads with the project."""
    found = result(control, outcome, service, project=project, container=None, **fields)
    test = found.nodeid.split("[")[0]
    return dataclasses.replace(found, nodeid=f"{test}[{project}:{service or ''}]".replace(":]", "]"))


RESULTS = (
    in_project("api", "USR-01", "failed", "db", location={"file": "api/compose.yaml", "line": 5}),
    in_project("api", "HRD-06", "failed", "web"),
    in_project("api", "IMG-01", "passed", "web"),
    in_project("shop", "IMG-01", "passed", "web"),
    in_project("shop", "NET-03", "failed", None),
    in_project("shop", "HRD-01", "error", "web", message="no SecurityOpt"),
)


def monorepo_record(results=RESULTS, **fields):
    meta = metadata(static=True, stack=None, judged="static audit of projects api, shop",
                    engine={"host": None, "version": None, "api_calls": 0}, images=[],
                    compose_files=[*API["compose_files"], *SHOP["compose_files"]], projects=[API, SHOP])
    return make_record(results, passed=False, metadata=meta, **fields)


def test_compliance_json_lists_each_project_with_its_files_and_counts_and_each_results_project():
    document = json.loads(json.dumps(json_report.document(monorepo_record())))
    assert document["projects"] == [
        {**API, "summary": {"passed": 1, "failed": 2, "waived": 0, "skipped": 0, "error": 0}},
        {**SHOP, "summary": {"passed": 1, "failed": 1, "waived": 0, "skipped": 0, "error": 1}}]
    assert [(r["project"], r["control"], r["service"]) for r in document["results"]] == [
        (r.project, r.control, r.service) for r in RESULTS]
    assert document["summary"]["failed"] == 3


def test_a_single_project_runs_reports_have_no_project_keys():
    record = make_record([result("USR-01", "failed", "db")], passed=False)
    document = json_report.document(record)
    assert "projects" not in document and "project" not in document["results"][0]
    (run,) = sarif.document(record)["runs"]
    assert "automationDetails" not in run and "project" not in run["properties"]


def test_sarif_writes_one_run_per_project_named_by_its_automation_id():
    document = sarif.document(monorepo_record())
    validator = jsonschema.Draft7Validator(SARIF_SCHEMA)
    assert not [e.message for e in validator.iter_errors(document)]
    api, shop = document["runs"]
    assert [run["automationDetails"]["id"] for run in (api, shop)] == [
        "passq-compliance/api/", "passq-compliance/shop/"]
    assert [r["ruleId"] for r in api["results"]] == ["USR-01", "HRD-06"]
    assert [r["ruleId"] for r in shop["results"]] == ["NET-03"]
    # a result without a line hangs on its own project's first compose file
    api_web, shop_stack = api["results"][1]["locations"][0], shop["results"][0]["locations"][0]
    assert api_web["physicalLocation"]["artifactLocation"]["uri"] == "api/compose.yaml"
    assert shop_stack["physicalLocation"]["artifactLocation"]["uri"] == "shop/docker-compose.yml"
    assert shop_stack["logicalLocations"][0]["fullyQualifiedName"] == "shop"
    assert (api["invocations"][0]["executionSuccessful"], shop["invocations"][0]["executionSuccessful"]) == (
        True, False)  # shop's HRD-01 could not be evaluated
    notes = shop["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["HRD-01"]
    assert api["properties"]["compose_files"] == API["compose_files"]
    assert shop["properties"]["project"] == "shop"
    # the same control on a service of the same name in two projects: two alerts, not one
    web = [in_project(p, "HRD-06", "failed", "web") for p in ("api", "shop")]
    runs = sarif.document(monorepo_record(web))["runs"]
    prints = [run["results"][0]["partialFingerprints"] for run in runs]
    assert prints[0] != prints[1]


class Text(HTMLParser):
    """The page's text and its headings, in order."""

    def __init__(self):
        super().__init__()
        self.text, self.headings, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        if re.fullmatch(r"h[1-6]", tag):
            self._in, self.headings = tag, [*self.headings, (tag, "")]

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in:
            self.headings[-1] = (self.headings[-1][0], self.headings[-1][1] + data)


def page(record) -> tuple[str, Text]:
    prefix = []
    html.results_summary(prefix, record, {})
    parsed = Text()
    parsed.feed("".join(prefix))
    return "".join(prefix), parsed


def test_the_html_groups_failures_by_project_then_control_and_has_a_section_per_project():
    markup, parsed = page(monorepo_record())
    headings = parsed.headings
    assert ("h2", "Failures by project and control") in headings
    first = headings.index(("h2", "Failures by project and control"))
    assert headings[first + 1:first + 3] == [("h3", "Project api files in api/"),
                                             ("h3", "Project shop")]  # no line: no folder
    for name in ("api", "shop"):
        section = headings.index(("h2", f"Project {name}"))
        assert headings[section + 1:section + 3] == [("h3", "Security checklist"),
                                                     ("h3", "Controls \u00d7 services")]
    api_failures = markup.split("<h3>")[1]
    assert "USR-01" in api_failures and "HRD-06" in api_failures and "NET-03" not in api_failures
    assert 'id="project-shop"' in markup and "shop/docker-compose.yml" in markup


def test_a_single_project_page_keeps_its_headings():
    _, parsed = page(make_record([result("USR-01", "failed", "db")], passed=False))
    assert [h for h in parsed.headings if h[0] == "h2"][:3] == [
        ("h2", "Failures by control"), ("h2", "Security checklist"), ("h2", "Controls \u00d7 services")]


def test_a_result_row_names_its_project_before_its_service():
    row = ["<td>Failed</td>"]
    report = type("Report", (), {"when": "call", "passed": False, "sections": [], "nodeid": "x",
                                 "compliance_entry": html.entry(RESULTS[0], str)})()
    html.results_table_row(report, row)
    assert '<td class="col-service"><span class="project">api:</span>db</td>' in row


@pytest.fixture
def config(pytester, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return pytester.parseconfig()


def test_the_terminal_leads_each_finding_with_its_project_and_counts_each_project(config, monkeypatch):
    out = io.StringIO()
    terminal.summary(pytest.TerminalReporter(config, file=out), monorepo_record(), "reports")
    lines = out.getvalue().splitlines()
    assert "api/compose.yaml:5: USR-01 api:db: should hold (evidence: Fact=1)" in lines
    assert "NET-03 shop:(stack): should hold (evidence: Fact=1)" in lines
    assert "project api: 1 passed, 2 failed" in lines
    assert "project shop: 1 passed, 1 failed, 1 error" in lines
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert terminal.annotation(RESULTS[1]).startswith("::error title=HRD-06 api%3Aweb::")


# -- the command ----------------------------------------------------------------------------

COMMAND = Path(sys.executable).parent / "passq-compliance"


def run(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(COMMAND), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/passq-no-engine.sock"})


def test_help_names_the_option_an_example_and_the_plugins_a_static_run_loads():
    text = run("--help").stdout
    assert "--project [NAME=]PATH[,PATH...]" in text
    assert "--static-only --project api --project web=web,web/ci.yml --project tools/ci" in text
    assert "only the suite's, pytest-html's and pytest-metadata's pytest plugins load" in text
    assert "a check's output and log records are not captured" in text


def test_a_static_run_loads_only_the_plugins_it_uses_and_those_the_user_names():
    static = ["--static-only", "--compose-file=fixtures/stacks/weak/compose.yml",
              "--policy=fixtures/stacks/weak/policy.yml", "--co"]
    plugins = [line for line in run(*static).stdout.splitlines() if line.startswith("plugins:")]
    assert len(plugins) == 1
    assert re.fullmatch(r"plugins: passq-compliance-[\d.]+, html-[\d.]+, metadata-[\d.]+", plugins[0])
    named = run(*static, "-p", "hypothesispytest").stdout
    assert "metadata-3.1.1, hypothesis-" in named
    assert "PytestAssertRewriteWarning" not in named  # `-p html` is also the standard library's html


# -- one run over the projects of a monorepo --------------------------------------------------

MONOREPO_WAIVERS = """\
- {control: IMG-01, service: web, project: shop, reason: vendor image, approved_by: a@x, expires: 2099-01-31}
"""


def test_one_static_run_judges_every_project_apart_in_every_report(monorepo):
    """Three folders, one run: each project's services are judged with the project in their
    test ids, each stack-level control once per project, a waiver for one project's `web`
    waives that one only, and every report keeps the projects apart."""
    (monorepo / "shop" / "docker-compose.yml").write_text(
        "services:\n  web:\n    image: passq-fixture/busybox\n")  # a floating tag: IMG-01 fails
    compose(monorepo / "api", "web", file="compose.override.yaml")
    (monorepo / "waivers.yml").write_text(MONOREPO_WAIVERS)
    done = run("--static-only", "--project=api", "--project=shop", "--project", "ci=tools/ci",
               f"--policy={ROOT / 'benchmarks' / 'static-policy.yml'}", "--waivers=waivers.yml",
               "--report-dir=reports", "-p", "no:cacheprovider", cwd=monorepo)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    document = json.loads((monorepo / "reports" / "compliance.json").read_text())
    assert document["failure"] is None
    assert [(p["name"], [f["path"] for f in p["compose_files"]]) for p in document["projects"]] == [
        ("api", ["api/compose.yaml", "api/compose.override.yaml"]), ("shop", ["shop/docker-compose.yml"]),
        ("ci", ["tools/ci/compose.yaml"])]
    results = document["results"]
    assert {(r["project"], r["service"]) for r in results if r["control"] == "HRD-01"} == {
        ("api", "db"), ("api", "web"), ("shop", "web"), ("ci", "runner")}
    assert sorted(r["test"] for r in results if r["control"] == "NET-03") == [
        "test_network.py::test_internal_networks[api]", "test_network.py::test_internal_networks[ci]",
        "test_network.py::test_internal_networks[shop]"]
    assert {r["test"] for r in results if r["control"] == "USR-01" and r["project"] == "api"} == {
        "test_users.py::test_non_root_user[api:db]", "test_users.py::test_non_root_user[api:web]"}
    pinned = {(r["project"], r["service"]): (r["outcome"], r["waiver"] and r["waiver"]["status"])
              for r in results if r["control"] == "IMG-01"}
    assert pinned == {("api", "db"): ("passed", None), ("api", "web"): ("passed", None),
                      ("shop", "web"): ("waived", "applied"), ("ci", "runner"): ("passed", None)}
    assert all(r["location"]["file"].startswith({"api": "api/", "shop": "shop/", "ci": "tools/ci/"}[
        r["project"]]) for r in results if r["location"])
    sarif = json.loads((monorepo / "reports" / "compliance.sarif").read_text())
    assert [run_["automationDetails"]["id"] for run_ in sarif["runs"]] == [
        "passq-compliance/api/", "passq-compliance/shop/", "passq-compliance/ci/"]
    junit = (monorepo / "reports" / "junit.xml").read_text()
    assert 'name="USR-01 test_non_root_user[shop:web]"' in junit
    assert "api/compose.yaml:4: USR-01 api:db: should declare a non-root user" in done.stdout
    assert "project shop: " in done.stdout
