"""Support for the live tests: fixture stacks brought up once, the suite run as a user runs it."""

import functools
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def stack_up(name: str) -> str:
    """Bring a fixture stack up (once per test session; `scripts/stack up` is idempotent)."""
    done = subprocess.run([str(ROOT / "scripts" / "stack"), "up", name], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"scripts/stack up {name} failed:\n{done.stdout}{done.stderr}"
    return name


@dataclass
class Run:
    returncode: int
    output: str
    report_dir: Path

    @property
    def results(self) -> list[dict]:
        return json.loads((self.report_dir / "compliance.json").read_text())["results"]

    def outcomes(self) -> dict[tuple, set]:
        """(control, service) -> the outcomes of its evaluations (a control may have several
        tests per service, e.g. HRD-02's configuration and live halves)."""
        found: dict[tuple, set] = {}
        for result in self.results:
            found.setdefault((result["control"], result["service"]), set()).add(result["outcome"])
        return found

    def where(self, outcome: str) -> set[tuple]:
        return {key for key, seen in self.outcomes().items() if outcome in seen}


def audit(*args: str, report_dir: Path | None = None, env=None, timeout=300) -> Run:
    """Run the compliance suite in a subprocess from the repository root, as a user's install
    runs it: without requirements-dev's Hypothesis plugin, which imports all of Hypothesis
    into every run."""
    extra = [f"--report-dir={report_dir}"] if report_dir else []
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-p", "no:hypothesispytest", *args, *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return Run(done.returncode, done.stdout + done.stderr, report_dir or ROOT / "reports")
