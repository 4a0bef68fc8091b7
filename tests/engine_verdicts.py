"""Support for tests/test_engine_*.py: an extra engine with passq-staging and weak on it,
each audited as a user would, and the verdicts compared with the rootful engine's (the
green list of test_live_verdicts and weak's README), give or take what the engine truly
changes."""

import os
import subprocess
from dataclasses import dataclass, field

import pytest

from tests import engines
from tests.live import ROOT, Run, audit
from tests.test_live_verdicts import readme_failures

STACKS = {"passq-staging": "policies/passq.yml", "weak": "fixtures/stacks/weak/policy.yml"}
STAGING_SKIPPED = {("SEC-01", "frontend")}  # not applicable: it needs no secret, on any engine


@dataclass(frozen=True)
class Expected:
    """(control, service) -> the reason an engine's verdict differs from the rootful one."""

    passes: dict = field(default_factory=dict)  # fails on Docker, passes on this engine
    fails: dict = field(default_factory=dict)  # passes on Docker, fails on this engine
    errors: dict = field(default_factory=dict)  # fails on Docker, undecided on this engine
    staging_fails: dict = field(default_factory=dict)


def audited_stacks(kind: str, tmp_path_factory):
    """Start an engine of `kind`, bring both stacks up on it, audit each; stop the engine
    and prove that nothing of it is left (a generator for a module fixture)."""
    if os.geteuid() != 0:
        pytest.skip(f"starting {kind} needs root (apt-get, ip netns, nsenter)")
    started = engines.start(kind, images=engines.FIXTURE_IMAGES)
    try:
        trivy = tmp_path_factory.mktemp(f"{kind}-trivy")
        subprocess.run([str(ROOT / "scripts" / "make-trivy-fixtures"), "--out", str(trivy)],
                       check=True, capture_output=True)
        runs = {}
        for name, policy in STACKS.items():
            compose_file = engines.deploy(started, name)
            reports = trivy if name == "passq-staging" else compose_file.parent / "trivy"
            runs[name] = audit("--stack", name, f"--docker-host={started.host}",
                               f"--policy={policy}", f"--compose-file={compose_file}",
                               f"--trivy-reports={reports}",
                               report_dir=tmp_path_factory.mktemp(f"{kind}-{name}"))
        yield runs
    finally:
        engines.stop(started)
    assert not engines.leftovers(started)


def check_staging(run: Run, expected: Expected) -> None:
    outcomes = run.outcomes()
    failures = [(r["control"], r["service"], r["message"], r["evidence"]) for r in run.results
                if r["outcome"] == "failed"]
    assert {k for k, seen in outcomes.items() if "failed" in seen} == set(expected.staging_fails), \
        failures
    assert {k for k, seen in outcomes.items() if seen == {"skipped"}} == STAGING_SKIPPED
    assert not {k for k, seen in outcomes.items() if "error" in seen}, run.output[-3000:]


def check_weak(run: Run, expected: Expected) -> None:
    want = (readme_failures() - set(expected.passes) - set(expected.errors)) | set(expected.fails)
    failed = run.where("failed")
    unexpected = [(r["control"], r["service"], r["evidence"]) for r in run.results
                  if r["outcome"] == "failed" and (r["control"], r["service"]) not in want]
    assert failed == want, f"unexpected: {unexpected}, missing: {sorted(want - failed, key=str)}"
    # jobs has exited, on every engine
    assert run.where("error") == {("USR-01", "jobs"), ("HRD-08", "jobs"), *expected.errors}
