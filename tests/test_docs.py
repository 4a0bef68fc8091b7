"""The docs a clone carries never drift from the code: docs/controls.md is the catalog's own
output, docs/policy.md has a row for exactly the keys the policy validator accepts, and the
README sends users to them, not to a folder a clone lacks."""

import re
from pathlib import Path

import pytest
import yaml

from compliance import controls, policy

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PROBE = "zz_probe"


def test_the_controls_doc_is_the_catalogs_output():
    """Regenerate with `.venv/bin/python -m compliance.controls > docs/controls.md`."""
    assert (DOCS / "controls.md").read_text() == controls.reference()


def accepted(tmp_path, tree) -> set[str] | None:
    """The keys the validator accepts where `tree` puts the probe key (from its own error:
    `unknown key (allowed: ...)`), or None where that place takes no fixed keys."""
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(tree))
    with pytest.raises(policy.PolicyError) as error:
        policy.load(path)
    allowed = re.search(rf"{PROBE}: unknown key \(allowed: ([^)]*)\)", str(error.value))
    return set(allowed[1].split(", ")) if allowed else None


def validator_keys(tmp_path) -> set[str]:
    """Every key of the schema as docs/policy.md names it: `section.key` for a section's keys,
    the bare name for service keys and flow keys (their tables say where they go)."""
    probe = {PROBE: 1}
    keys = set()
    for top in accepted(tmp_path, probe):
        below = accepted(tmp_path, {top: probe})
        if top == "defaults":
            keys |= {top, *below}
            continue
        if below is None:
            keys.add(top)
            continue
        for key in below:
            keys.add(f"{top}.{key}")
            item = accepted(tmp_path, {top: {key: [probe]}})  # a list of mappings (flows)
            keys |= item or set()
    return keys


def documented_keys() -> set[str]:
    """The backquoted names in the first column of docs/policy.md's tables."""
    rows = re.findall(r"^\| `([^`]+)` \|", (DOCS / "policy.md").read_text(), re.MULTILINE)
    return set(rows)


def test_the_policy_doc_has_a_row_for_every_key_the_validator_accepts_and_no_other(tmp_path):
    keys = validator_keys(tmp_path)
    assert {"stack", "defaults", "services", "user", "setuid_allowed", "flows.deny", "from",
            "database.port", "swarm.nodes"} <= keys  # the probing finds the nested keys
    service_keys = accepted(tmp_path, {"defaults": {PROBE: 1}})
    assert accepted(tmp_path, {"services": {"web": {PROBE: 1}}}) == service_keys
    assert documented_keys() == keys


def test_the_policy_doc_example_is_a_valid_policy(tmp_path):
    (example,) = re.findall(r"```yaml\n(.*?)```", (DOCS / "policy.md").read_text(), re.DOTALL)
    path = tmp_path / "policy.yml"
    path.write_text(example)
    assert policy.load(path).database.service == "db"


def test_the_readme_sends_users_to_the_docs_a_clone_has():
    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme
    for doc in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / doc).is_file(), doc
    assert "docs/controls.md" in readme and "docs/policy.md" in readme
