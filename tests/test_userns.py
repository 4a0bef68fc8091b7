"""USR-01 against an engine started with `--userns-remap`: the kernel numbers a container's
uid 1001 as 101001 on the host (and `docker top` shows that number too), while the
container's USER and the policy's uid:gid mean the container's own numbering. The view
from the engine host reads the process's uid_map and judges the container's ids; the
host's stay in the evidence. The engine is a second dockerd the test starts and removes."""

import uuid

import docker
import pytest

from compliance.sources import compose, engine
from tests.engines import extra_engine
from tests.live import audit

BUSYBOX = "passq-fixture/busybox:1.35"


@pytest.fixture(scope="module")
def remapped(docker_engine):
    """(engine host, project): `app` and `guest` run as 1001:1001 on a remapping engine."""
    with extra_engine("--userns-remap=default", images=(BUSYBOX,)) as host:
        client = docker.DockerClient(base_url=host)
        project = f"userns-{uuid.uuid4().hex[:8]}"
        for service in ("app", "guest"):
            client.containers.run(BUSYBOX, ["sleep", "300"], detach=True, network_mode="none",
                                  user="1001:1001", name=f"{project}-{service}-1", labels={
                                      compose.PROJECT_LABEL: project,
                                      compose.SERVICE_LABEL: service})
        yield host, project


def test_a_remapped_container_is_judged_by_its_own_ids_with_the_hosts_shown(remapped, tmp_path):
    host, project = remapped
    policy = tmp_path / "policy.yml"
    policy.write_text(f'stack: {project}\nservices:\n  app:\n    user: "1001:1001"\n'
                      f'  guest:\n    user: "2000:2000"\n')
    run = audit("--stack", project, f"--docker-host={host}", f"--policy={policy}", "--no-live",
                "-k", "non_root", report_dir=tmp_path / "reports")
    results = {r["service"]: r for r in run.results if r["control"] == "USR-01"}
    assert results["app"]["outcome"] == "passed", results["app"]
    evidence = results["app"]["evidence"]
    assert "main process uid:gid=1001:1001" in evidence
    assert "101001:101001 on the host (user namespace)" in evidence
    assert results["guest"]["outcome"] == "failed", results["guest"]
    assert "should run as 2000:2000" in results["guest"]["message"]


def test_without_the_hosts_proc_a_remapped_uid_is_not_read_from_docker_top(remapped, tmp_path):
    """`docker top` gives the host's numbers (101001), which the container's uid is not."""
    host, project = remapped
    empty = tmp_path / "proc"
    empty.mkdir()
    stack = compose.take(engine.connect(host), project, proc=empty)
    assert [c.process for c in stack.containers] == [None, None]
    assert all(c.processes for c in stack.containers)  # its processes still come from top
