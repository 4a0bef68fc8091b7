"""Every recorded inspect fixture, run through the real thin test of its control.

The thin test in compliance/checklist is found by its `control` marker and called
with the arguments it asks for, built from the fixture; its verdict is the
real `compliance.outcomes.verdict`, wrapped only to see the Finding. So a
fixture proves the check, the test's wiring and the pytest outcome at once.
"""

import importlib.util
import inspect
from collections import defaultdict

import pytest

from compliance import controls, outcomes
from compliance.redact import Redactor
from tests.recorded import FIXTURES, ROOT, fixture_files, load

PREFIXES = {"passed": "pass-", "failed": "fail-", "skipped": "skipped-", "error": "error-"}
# What a recorded fixture can give a thin test; a control whose tests need more (Trivy
# reports, the compose model, secret files) has its own fixtures elsewhere (fixtures/trivy).
RECORDABLE = {"container", "stack", "policy", "service_policy", "restarts", "verdict"}


def thin_tests() -> dict[str, list]:
    """Control ID -> the thin test functions marked with it."""
    found = defaultdict(list)
    for path in sorted((ROOT / "compliance" / "checklist").glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"thin_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, func in vars(module).items():
            for mark in getattr(func, "pytestmark", []) if name.startswith("test_") else ():
                if mark.name == "control":
                    found[mark.args[0]].append(func)
    return found


THIN = thin_tests()


def thin_test_for(case, recordable=RECORDABLE):
    """The control's one recordable test for this case: named by the fixture, else the
    per-container test when the fixture has a container and the stack-level one when it
    has none. Tests that need more than a fixture gives (live probes) are not candidates."""
    funcs = [f for f in THIN[case.control] if set(inspect.signature(f).parameters) <= recordable]
    if case.test:
        funcs = [f for f in funcs if f.__name__ == case.test]
    else:
        per_container = case.container is not None
        funcs = [f for f in funcs if ("container" in inspect.signature(f).parameters) == per_container]
    assert len(funcs) == 1, f"{case.name}: expected one thin test for {case.control}, found {funcs}"
    return funcs[0]


def run(func, case, **more):
    """Call the thin test as pytest would; return the outcome and the Finding it reported
    (`more`: other arguments)."""
    seen = []

    def verdict(finding):
        seen.append(finding)
        outcomes.verdict(finding)

    service_policy = case.policy.for_service(case.container.service) if case.container else None
    available = {"container": case.container, "stack": case.stack, "policy": case.policy,
                 "service_policy": service_policy, "restarts": case.restarts, "verdict": verdict,
                 **more}
    kwargs = {name: available[name] for name in inspect.signature(func).parameters}
    try:
        func(**kwargs)
        outcome = "passed"
    except outcomes.ControlFailed:
        outcome = "failed"
    except outcomes.ControlError:
        outcome = "error"
    except pytest.skip.Exception:
        outcome = "skipped"
    assert len(seen) == 1, f"{func.__name__} reported {len(seen)} findings, expected one"
    return outcome, seen[0]


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recorded_fixture(path):
    case = load(path)
    outcome, finding = run(thin_test_for(case), case)
    assert outcome == case.expect, f"{case.name}: {case.description}\n{finding}"
    decided_by = finding.message if outcome == "skipped" else finding.evidence
    assert case.evidence in decided_by, f"{case.name}: evidence {decided_by!r}"
    if outcome == "failed":
        assert finding.message.startswith("should"), finding.message
    if outcome in ("skipped", "error"):
        assert finding.message, "a skip or an error must give its reason"
    redact = Redactor.for_containers(case.stack.containers, case.policy.credential_env_patterns)
    for text in (finding.evidence, finding.message, finding.remediation):
        assert redact(text) == text, f"{case.name}: a secret value reached the finding"


def recordable(control: str) -> bool:
    """The control has a thin test that inspect facts and the policy alone can drive."""
    return any(set(inspect.signature(f).parameters) <= RECORDABLE for f in THIN[control])


def test_every_control_has_pass_and_fail_fixtures():
    by_control = defaultdict(set)
    for path in fixture_files():
        by_control[path.parent.name].add(path.stem.split("-", 1)[0])
    lacking = {c: sorted({"pass", "fail"} - by_control[c]) for c in controls.CATALOG
               if recordable(c) and not {"pass", "fail"} <= by_control[c]}
    assert not lacking, f"controls lacking recorded fixtures: {lacking}"


def test_fixture_dirs_are_catalog_controls():
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} <= set(controls.CATALOG)


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_name_states_its_outcome(path):
    assert path.stem.startswith(PREFIXES[load(path).expect])
