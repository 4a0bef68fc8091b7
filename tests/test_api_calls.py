"""One inspect per container, for the whole audit: the engine requests a full run of the suite
makes (counted by compliance.sources.engine.CallCounter, reported as compliance.json's
`engine.api_calls`) grow by one per container, however many controls read it.
Per image a run costs three: its inspect, its history (IMG-04) and, until its
setuid/setgid files are cached by image ID, one streamed export (IMG-05);
each run here starts with an empty cache, so it pays all three.

tests/test_inventory.py counts the inventory's own requests; this counts everything a
real run sends, end to end: every control, the reports, the gate. Counted calls, not
timings: the figures live in benchmarks/.
"""

import json
import os
import uuid

import docker
import pytest

from compliance.sources import compose, engine
from tests.live import audit

IMAGE = "passq-fixture/busybox:1.35"
# Requests a run makes whatever the stack's size: the engine's version, the event watch,
# the container listing and the network listing, with room for one more.
CONSTANT = 5


@pytest.fixture(scope="module")
def stacks(docker_engine):
    """Two compose-like stacks of the same shape, 2 and 6 containers, on one network each."""
    client = docker.from_env()
    created, networks, made = [], [], {}
    try:
        for size in (2, 6):
            project = f"calls-{uuid.uuid4().hex[:8]}"
            network = client.networks.create(f"{project}_default", labels={
                compose.PROJECT_LABEL: project, compose.NETWORK_LABEL: "default"})
            networks.append(network)
            for index in range(size):
                labels = {compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: f"s{index}",
                          compose.NUMBER_LABEL: "1"}
                created.append(client.containers.run(
                    IMAGE, ["sleep", "300"], detach=True, labels=labels, network=network.name,
                    user="1001:1001" if index % 2 else None, read_only=bool(index % 2)))
            made[size] = project
        yield made
    finally:
        for container in created:
            container.remove(force=True)
        for network in networks:
            network.remove()


def counted_run(project: str, tmp_path) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    policy = tmp_path / "policy.yml"
    policy.write_text(f"stack: {project}\n")
    report_dir = tmp_path / "reports"
    cache = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = audit("--stack", project, f"--policy={policy}", "--no-live", "-q", report_dir=report_dir,
                env=cache)
    doc = json.loads((report_dir / "compliance.json").read_text())
    assert doc["failure"] is None and doc["results"], run.output
    containers = {r["container"] for r in doc["results"] if r["container"]}
    return {"calls": doc["engine"]["api_calls"], "containers": len(containers),
            "images": len(doc["images"]), "results": len(doc["results"])}


@pytest.mark.parametrize("size", [2, 6])
def test_a_full_run_costs_about_one_request_per_container(stacks, size, tmp_path):
    run = counted_run(stacks[size], tmp_path)
    assert run["containers"] == size
    assert run["results"] > 10 * size  # many controls read each container ...
    # ... and yet: containers + networks + 3 per image + a small constant
    assert run["calls"] <= run["containers"] + 1 + 3 * run["images"] + CONSTANT, run


def test_each_more_container_costs_exactly_one_more_request(stacks, tmp_path):
    small = counted_run(stacks[2], tmp_path / "small")
    large = counted_run(stacks[6], tmp_path / "large")
    assert small["images"] == large["images"] == 1
    assert large["calls"] - small["calls"] == large["containers"] - small["containers"] == 4, (small, large)


def test_a_local_socket_looks_up_no_proxy_or_login_for_each_request(docker_engine):
    """requests looks up proxies and ~/.netrc in the environment for every call unless told
    not to: about a sixth of an inspect, and meaningless for a unix socket. A tcp:// engine
    keeps the lookup (compliance/sources/engine.py)."""
    local = engine.connect("unix:///var/run/docker.sock")
    assert local.api.trust_env is False
