"""The catalog is the contract's control table (../shared/spec/controls.md), to the letter."""

import inspect
import re
from pathlib import Path

import pytest

from compliance import controls

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "controls.md"
ROW = re.compile(r"^\| (?P<id>[A-Z]{3}-\d\d) \| (?P<title>[^|]+) \| (?P<severity>\w+) \| (?P<item>[^|]+) \| "
                 r"(?P<cis>[^|]+) \|$")


def spec_rows() -> dict[str, dict]:
    if not SPEC.is_file():
        pytest.skip(f"the contract is not beside this clone ({SPEC})")
    return {m["id"]: m.groupdict() for m in map(ROW.match, SPEC.read_text().splitlines()) if m}


def test_every_contract_control_is_in_the_catalog_with_its_title_severity_and_cis():
    rows = spec_rows()
    assert list(rows) == list(controls.CATALOG)
    for control_id, row in rows.items():
        control = controls.CATALOG[control_id]
        title = re.sub(r" \((stack|stack, live)\)$", "", row["title"].strip())
        assert (control.title, control.severity) == (title, row["severity"])
        assert control.cis == ("" if row["cis"].strip() == "\u2014" else row["cis"].strip())
        assert control.stack_level == ("(stack" in row["title"])
        assert control.live == ("live)" in row["title"])


def test_the_checklist_covers_every_control_but_the_drift_check():
    listed = [control for _, ids in controls.CHECKLIST for control in ids]
    assert len(listed) == len(set(listed))
    assert set(controls.CATALOG) - set(listed) == {"CMP-01"}  # it spans all items


def test_the_markdown_table_lists_every_control():
    table = controls.markdown()
    assert all(f"| {control_id} | " in table for control_id in controls.CATALOG)


def checklist_of_the_spec() -> list[tuple[str, list[str]]]:
    """controls.md's last section: `- Item — IMG-01`, ranges spelled `HRD-01..08`."""
    if not SPEC.is_file():
        pytest.skip(f"the contract is not beside this clone ({SPEC})")
    section = SPEC.read_text().split("## The seed's checklist, item by item", 1)[1]
    items = []
    for item, refs in re.findall(r"^- (.+?) — (.+)$", section, re.MULTILINE):
        ids = []
        for ref in refs.split(", "):
            prefix, first, _, last = re.match(r"([A-Z]{3})-(\d\d)(\.\.(\d\d))?$", ref).groups()
            ids += [f"{prefix}-{n:02d}" for n in range(int(first), int(last or first) + 1)]
        items.append((item, ids))
    return items


def test_the_checklist_is_the_contracts_eight_items_with_their_controls():
    spec = checklist_of_the_spec()
    assert len(spec) == 8
    assert [(item, sorted(ids)) for item, ids in spec] == [
        (item, sorted(ids)) for item, ids in controls.CHECKLIST]


def test_the_declared_controls_are_the_contracts_list():
    """controls.md, "Declared configuration": its list of IDs (ranges written `HRD-01..07`)."""
    if not SPEC.is_file():
        pytest.skip(f"the contract is not beside this clone ({SPEC})")
    section = SPEC.read_text().split("## Declared configuration", 1)[1].split("\n## ", 1)[0]
    listed = set()
    for prefix, first, last in re.findall(r"([A-Z]{3})-(\d\d)(?:\.\.(\d\d))?", section):
        listed |= {f"{prefix}-{n:02d}" for n in range(int(first), int(last or first) + 1)}
    assert listed - {"CMP-01"} == {c.id for c in controls.CATALOG.values() if c.static}


def test_a_control_names_the_probe_its_live_test_reads_and_only_then():
    """`Control.probe` is what the run probes ahead for the selected tests (fixtures.py): a
    control whose test reads the live probes (`live`) names a kind they observe, and one
    whose tests read none names none."""
    from compliance.sources.probes.live import KINDS
    from tests.test_recorded_controls import THIN

    reads = {control for control, tests in THIN.items()
             if any("live" in inspect.signature(test).parameters for test in tests)}
    assert {c.id for c in controls.CATALOG.values() if c.probe} == reads
    assert {c.probe for c in controls.CATALOG.values() if c.probe} <= set(KINDS)


def test_a_static_control_names_the_keys_that_decide_it():
    """A declared result points at the line of the first of its control's `declared_keys`
    the service writes (tests/test_declared_controls.py checks the lines)."""
    assert all(c.declared_keys for c in controls.CATALOG.values() if c.static)
