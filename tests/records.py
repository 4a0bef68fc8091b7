"""Hand-made AuditRecords: what the reports, the terminal and the gate render, without a run.

An AuditRecord (compliance/record.py) is all a renderer reads, so these tests of the
layers above the engine build one by hand: the Results a run would have recorded and
the provenance `Audit.conclude` gathers, with values that look like a run's.
"""

from compliance import __version__
from compliance.outcomes import Result
from compliance.record import AuditRecord

STACK = "shop"
FINISHED = 1_780_000_000.0  # 2026-05-28T20:26:40Z
POLICY = "policies/passq.yml"


def result(control: str, outcome: str, service: str | None = "web", *, evidence: str = "Fact=1",
           message: str = "", **fields) -> Result:
    """One evaluation as the plugin records it: a service's in its compose container, or
    the stack's (service None); a failure says what should hold."""
    if outcome == "failed" and not message:
        message = "should hold"
    container = f"{STACK}-{service}-1" if service else None
    test = f"compliance/checklist/test_{control.lower().replace('-', '_')}.py::test_{outcome}"
    fields = {"container": container, "nodeid": f"{test}[{service}]" if service else test,
              **fields}
    return Result(control=control, service=service, outcome=outcome, evidence=evidence,
                  message=message, **fields)


def metadata(**changes) -> dict:
    """The provenance of a live audit of STACK (Audit._metadata's keys)."""
    return {
        "judged": f"stack {STACK}", "static": False, "stack": STACK, "compose_files": [],
        "started_at": "2026-05-28T20:26:30Z", "duration_s": 10.0,
        "engine": {"host": "unix:///var/run/docker.sock", "version": "20.10.24", "api_calls": 9},
        "policy": {"path": POLICY, "sha256": "0" * 64},
        "images": [("passq-fixture/busybox:1.35", "sha256:" + "1" * 64)],
        "waivers": {"path": None, "sha256": None},
        "suite_version": __version__,
        **changes,
    }


def make_record(results=(), *, passed: bool = True, fail_on: str = "low", **fields) -> AuditRecord:
    """A concluded audit of `results`; `passed` is the gate's verdict as Audit.gate gave it."""
    fields = {"metadata": metadata(), "failure": None, "unused_waivers": (), "finished": FINISHED,
              **fields}
    return AuditRecord(results=tuple(results), fail_on=fail_on, passed=passed, **fields)
