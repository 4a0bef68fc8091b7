"""The inventory: scoped to one stack, one inspect per container, the real uid, every process,
each image's history and setuid files, frozen facts."""

import dataclasses
import uuid

import docker
import pytest

from compliance.sources import compose, engine
from compliance.sources.probes.runner import ProbeRunner
from compliance.sources.probes.view import ProbedHost

IMAGE = "passq-fixture/busybox:1.35"


@pytest.fixture(scope="module")
def two_projects(docker_engine):
    """Two compose-like projects with the same service names, plus a probe container."""
    client = docker.from_env()
    ours, theirs = f"inv-{uuid.uuid4().hex[:8]}", f"inv-{uuid.uuid4().hex[:8]}"
    created = []

    def run(project, service, **kwargs):
        labels = {compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: service}
        labels.update(kwargs.pop("labels", {}))
        created.append(client.containers.run(IMAGE, ["sleep", "300"], detach=True, labels=labels,
                                             **kwargs))

    run(ours, "web", user="1001:1001")
    run(ours, "db")
    run(theirs, "web", user="1001:1001")
    run(ours, "probe", labels={compose.PROBE_LABEL: "test"})
    stopped = client.containers.create(IMAGE, ["true"], labels={
        compose.PROJECT_LABEL: ours, compose.SERVICE_LABEL: "job"})
    created.append(stopped)
    yield ours
    for container in created:
        container.remove(force=True)


def test_only_the_stacks_own_containers_including_stopped(two_projects):
    stack = compose.take(engine.connect(), two_projects)
    assert [c.service for c in stack.containers] == ["db", "job", "web"]
    assert all(c.attrs["Config"]["Labels"][compose.PROJECT_LABEL] == two_projects
               for c in stack.containers)


def test_each_container_is_inspected_once(two_projects, tmp_path):
    connected = engine.connect()
    before = connected.calls.count
    stack = compose.take(connected, two_projects, layer_cache=tmp_path)
    images = {c.attrs["Image"] for c in stack.containers}
    # one list, one inspect per container, per image its inspect, history and (not yet cached)
    # export, one network listing, one `docker info`; the processes come from /proc, not the engine
    assert connected.calls.count - before == 1 + len(stack.containers) + 3 * len(images) + 1 + 1
    before = connected.calls.count
    compose.take(connected, two_projects, layer_cache=tmp_path)
    assert connected.calls.count - before == 1 + len(stack.containers) + 2 * len(images) + 1 + 1


def test_every_process_history_and_setuid_files(two_projects, tmp_path):
    stack = compose.take(engine.connect(), two_projects, layer_cache=tmp_path)
    by_service = {c.service: c for c in stack.containers}
    web = by_service["web"]
    assert [p.name for p in web.processes] == ["sleep"]
    assert web.processes[0].pid == web.state["Pid"]
    assert by_service["job"].processes is None  # never started
    assert web.image_history is not None and web.setid_files == ()  # static busybox: none


def test_real_uid_of_the_main_process(two_projects):
    stack = compose.take(engine.connect(), two_projects)
    by_service = {c.service: c for c in stack.containers}
    assert str(by_service["web"].process) == "1001:1001"
    assert str(by_service["db"].process) == "0:0"
    assert by_service["job"].process is None  # never started


def test_facts_are_frozen_and_repr_shows_no_values(two_projects):
    container = compose.take(engine.connect(), two_projects).containers[0]
    with pytest.raises(TypeError):
        container.attrs["Config"]["User"] = "0"
    assert "PATH" not in repr(container) and container.name in repr(container)


def test_an_empty_stack_is_an_error(docker_engine):
    connected = engine.connect()
    with pytest.raises(compose.InventoryError, match="no containers of stack 'inv-empty'"):
        compose.take(connected, "inv-empty")


def test_where_the_engine_hosts_proc_is_not_ours_docker_top_gives_ids_and_processes(two_projects,
                                                                                   tmp_path):
    local = engine.connect()
    remote = dataclasses.replace(local, host="tcp://engine.example:2376")  # the same engine, not local
    before = remote.calls.count
    stack = compose.take(remote, two_projects, layer_cache=tmp_path)
    by_service = {c.service: c for c in stack.containers}
    web = by_service["web"]
    assert web.kernel is None and str(web.process) == "1001:1001"
    assert [p.name for p in web.processes] == ["sleep"]
    assert by_service["job"].processes is None
    images = {c.attrs["Image"] for c in stack.containers}
    running = sum(bool(c.state.get("Running")) for c in stack.containers)
    # as above, plus one `docker top` per running container
    assert remote.calls.count - before == (1 + len(stack.containers) + 3 * len(images) + 1 + 1
                                           + running)


def test_where_the_engine_hosts_proc_is_not_ours_a_probe_container_reads_it(two_projects, tmp_path):
    remote = dataclasses.replace(engine.connect(), host="tcp://engine.example:2376")
    stack = compose.take(remote, two_projects, layer_cache=tmp_path,
                         view_of=lambda e: ProbedHost(ProbeRunner(e)))
    by_service = {c.service: c for c in stack.containers}
    web, db = by_service["web"], by_service["db"]
    assert str(web.kernel.ids) == "1001:1001" and str(db.kernel.ids) == "0:0"
    assert [p.name for p in web.processes] == ["sleep"]
    assert "through a probe container" in web.inside.view and by_service["job"].inside is None
