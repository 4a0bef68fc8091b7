"""Every declared fixture (fixtures/declared/<ID>/*.yml), judged as --static-only judges it.

A fixture is a compose file whose `x-passq-compliance:` block (compose ignores
`x-` keys) says what it shows: description, evidence (a substring of the
finding's evidence, or of a skip's reason), optionally the policy, the thin test
(where a control has several), the service (default `app`), its test id (default
the service), the `file:line` the result names (`location`: where a compose feature
such as `include:`, `extends:` or a merge key, or a Dockerfile, moves it) and the secret files
to make, each with its mode (secret files are generated, never committed: 48
random characters, like scripts/generate-secrets). Its name says the outcome.
Files a fixture includes, extends or reads (`env_file:`) sit in a folder beside
it. The real compose renders it, sources/declared.py makes its Subjects, and the
control's real thin test judges them, so a fixture proves the declared model,
the check and the wiring at once, with the file and line each result names:
every one a real file whose line holds the key that decided, else the service.
"""

import secrets
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from compliance import controls
from compliance.model import Stack
from compliance.redact import Redactor
from compliance.sources import compose_files, declared, secret_files
from tests.recorded import OUTCOMES, ROOT, Recorded, policy_from
from tests.test_recorded_controls import PREFIXES, RECORDABLE, run, thin_test_for

