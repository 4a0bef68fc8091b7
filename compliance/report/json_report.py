"""compliance.json: the machine-readable record (interface.md, "compliance.json").

The keys of the contract's schema come first and keep their meaning; what is
added (image digests, engine API calls, the waiver file and its unused
waivers, the reason a run audited nothing) is additive only, so a consumer of
`passq-compliance/1` keeps working.
"""

from pathlib import Path

from compliance import controls
from compliance.report import files, views

SCHEMA = "passq-compliance/1"


def document(audit) -> dict:
    meta = audit.metadata()
    results = audit.results
    doc = {
        "schema": SCHEMA,
        "stack": meta["stack"],
        "started_at": meta["started_at"],
        "duration_s": meta["duration_s"],
        "engine": meta["engine"],
        "policy": meta["policy"],
        "summary": views.summary(results),
        # No results, or an audit that failed to load, is never a pass.
        "gate": {"fail_on": audit.option("fail_on"), "passed": bool(audit.passed and results)},
        "results": [views.record(r) for r in results],
        "images": [{"ref": ref, "digest": digest} for ref, digest in meta["images"]],
        "waivers": {**meta["waivers"],
                    "applied": sum(r.outcome == "waived" for r in results),
                    "unused": audit.unused_waivers()},
        "cis_version": controls.CIS_VERSION,
        "suite_version": meta["suite_version"],
        "failure": audit.failure,
    }
    return views.redacted(doc, audit.redact)


def write(audit, path: Path) -> None:
    files.write_json(path, document(audit))
