"""One audit, frozen: what every report renders.

Built once when the run ends (compliance/audit.py, `Audit.conclude`), from the
run's results and its inputs' provenance. The reports (html, json, sarif, the
terminal) read only this, never the sources: a report cannot reach the engine,
re-read a file, or disagree with another about what was judged. Every string in
it has passed the audit's redactor, which it keeps for what a renderer adds
from elsewhere (pytest-metadata's environment table).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from compliance.outcomes import Result
from compliance.scans import Scans


@dataclass(frozen=True)
class AuditRecord:
    results: tuple[Result, ...]
    # provenance: judged (one line naming it), static, stack, compose_files [{path, sha256}],
    # started_at, duration_s, engine, policy, images [(ref, digest)], waivers {path, sha256},
    # suite_version; in a run of several projects (--project) also projects [{name,
    # compose_files}] in the order given (compliance/sources/projects.py, `provenance`)
    metadata: Mapping
    fail_on: str
    passed: bool  # the gate's verdict
    failure: str | None  # why the run audited nothing
    unused_waivers: tuple[dict, ...]
    finished: float  # seconds since the epoch
    scans: Scans | None = None  # IMG-02's evidence, when it was evaluated
    warnings: tuple[str, ...] = ()  # what the terminal leads with (nothing running, ...)
    redact: Callable[[str], str] = field(default=str, repr=False, compare=False)

    @property
    def gate_passed(self) -> bool:
        """No results, or an audit that failed to load, is never a pass."""
        return bool(self.passed and self.results and self.failure is None)
