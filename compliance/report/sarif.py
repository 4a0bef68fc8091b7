"""compliance.sarif: SARIF 2.1.0 for code-scanning dashboards.

One rule per catalog control (so a dashboard can explain any control, failed
or not) and one result per failed, unwaived evaluation. A container is no
source file: each result names it as a logical location and points its
physical location at the file that declares what should run (the first
--compose-file, else the policy), because code-scanning tools such as GitHub's
need a file to hang a result on. Errors, which are no findings but leave a
control unproven, are tool execution notifications; unused and stale waivers
are configuration notifications.
"""

import hashlib
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


def document(audit) -> dict:
    meta = audit.metadata()
    own = [controls.OWN.id] if any(r.control == controls.OWN.id for r in audit.results) else []
    ids = [*controls.CATALOG, *own]
    artifact = _artifact(audit)
    run = {
        "tool": {"driver": {
            "name": "passq-compliance", "version": __version__, "semanticVersion": __version__,
            "rules": [rule(controls.describe(cid)) for cid in ids],
        }},
        "invocations": [{
            "executionSuccessful": audit.failure is None and not any(
                r.outcome == "error" for r in audit.results),
            "startTimeUtc": meta["started_at"],
            "endTimeUtc": _utc(audit.finished),
            "toolExecutionNotifications": _execution_notes(audit, ids),
            "toolConfigurationNotifications": [
                {"level": "warning",
                 "message": {"text": f"waiver {w['control']}"
                                     f"{' for ' + w['service'] if w['service'] else ''} "
                                     f"({audit.option('waivers')}:{w['line']}) is unused: {w['why']}"},
                 "descriptor": {"id": w["control"], "index": ids.index(w["control"])}}
                for w in audit.unused_waivers()
            ],
        }],
        "results": [_result(audit, r, ids, artifact) for r in audit.results if r.outcome == "failed"],
        "properties": {
            "stack": meta["stack"], "engine": meta["engine"], "policy": meta["policy"],
            "gate": {"fail_on": audit.option("fail_on"), "passed": bool(audit.passed and audit.results)},
        },
    }
    return views.redacted({"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}, audit.redact)


def write(audit, path: Path) -> None:
    files.write_json(path, document(audit))


def _result(audit, result, ids, artifact) -> dict:
    control = controls.describe(result.control)
    where = (f"service {result.service}, container {result.container}" if result.container
             else f"stack {audit.stack_name}")
    message = (f"{control.id} {control.title}: {result.message or 'failed'} "
               f"({where}; evidence: {result.evidence})")
    qualified = "/".join(p for p in (audit.stack_name, result.service, result.container) if p)
    location = {"logicalLocations": [{
        "name": result.container or audit.stack_name or "stack",
        "fullyQualifiedName": qualified,
        "kind": "resource",
    }]}
    if artifact:
        location["physicalLocation"] = {"artifactLocation": {"uri": artifact}}
    return {
        "ruleId": control.id,
        "ruleIndex": ids.index(control.id),
        "level": LEVELS[control.severity],
        "message": {"text": message},
        "locations": [location],
        # Stable across runs for the same control on the same service, so a
        # dashboard tracks one alert instead of opening a new one per container id.
        "partialFingerprints": {"passqControl/v1": hashlib.sha256(
            f"{control.id}|{audit.stack_name}|{result.service}".encode()).hexdigest()},
        "properties": {"service": result.service, "container": result.container,
                       "evidence": result.evidence, "severity": control.severity,
                       "remediation": control.remediation, "test": result.nodeid},
    }


def _execution_notes(audit, ids) -> list:
    notes = [{"level": "error", "message": {"text": audit.failure}}] if audit.failure else []
    notes += [{"level": "error",
               "message": {"text": f"{r.control} could not be evaluated for "
                                   f"{r.container or 'the stack'}: {r.message}"},
               "descriptor": {"id": r.control, "index": ids.index(r.control)}}
              for r in audit.results if r.outcome == "error"]
    return notes


def _artifact(audit) -> str | None:
    """The declaring file as a URI reference relative to the working directory."""
    compose_files = audit.option("compose_file") or []
    path = Path(compose_files[0]) if compose_files else audit.policy_path
    try:
        path = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path.resolve().as_uri()
    return path.as_posix()


def _utc(timestamp: float | None) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC) if timestamp else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
