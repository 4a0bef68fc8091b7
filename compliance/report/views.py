"""What every report derives from the Results: counts, checklist ticks, the matrix.

One implementation, so the JSON, SARIF and HTML can never disagree about
whether an item is ticked or how many controls failed.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from compliance import controls
from compliance.outcomes import OUTCOMES

PROVEN = ("passed", "waived")
REFUTED = ("failed", "error")


def summary(results) -> dict:
    counts = dict.fromkeys(OUTCOMES, 0)
    for result in results:
        counts[result.outcome] += 1
    return counts


def entry(result) -> dict:
    """One result as compliance.json lists it (contract keys first): its entry. (`record`
    is the whole audit's, compliance/record.py.)"""
    control = controls.describe(result.control)
    return {
        "control": control.id, "title": control.title, "severity": control.severity,
        "service": result.service, "container": result.container, "outcome": result.outcome,
        "evidence": result.evidence, "remediation": remediation(result), "waiver": result.waiver,
        "message": result.message, "test": result.nodeid, "duration_s": result.duration_s,
        "location": result.location, "node": result.node,
        **({"project": result.project} if result.project is not None else {}),
    }


def by_project(record) -> list[tuple[dict, list]]:
    """Each project of a run of several (the metadata's `projects`, in the order given: its
    name and compose files) with its results; [] for a run of one project."""
    results = defaultdict(list)
    for result in record.results:
        results[result.project].append(result)
    return [(project, results[project["name"]]) for project in record.metadata.get("projects") or ()]


def remediation(result) -> str:
    """The result's own remedy (for the reason it failed), else the catalog's."""
    return result.remediation or controls.describe(result.control).remediation


def redacted(tree, redact):
    """A copy of decoded JSON with every string passed through `redact`."""
    if isinstance(tree, str):
        return redact(tree)
    if isinstance(tree, dict):
        return {key: redacted(value, redact) for key, value in tree.items()}
    if isinstance(tree, list | tuple):
        return [redacted(value, redact) for value in tree]
    return tree


@dataclass(frozen=True)
class ChecklistItem:
    text: str
    controls: tuple[str, ...]
    counts: dict
    unproven: tuple[str, ...]  # controls with no pass or waiver in this run

    @property
    def evaluated(self) -> bool:
        """Something under the item was judged: an item whose evaluations were all
        skipped, or that has none, was not evaluated (and shows so)."""
        return any(n for outcome, n in self.counts.items() if outcome != "skipped")

    @property
    def ticked(self) -> bool:
        """Ticked only when every control under the item was proven (passed or
        waived) and nothing under it failed or errored. A control this run did not
        evaluate, or only found not applicable, proves nothing: an item not evaluated
        is never ticked."""
        return not self.unproven and not any(self.counts[o] for o in REFUTED)


def _by_control(results) -> dict[str, list]:
    by_control = defaultdict(list)
    for result in results:
        by_control[result.control].append(result)
    return by_control


def per_control(results) -> list[tuple[str, dict]]:
    """Each evaluated control, in catalog order, with its outcomes by count."""
    by_control = _by_control(results)
    return [(cid, summary(by_control[cid])) for cid in controls.CATALOG if cid in by_control]


def checklist(results) -> list[ChecklistItem]:
    by_control = _by_control(results)
    items = []
    for text, ids in controls.CHECKLIST:
        under = [r for control in ids for r in by_control[control]]
        unproven = tuple(c for c in ids if not any(r.outcome in PROVEN for r in by_control[c]))
        items.append(ChecklistItem(text, ids, summary(under), unproven))
    return items


def by_severity(results) -> list[tuple[str, dict]]:
    """Each severity, gravest first, with the outcomes of its controls' evaluations by count."""
    counts = {severity: dict.fromkeys(OUTCOMES, 0) for severity in reversed(controls.SEVERITIES)}
    for result in results:
        counts[controls.describe(result.control).severity][result.outcome] += 1
    return list(counts.items())


def failures(results) -> list[tuple[str, dict]]:
    """Each control that failed or could not be evaluated, gravest severity first (then in
    catalog order), with its refuted results by service (None for the stack), each service
    once."""
    order = {cid: n for n, cid in enumerate((*controls.CATALOG, controls.OWN.id))}
    refuted: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for result in results:
        if result.outcome in REFUTED:
            refuted[result.control][result.service].append(result)
    return sorted(refuted.items(), key=lambda item: (
        -controls.SEVERITIES.index(controls.describe(item[0]).severity), order.get(item[0], len(order))))


def matrix(results) -> tuple[list, list]:
    """Controls x services: ([service, ..., None for the stack], [(control, {service: [results]})])."""
    cells: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    for result in results:
        cells[result.control][result.service].append(result)
    services = sorted({r.service for r in results if r.service is not None})
    if any(r.service is None for r in results):
        services.append(None)
    rows = [(cid, cells[cid]) for cid in (*controls.CATALOG, controls.OWN.id) if cid in cells]
    return services, rows


def anchor(nodeid: str) -> str:
    """The HTML id of a result's row, stable across runs, safe in any attribute."""
    return "result-" + hashlib.sha1(nodeid.encode("utf-8")).hexdigest()[:12]