FIXTURES = ROOT / "fixtures" / "declared"
DECLARABLE = RECORDABLE - {"restarts"} | {"secret_files"}
STATIC = {c.id for c in controls.CATALOG.values() if c.static}  # what --static-only judges


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*/*.yml"))


def case_secrets(path: Path) -> dict:
    """The secret files a fixture makes: path -> mode."""
    return yaml.safe_load(path.read_text())["x-passq-compliance"].get("secrets") or {}


def judge(path: Path, where: Path):
    """Render the fixture in a copy at `where` (outside any git checkout), run its control's
    thin test on its Subjects; the case, the outcome and the Finding."""
    shutil.copytree(path.parent, where, dirs_exist_ok=True)
    about = yaml.safe_load(path.read_text())["x-passq-compliance"]
    for name, mode in case_secrets(path).items():
        secret = where / name
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text(secrets.token_urlsafe(36))  # 48 characters
        secret.chmod(int(mode, 8))
    model = compose_files.load([where / path.name])
    stack = declared.stack(model)
    policy = policy_from(about.get("policy"))
    control = path.parent.name
    subject = stack.service(about.get("service", "app"))[0]
    expect = next(outcome for outcome, prefix in PREFIXES.items() if path.stem.startswith(prefix))
    case = Recorded(path=path, control=control, description=about["description"], expect=expect,
                    evidence=about["evidence"], test=about.get("test"), restarts=(),
                    container=subject if not controls.CATALOG[control].stack_level else None,
                    stack=stack, policy=policy)
    func = thin_test_for(case, DECLARABLE)
    outcome, finding = run(func, case, secret_files=secret_files.collect(model, policy, where))
    where_found = finding.location or declared.location(case.container or stack, control)
    return case, outcome, finding, where_found, model


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_declared_fixture(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    case, outcome, finding, location, model = judge(path, tmp_path)
    assert outcome == case.expect, f"{case.name}: {case.description}\n{finding}"
    decided_by = finding.message if outcome == "skipped" else finding.evidence
    assert case.evidence in decided_by, f"{case.name}: evidence {decided_by!r}"
    if outcome == "failed":
        assert finding.message.startswith("should"), finding.message
    assert "HostConfig." not in finding.evidence, "a declared finding speaks compose's keys"
    assert location is not None and 1 <= location.line <= len(
        (tmp_path / location.file).read_text().splitlines()), location
    about = yaml.safe_load(path.read_text())["x-passq-compliance"]
    if finding.location is None:  # the compose key that decided, not a line the check named
        assert_points_at_its_key(location, case.container or case.stack, case.control, tmp_path)
    assert str(location) == about.get("location", str(location)), f"{case.name}: {location}"
    if case.container:
        assert case.container.test_id == about.get("test_id", case.container.service)
    made = [(tmp_path / name).read_text() for name in case_secrets(path)]
    redact = Redactor().learn([*model.secret_candidates(case.policy.credential_env_patterns), *made])
    for text in (finding.evidence, finding.message, finding.remediation):
        assert redact(text) == text, f"{case.name}: a secret value reached the finding"


def assert_points_at_its_key(location, subject, control: str, root: Path) -> None:
    """`location` is a real file under `root` (the folder the suite runs in) and its line
    holds the key that decided `control` (the first of the control's keys the service
    writes, by its last word), else the service's name; a stack's section, else line 1."""
    assert location is not None and not Path(location.file).is_absolute(), location
    lines = (root / location.file).read_text().splitlines()
    assert 1 <= location.line <= len(lines), location
    text = lines[location.line - 1]
    keys = [k for k in controls.CATALOG[control].declared_keys if k in subject.origin]
    if isinstance(subject, Stack):
        assert text.startswith(f"{keys[0]}:") if keys else location.line == 1, (location, text)
        return
    word = (keys[0].split()[-1] if keys[0].startswith("Dockerfile") else keys[0].split(".")[-1]) \
        if keys else subject.service
    assert f"{word}:" in text or text.lstrip().startswith(word), (location, text, word)


def test_every_declared_control_has_pass_and_fail_fixtures():
    by_control = defaultdict(set)
    for path in fixture_files():
        by_control[path.parent.name].add(path.stem.split("-", 1)[0])
    lacking = {c: sorted({"pass", "fail"} - by_control[c]) for c in sorted(STATIC)
               if not {"pass", "fail"} <= by_control[c]}
    assert not lacking, f"declared controls lacking fixtures: {lacking}"
    assert set(by_control) <= STATIC


def test_outcomes_are_the_recorded_ones():
    assert set(PREFIXES) == set(OUTCOMES)


# -- a project split over several files: every result names one of them, and its key's line --

PROJECT = ROOT / "tests" / "data" / "compose" / "project"
# (service, control) -> where its result points, as the files are laid out (run from the folder
# that holds `project/`): the included file, the file a service extends, the anchor, the override
WHERE = {
    ("cache", "HRD-02"): "project/services/cache.yaml:5",  # included by an included file
    ("cache", "RES-01"): "project/services/cache.yaml:6",
    ("db", "USR-01"): "project/services/db.yaml:11",  # included
    ("db", "RES-02"): "project/common/base.yaml:10",  # extended, from an included file
    ("db", "HRD-01"): "project/common/base.yaml:5",
    ("db", "RES-04"): "project/compose.prod.yaml:7",  # the override of an included service
    ("db", "HRD-02"): "project/compose.prod.yaml:6",  # no read_only: the service's last line
    ("web", "RES-01"): "project/common/base.yaml:9",  # extended
    ("web", "HRD-02"): "project/compose.prod.yaml:4",  # the override wins
    ("web", "NET-01"): "project/compose.yaml:19",
    ("worker", "HRD-01"): "project/compose.yaml:10",  # merged from the anchor
    ("worker", "HLT-01"): "project/compose.yaml:26",
    ("debug(profile=debug)", "IMG-01"): "project/compose.yaml:28",
}


def test_every_location_of_a_multi_file_project_is_a_line_that_holds_its_key(tmp_path, monkeypatch):
    shutil.copytree(PROJECT, tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    model = compose_files.load([Path("project/compose.yaml"), Path("project/compose.prod.yaml")])
    stack = declared.stack(model)
    assert [f.path for f in model.sources] == [
        "project/compose.yaml", "project/compose.prod.yaml", "project/services/db.yaml",
        "project/services/cache.yaml", "project/common/base.yaml"]
    found = {}
    for control in sorted(STATIC):
        if controls.CATALOG[control].stack_level:
            assert_points_at_its_key(declared.location(stack, control), stack, control, tmp_path)
            continue
        for subject in stack.containers:
            location = declared.location(subject, control)
            assert_points_at_its_key(location, subject, control, tmp_path)
            found[subject.test_id, control] = str(location)
    assert {key: found[key] for key in WHERE} == WHERE
    assert str(declared.location(stack, "NET-03")) == "project/compose.prod.yaml:8"
    # a service control with no declared service (a running one the files lack) points at the
    # first file, not at the top-level section that shares its key's name
    assert declared.location(stack, "NET-02") == declared.location(stack, "HRD-02") == stack.location
