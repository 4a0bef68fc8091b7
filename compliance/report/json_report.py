"""compliance.json: the machine-readable record (interface.md, "compliance.json").

The keys of the contract's schema come first and keep their meaning; what is
added (what was judged, the compose files with their SHA-256, a declared
result's location, image digests, engine API calls, the waiver file and its
unused waivers, the reason a run audited nothing, the run's warnings) is additive only, so a
consumer of `passq-compliance/1` keeps working. A static audit has no stack:
`"stack": null`, and `compose_files` names what it judged. A run of several projects
(--project) lists each under `projects` (its name, compose files and counts), and each
result names its `project`; a run of one has neither key.
"""

from pathlib import Path

from compliance import controls
from compliance.report import files, views

SCHEMA = "passq-compliance/1"


def document(record) -> dict:
    meta, results = record.metadata, record.results
    doc = {
        "schema": SCHEMA,
        "stack": meta["stack"],
        "started_at": meta["started_at"],
        "duration_s": meta["duration_s"],
        "engine": meta["engine"],
        "policy": meta["policy"],
        "summary": views.summary(results),
        "gate": {"fail_on": record.fail_on, "passed": record.gate_passed},
        "results": [views.entry(r) for r in results],
        "judged": meta["judged"],
        "static": meta["static"],
        "compose_files": meta["compose_files"],
        "images": [{"ref": ref, "digest": digest} for ref, digest in meta["images"]],
        "waivers": {**meta["waivers"],
                    "applied": sum(r.outcome == "waived" for r in results),
                    "unused": list(record.unused_waivers)},
        "cis_version": controls.CIS_VERSION,
        "suite_version": meta["suite_version"],
        "failure": record.failure,
        "warnings": list(record.warnings),
    }
    if projects := views.by_project(record):
        doc["projects"] = [{**project, "summary": views.summary(results)} for project, results in projects]
    return views.redacted(doc, record.redact)


def write(record, path: Path) -> None:
    files.write_json(path, document(record))
