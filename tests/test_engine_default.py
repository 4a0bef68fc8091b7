"""HRD-01 against an engine started with `--no-new-privileges`: the engine applies it to
every container without writing it into `SecurityOpt`, so the engine's default (docker
info) and the kernel (`NoNewPrivs:` of the main process) decide, unless the container's
own entry switches it off. The engine is a second dockerd the test starts and removes."""

import docker
import pytest

from compliance.sources import compose
from tests.engines import extra_engine
from tests.live import audit

BUSYBOX = "passq-fixture/busybox:1.35"


@pytest.fixture(scope="module")
def nnp_engine(docker_engine):
    with extra_engine("--no-new-privileges", images=(BUSYBOX,)) as host:
        yield host


def hrd01_outcomes(host: str, tmp_path) -> dict:
    """Two services on `host`: `plain` (no security_opt) and `off` (no-new-privileges:false)."""
    client = docker.DockerClient(base_url=host)
    project = f"nnp-{tmp_path.name[-8:]}".lower()
    try:
        for service, options in (("plain", None), ("off", ["no-new-privileges:false"])):
            client.containers.run(BUSYBOX, ["sleep", "300"], detach=True, network_mode="none",
                                  security_opt=options, name=f"{project}-{service}-1", labels={
                                      compose.PROJECT_LABEL: project,
                                      compose.SERVICE_LABEL: service})
        policy = tmp_path / "policy.yml"
        policy.write_text(f"stack: {project}\n")
        run = audit("--stack", project, f"--docker-host={host}", f"--policy={policy}",
                    "-k", "no_new_privileges", report_dir=tmp_path / "reports")
        return {r["service"]: r for r in run.results if r["control"] == "HRD-01"}
    finally:
        for container in client.containers.list(all=True, filters={
                "label": f"{compose.PROJECT_LABEL}={project}"}):
            container.remove(force=True)


def test_the_engine_default_protects_a_container_unless_its_own_entry_switches_it_off(
        nnp_engine, tmp_path):
    results = hrd01_outcomes(nnp_engine, tmp_path)
    assert results["plain"]["outcome"] == "passed", results["plain"]
    # Engine 20.10 does not list the default in docker info: the kernel proves it.
    assert "kernel NoNewPrivs=1" in results["plain"]["evidence"]
    assert results["off"]["outcome"] == "failed", results["off"]
    assert "kernel NoNewPrivs=0" in results["off"]["evidence"]


def test_without_the_engine_default_the_same_container_fails(docker_engine, tmp_path):
    results = hrd01_outcomes("unix:///var/run/docker.sock", tmp_path)
    assert results["plain"]["outcome"] == "failed", results["plain"]
    assert "kernel NoNewPrivs=0" in results["plain"]["evidence"]
    assert "no engine default" in results["plain"]["evidence"]
