"""One audit run: its inputs (policy, engine, snapshot), its results, its gate.

The plugin keeps one Audit in `config.stash`. Inputs are loaded lazily, on
the first compliance test collected, so the suite's own tests never touch
an engine; a failure to load is kept and raised once, as one clear message.
"""

import time
from datetime import UTC, datetime
from pathlib import Path

from compliance import __version__, controls, engine, inventory
from compliance.policy import PolicyError, load
from compliance.redact import Redactor


class Audit:
    def __init__(self, config):
        self.config = config
        self.failure: str | None = None
        self.results: list = []
        self.started = time.time()
        self.finished: float | None = None
        self._policy = None
        self._engine = None
        self._stack = None
        self.redact = Redactor()

    def option(self, name):
        return self.config.getoption(name)

    @property
    def policy_path(self) -> Path:
        given = self.option("policy")
        return Path(given) if given else self.config.rootpath / self.config.getini(
            "compliance_policy")

    @property
    def policy(self):
        if self._policy is None and self.failure is None:
            try:
                self._policy = load(self.policy_path)
            except PolicyError as exc:
                self.failure = str(exc)
        return self._policy

    @property
    def stack_name(self) -> str | None:
        return self.option("stack") or (self._policy.stack if self._policy else None)

    def stack(self):
        """The snapshot of the audited stack, taken on first use; None after a failure."""
        if self._stack is not None or self.failure is not None:
            return self._stack
        policy = self.policy
        if policy is None:
            return None
        if not self.stack_name:
            self.failure = (f"no stack to audit: pass --stack NAME or set `stack:` in "
                            f"{self.policy_path}")
            return None
        try:
            self._engine = engine.connect(self.option("docker_host"))
            self._stack = inventory.take(self._engine, self.stack_name)
        except (engine.EngineError, inventory.InventoryError) as exc:
            self.failure = f"stack {self.stack_name!r}: {exc}"
            return None
        self.redact = Redactor.for_containers(self._stack.containers,
                                              policy.credential_env_patterns)
        return self._stack

    # -- waivers (interface.md, "Waiver file") ---------------------------------

    def apply_waiver(self, item, control) -> None:
        """Mark a waived (control, service) as an expected failure."""

    def waiver_for(self, item) -> dict | None:
        return None

    # -- results and the gate ---------------------------------------------------

    def record(self, result) -> None:
        self.results.append(result)

    def finish(self, now: float) -> None:
        self.finished = now

    def blocking_results(self) -> list:
        """Errors, and unwaived failures at or above --fail-on."""
        threshold = controls.SEVERITIES.index(self.option("fail_on"))
        return [r for r in self.results if r.outcome == "error" or (
            r.outcome == "failed"
            and controls.SEVERITIES.index(controls.CATALOG[r.control].severity) >= threshold)]

    def failed_count(self) -> int:
        """Compliance results pytest counted as failed (failures and errors)."""
        return sum(r.outcome in ("failed", "error") for r in self.results)

    def metadata(self) -> dict:
        stack = self._stack
        return {
            "stack": self.stack_name,
            "started_at": datetime.fromtimestamp(self.started, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round((self.finished or time.time()) - self.started, 3),
            "engine": {"host": self._engine.host if self._engine else None,
                       "version": self._engine.version if self._engine else None,
                       "api_calls": self._engine.calls.count if self._engine else 0},
            "policy": {"path": str(self.policy_path),
                       "sha256": self._policy.sha256 if self._policy else None},
            "images": sorted({(c.image_ref, ", ".join(c.image_digests) or c.attrs["Image"])
                              for c in stack.containers}) if stack else [],
            "suite_version": __version__,
        }

    def write_reports(self, report_dir: Path) -> None:
        """Written by compliance.report (see that package)."""
