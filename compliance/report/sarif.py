"""compliance.sarif: SARIF 2.1.0 for code-scanning dashboards.

One rule per catalog control (so a dashboard can explain any control, failed
or not) and one result per failed evaluation; a waived one is a result too,
suppressed (`kind: external`, `status: accepted`) with the waiver's reason, so
a dashboard shows it as dismissed by that decision instead of not knowing it. A container is no
source file: each result names it as a logical location and points its
physical location at the file that declares what should run (the first
--compose-file, else the policy), because code-scanning tools such as GitHub's
need a file to hang a result on. Errors, which are no findings but leave a
control unproven, are tool execution notifications; unused and stale waivers
are configuration notifications. A run of several projects (--project) writes one SARIF
run per project.
"""

import functools
import hashlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from compliance import __version__, controls
from compliance.report import files, views

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub code scanning ranks by this 0-10 score (>= 9 critical, >= 7 high, >= 4 medium).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def rule(control) -> dict:
    return {
        "id": control.id,
        "name": "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", control.title)),
        "shortDescription": {"text": control.title},
        "fullDescription": {"text": control.rationale},
        "help": {"text": control.remediation},
        "defaultConfiguration": {"level": LEVELS[control.severity]},
        "properties": {
            "severity": control.severity,
            "cis": f"{controls.CIS_VERSION} {control.cis}" if control.cis else "",
            "checklist": control.checklist,
            "security-severity": SECURITY_SEVERITY[control.severity],
            "tags": ["security", "docker", "compliance", control.area],
        },
    }


def document(record) -> dict:
    """One run; a run of several projects (--project) gives one SARIF run per project, each
    named by its `automationDetails.id` (code scanning keeps one category per run), its
    results hung on that project's first compose file."""
    meta = record.metadata
    own = [controls.OWN.id] if any(r.control == controls.OWN.id for r in record.results) else []
    ids = [*controls.CATALOG, *own]
    projects = views.by_project(record)
    if not projects:
        runs = [_run(record, record.results, ids, meta["stack"] or meta["judged"], _declaring_file(meta),
                     record.unused_waivers)]
    else:
        runs = [_run(record, results, ids, project["name"],
                     _declaring_file({**meta, "compose_files": project["compose_files"]}),
                     record.unused_waivers if n == 0 else (), project)
                for n, (project, results) in enumerate(projects)]
    return views.redacted({"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}, record.redact)


def _run(record, results, ids, subject: str, declaring: str | None, unused, project=None) -> dict:
    """The SARIF run of `results`: the gate and provenance in its properties; the unused
    waivers as configuration notifications (in the first run only, when there are several)."""
    meta = record.metadata
    run = {
        "tool": {"driver": {
            "name": "passq-compliance", "version": __version__, "semanticVersion": __version__,
            "rules": [rule(controls.describe(cid)) for cid in ids],
        }},
        "invocations": [{
            "executionSuccessful": record.failure is None and not any(
                r.outcome == "error" for r in results),
            "startTimeUtc": meta["started_at"],
            "endTimeUtc": _utc(record.finished),
            "toolExecutionNotifications": _execution_notes(record, results, ids),
            "toolConfigurationNotifications": [
                {"level": "warning",
                 "message": {"text": f"waiver {w['control']}"
                                     f"{' for ' + w['service'] if w['service'] else ''} "
                                     f"({meta['waivers']['path']}:{w['line']}) is unused: {w['why']}"},
                 "descriptor": {"id": w["control"], "index": ids.index(w["control"])}}
                for w in unused
            ],
        }],
        "results": [_result(r, ids, subject, declaring) for r in results
                    if r.outcome in ("failed", "waived")],
        "properties": {
            "stack": meta["stack"], "judged": meta["judged"],
            "compose_files": project["compose_files"] if project else meta["compose_files"],
            "engine": meta["engine"], "policy": meta["policy"],
            "gate": {"fail_on": record.fail_on, "passed": record.gate_passed},
        },
    }
    if project is not None:
        run["automationDetails"] = {"id": f"passq-compliance/{project['name']}/"}
        run["properties"]["project"] = project["name"]
    return run


def write(record, path: Path) -> None:
    files.write_json(path, document(record))


def _result(result, ids, subject: str, declaring: str | None) -> dict:
    control = controls.describe(result.control)
    where = (f"service {result.service}, container {result.container}" if result.container
             else f"service {result.service}" if result.service else subject)
    message = (f"{control.id} {control.title}: {result.message or 'failed'} "
               f"({where}; evidence: {result.evidence})")
    qualified = "/".join(p for p in (subject, result.service, result.container) if p)
    location = {"logicalLocations": [{
        "name": result.container or result.service or subject,
        "fullyQualifiedName": qualified,
        "kind": "resource",
    }]}
    if result.location:
        location["physicalLocation"] = {"artifactLocation": {"uri": uri(result.location["file"])},
                                        "region": {"startLine": result.location["line"]}}
    elif declaring:
        location["physicalLocation"] = {"artifactLocation": {"uri": declaring}}
    found = {
        "ruleId": control.id,
        "ruleIndex": ids.index(control.id),
        "level": LEVELS[control.severity],
        "message": {"text": message},
        "locations": [location],
        # Stable across runs for the same control on the same service, so a
        # dashboard tracks one alert instead of opening a new one per container id.
        "partialFingerprints": {"passqControl/v1": hashlib.sha256(
            f"{control.id}|{subject}|{result.service}".encode()).hexdigest()},
        "properties": {"service": result.service, "container": result.container, "node": result.node,
                       "evidence": result.evidence, "severity": control.severity,
                       "remediation": views.remediation(result), "test": result.nodeid},
    }
    if result.outcome == "waived":
        found["suppressions"] = [_suppression(result)]
    return found


def _suppression(result) -> dict:
    """A waived finding's: the waiver file's reason, approver and expiry."""
    waiver = result.waiver
    return {"kind": "external", "status": "accepted", "justification": waiver["reason"],
            "properties": {"approved_by": waiver["approved_by"], "expires": waiver["expires"]}}


def _execution_notes(record, results, ids) -> list:
    notes = [{"level": "error", "message": {"text": record.failure}}] if record.failure else []
    notes += [{"level": "error",
               "message": {"text": f"{r.control} could not be evaluated for "
                                   f"{r.container or r.service or 'the stack'}: {r.message}"},
               "descriptor": {"id": r.control, "index": ids.index(r.control)}}
              for r in results if r.outcome == "error"]
    return notes


def _declaring_file(meta) -> str | None:
    """Where a result without a line hangs: the first compose file, else the policy."""
    files = meta["compose_files"]
    path = files[0]["path"] if files else meta["policy"]["path"]
    return uri(path) if path else None


def uri(path: str) -> str:
    """A file as a URI reference relative to the folder the suite runs in (`../x.yml` when
    outside it), so a code-scanning upload finds it in the checkout."""
    return _relative(path, os.getcwd())


@functools.lru_cache(maxsize=64)
def _relative(path: str, cwd: str) -> str:
    """Once per file: the failed results point into the same few compose files, and
    resolving a path is several system calls (benchmarks/README.md, the static gate)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(cwd).resolve())).as_posix()


def _utc(timestamp: float | None) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
