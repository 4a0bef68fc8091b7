"""Shared fixtures of the suite's own tests.

Plugin tests run pytest inside pytest (`pytester`) against throwaway
compose-like stacks: plain containers carrying compose's project and service
labels, made from the offline fixture images and removed at the end.

Whatever needs a Docker engine requests the `docker_engine` fixture, directly or
through another fixture (make_stack, audit, a test module's own); that marks the
test `engine`, so `scripts/test --unit` (`-m "not engine"`) runs the rest without
one. (Not named `engine`: test modules import compliance.sources.engine by that name.)
"""

import json
import os
import textwrap
import uuid

import docker
import pytest
from hypothesis import settings

from compliance.sources import compose, engine

pytest_plugins = ["pytester"]

# In CI the fuzz tests draw the same examples every run (derandomize, no example database):
# a red CI then means the change, never the draw. A developer's run keeps exploring anew.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")

IMAGE = "passq-fixture/busybox"
# The plugin under test; hypothesis's plugin only slows each inner run down.
PLUGIN_ARGS = ("-p", "compliance.plugin", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def pytest_configure(config):
    config.addinivalue_line("markers", "engine: needs a Docker engine (set by the docker_engine "
                                       "fixture; -m 'not engine' runs the rest without one)")


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m deselects by it
def pytest_collection_modifyitems(items):
    """Marks `engine` each test whose fixtures include docker_engine."""
    for item in items:
        if "docker_engine" in getattr(item, "fixturenames", ()):
            item.add_marker("engine")


@pytest.fixture(scope="session")
def docker_engine():
    """A client of the Docker engine the tests use (DOCKER_HOST, else the local socket).

    Requesting it, directly or through another fixture, marks a test `engine`. No engine
    answering is one clear line for each such test, not a connection traceback.
    """
    unreachable = None
    try:
        engine.connect().api.close()  # the suite's own one line: the engine's address, and why
    except engine.EngineError as exc:
        unreachable = exc
    if unreachable:  # raised outside the except: no chain of connection errors above the line
        pytest.fail(f"{unreachable}; start one (scripts/engine), or run the tests that need "
                    "none (scripts/test --unit)", pytrace=False)
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="session")
def make_stack(docker_engine):
    """make_stack({service: {"tag": "1.35", "user": "1000:1000", "environment": {...}}}) -> project."""
    created = []

    def make(services: dict) -> str:
        project = f"pqc-{uuid.uuid4().hex[:8]}"
        for service, spec in services.items():
            spec = dict(spec)
            labels = {compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: service}
            created.append(docker_engine.containers.run(
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
def audit(pytester, docker_engine):
    """audit(project, tests_source, *args, waivers=None) -> AuditRun: an audit of a live stack.

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
