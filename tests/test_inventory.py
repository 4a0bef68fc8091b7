"""The inventory: scoped to one stack, one inspect per container, the real uid, frozen facts."""

import uuid

import docker
import pytest

from compliance import engine, inventory

IMAGE = "passq-fixture/busybox:1.35"


@pytest.fixture(scope="module")
def two_projects():
    """Two compose-like projects with the same service names, plus a probe container."""
    client = docker.from_env()
    ours, theirs = f"inv-{uuid.uuid4().hex[:8]}", f"inv-{uuid.uuid4().hex[:8]}"
    created = []

    def run(project, service, **kwargs):
        labels = {inventory.PROJECT_LABEL: project, inventory.SERVICE_LABEL: service}
        labels.update(kwargs.pop("labels", {}))
        created.append(client.containers.run(IMAGE, ["sleep", "300"], detach=True, labels=labels,
                                             **kwargs))

    run(ours, "web", user="1001:1001")
    run(ours, "db")
    run(theirs, "web", user="1001:1001")
    run(ours, "probe", labels={inventory.PROBE_LABEL: "test"})
    stopped = client.containers.create(IMAGE, ["true"], labels={
        inventory.PROJECT_LABEL: ours, inventory.SERVICE_LABEL: "job"})
    created.append(stopped)
    yield ours
    for container in created:
        container.remove(force=True)


def test_only_the_stacks_own_containers_including_stopped(two_projects):
    stack = inventory.take(engine.connect(), two_projects)
    assert [c.service for c in stack.containers] == ["db", "job", "web"]
    assert all(c.attrs["Config"]["Labels"][inventory.PROJECT_LABEL] == two_projects
               for c in stack.containers)


def test_each_container_is_inspected_once(two_projects):
    connected = engine.connect()
    before = connected.calls.count
    stack = inventory.take(connected, two_projects)
    images = {c.attrs["Image"] for c in stack.containers}
    # one list, one inspect per container, one per image, one network listing, one `docker info`
    assert connected.calls.count - before == 1 + len(stack.containers) + len(images) + 1 + 1


def test_real_uid_of_the_main_process(two_projects):
    stack = inventory.take(engine.connect(), two_projects)
    by_service = {c.service: c for c in stack.containers}
    assert str(by_service["web"].process) == "1001:1001"
    assert str(by_service["db"].process) == "0:0"
    assert by_service["job"].process is None  # never started


def test_facts_are_frozen_and_repr_shows_no_values(two_projects):
    container = inventory.take(engine.connect(), two_projects).containers[0]
    with pytest.raises(TypeError):
        container.attrs["Config"]["User"] = "0"
    assert "PATH" not in repr(container) and container.name in repr(container)


def test_an_empty_stack_is_an_error():
    connected = engine.connect()
    with pytest.raises(inventory.InventoryError, match="no containers of stack 'inv-empty'"):
        inventory.take(connected, "inv-empty")
