"""Shared fixtures of the suite's own tests.

Plugin tests run pytest inside pytest (`pytester`) against throwaway
compose-like stacks: plain containers carrying compose's project and service
labels, made from the offline fixture images and removed at the end.
"""

import json
import os
import textwrap
import uuid

import docker
import pytest
from hypothesis import settings

from compliance.sources import compose

pytest_plugins = ["pytester"]

# In CI the fuzz tests draw the same examples every run (derandomize, no example database):
# a red CI then means the change, never the draw. A developer's run keeps exploring anew.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")

IMAGE = "passq-fixture/busybox"
# The plugin under test; hypothesis's plugin only slows each inner run down.
PLUGIN_ARGS = ("-p", "compliance.plugin", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")


@pytest.fixture(scope="session")
def make_stack():
    """make_stack({service: {"tag": "1.35", "user": "1000:1000", "environment": {...}}}) -> project."""
    client = docker.from_env()
    created = []

    def make(services: dict) -> str:
        project = f"pqc-{uuid.uuid4().hex[:8]}"
        for service, spec in services.items():
            spec = dict(spec)
            labels = {compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: service}
            created.append(client.containers.run(
                f"{IMAGE}:{spec.pop('tag', '1.35')}", ["sleep", "900"], detach=True,
                labels=labels, **spec))
        return project

    yield make
    for container in created:
        container.remove(force=True)


class AuditRun:
    """One run of the plugin inside pytester, and the reports it wrote."""

    def __init__(self, outcome, report_dir):
        self.outcome = outcome
        self.ret = outcome.ret
        self.report_dir = report_dir

    def json(self) -> dict:
        return json.loads((self.report_dir / "compliance.json").read_text())

    def sarif(self) -> dict:
        return json.loads((self.report_dir / "compliance.sarif").read_text())

    def html(self) -> str:
        return (self.report_dir / "compliance.html").read_text()

    def text(self) -> str:
        return self.outcome.stdout.str() + self.outcome.stderr.str()


@pytest.fixture
def audit(pytester):
    """audit(project, tests_source, *args, waivers=None) -> AuditRun.

    Writes a one-line policy naming the stack, the compliance test module and
    the optional waiver file into the pytester directory, then runs pytest there
    with the plugin loaded and --policy/--stack/--report-dir given explicitly.
    """

    def run(project, source, *args, waivers=None) -> AuditRun:
        pytester.makefile(".yml", policy=f"stack: {project}\n")
        pytester.makepyfile(test_compliance=textwrap.dedent(source))
        extra = []
        if waivers is not None:
            pytester.makefile(".yml", waivers=textwrap.dedent(waivers))
            extra = ["--waivers", "waivers.yml"]
        report_dir = pytester.path / "reports"
        outcome = pytester.runpytest(*PLUGIN_ARGS, "--policy", "policy.yml", "--stack", project,
                                     "--report-dir", str(report_dir), *extra, *args)
        return AuditRun(outcome, report_dir)

    return run
