"""Every declared fixture (fixtures/declared/<ID>/*.yml), judged as --static-only judges it.

A fixture is a compose file whose `x-passq-compliance:` block (compose ignores
`x-` keys) says what it shows: description, evidence (a substring of the
finding's evidence, or of a skip's reason), optionally the `file:line` the result
names (location), the policy, the thin test
(where a control has several), the service (default `app`) and the secret files
to make, each with its mode (secret files are generated, never committed: 48
random characters, like scripts/generate-secrets). Its name says the outcome. The real
compose renders it, sources/declared.py makes its Subjects, and the control's
real thin test judges them, so a fixture proves the declared model, the check
and the wiring at once, with the file and line each result names.
"""

import secrets
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from compliance import controls
from compliance.redact import Redactor
from compliance.sources import compose_files, declared, secret_files
from tests.recorded import OUTCOMES, ROOT, Recorded, policy_from
from tests.test_recorded_controls import PREFIXES, RECORDABLE, run, thin_test_for

FIXTURES = ROOT / "fixtures" / "declared"
DECLARABLE = RECORDABLE - {"restarts"} | {"secret_files"}


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
    outcome, finding = run(func, case, spoken=declared.spoken,
                           secret_files=secret_files.collect(model, policy, where))
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
    assert str(location) == about.get("location", str(location)), f"{case.name}: {location}"
    made = [(tmp_path / name).read_text() for name in case_secrets(path)]
    redact = Redactor().learn([*model.secret_candidates(case.policy.credential_env_patterns), *made])
    for text in (finding.evidence, finding.message, finding.remediation):
        assert redact(text) == text, f"{case.name}: a secret value reached the finding"


def test_every_declared_control_has_pass_and_fail_fixtures():
    by_control = defaultdict(set)
    for path in fixture_files():
        by_control[path.parent.name].add(path.stem.split("-", 1)[0])
    lacking = {c: sorted({"pass", "fail"} - by_control[c]) for c in sorted(controls.DECLARED)
               if not {"pass", "fail"} <= by_control[c]}
    assert not lacking, f"declared controls lacking fixtures: {lacking}"
    assert set(by_control) <= controls.DECLARED


def test_outcomes_are_the_recorded_ones():
    assert set(PREFIXES) == set(OUTCOMES)
