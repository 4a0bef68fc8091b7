"""A stack deployed to a Docker Swarm: its services, their tasks on every node, each task's
container inspected on the node that runs it -> one Subject per task (`service.slot`).

Through the manager: the services labelled `com.docker.stack.namespace=NAME`, their
tasks, the nodes and the stack's networks. Each task's container is inspected on its
node's engine (`--node-engine NODE=URL`, the policy's `swarm.nodes`, or the manager for
its own node), by the same builder as a compose project's (compose.subjects), so the
kernel's view, the image facts and the engine defaults are the node's own. What the
swarm, not the container, decides is laid over the inspect data in its shape, so the
checks judge it unchanged:

- `HostConfig.RestartPolicy` from `TaskTemplate.RestartPolicy` (a task container's own
  is empty: the swarm restarts tasks, not the engine);
- `Endpoint.Ports` from the service's published ports: an ingress port listens on every
  node's every address (`HostIp` ""), a host-mode port where a replica runs;
- a `Mounts[]` entry per swarm secret at its target under /run/secrets/ (with its
  `File.UID`/`GID`/`Mode`);
- `Task`: the task's state, error and node; `RestartCount`: the earlier failed tasks of
  its slot (a swarm restarts a task as a new container), so HLT-02 sees a crash loop.

The live probes of a task run on its node's engine (ProbeRunner's `nodes`). A task
whose node cannot be reached, or that has no container, is a Subject whose
`unavailable` says why: its controls are errors, except HLT-02, which judges a task
that is not running by its state. Secret values are never read: the API has none.
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from compliance.model import SWARM_TASK, Stack, Subject, freeze
from compliance.sources import compose
from compliance.sources import engine as engines
from compliance.sources.compose import InventoryError, compose_network_name
from compliance.sources.engine import Engine, EngineError
from compliance.sources.inside import HostView, engine_host

STACK_LABEL = "com.docker.stack.namespace"
SECRETS_DIR = "/run/secrets"
# TaskTemplate.RestartPolicy.Condition -> the engine's restart policy name
RESTART = {"none": "no", "on-failure": "on-failure", "any": "always"}
FAILED = ("failed", "rejected")  # the states of a task that ended badly


def is_manager(engine: Engine) -> bool:
    """Whether the engine is a swarm manager (it can list services and tasks)."""
    return bool((engine.info().get("Swarm") or {}).get("ControlAvailable"))


def take(manager: Engine, stack: str, node_engines: Mapping[str, str], proc: Path = Path("/proc"),
         layer_cache: Path | None = None, resolve=(),
         connect: Callable[[str], Engine] = engines.connect,
         view_of: Callable[[Engine], HostView | None] = engine_host) -> tuple[Stack, dict[str, Engine]]:
    """Every current task of `stack` as a Subject, and the engine of each node reached (by
    hostname: the live probes run there); `node_engines`: node hostname or ID -> engine URL
    (the manager's own node needs none); `view_of(engine)`: how a node's host is looked at."""
    api = manager.api
    services = api.services(filters={"label": f"{STACK_LABEL}={stack}"})
    if not services:
        raise InventoryError(f"no services of swarm stack {stack!r} (label {STACK_LABEL}={stack}) "
                             f"on the swarm manager at {manager.host}")
    by_id = {s["ID"]: s for s in services}
    every_task = api.tasks(filters={"service": list(by_id)})
    tasks, restarted = current_tasks(every_task), restarts(every_task)
    nodes = {n["ID"]: n for n in api.nodes()}
    own_node = (manager.info().get("Swarm") or {}).get("NodeID")
    networks = {n["Name"]: n for n in api.networks(filters={"label": f"{STACK_LABEL}={stack}"})}
    subjects, reached = [], {}
    for node_id in sorted({t.get("NodeID") or "" for t in tasks}):
        on_node = [t for t in tasks if (t.get("NodeID") or "") == node_id]
        hostname = node_name(nodes.get(node_id), node_id)
        url = node_engines.get(hostname) or node_engines.get(node_id) or (
            manager.host if node_id == own_node else None)
        engine, why = _node_engine(manager, node_id == own_node, hostname, url, connect)
        if engine is not None:
            reached[hostname] = engine
        subjects += _tasks_on(engine, why, on_node, by_id, hostname, stack, networks, proc,
                              layer_cache, resolve, restarted, view_of)
    subjects.sort(key=lambda s: s.test_id)
    stack_networks = {compose_network_name(n, stack): freeze(n) for n in networks.values()}
    secrets = tuple(sorted(x["Spec"]["Name"] for x in api.secrets()))  # names only: no value
    return Stack(stack, tuple(subjects), MappingProxyType(stack_networks), manager.host,
                 manager.version, swarm_secrets=secrets), reached


def current_tasks(tasks) -> list[dict]:
    """Per slot (a global service's: per node) the newest task the swarm wants running, else
    the newest of the slot: what runs, or what failed to, now."""
    return [candidates[-1] for candidates in _slots(tasks).values()]


def restarts(tasks) -> dict[str, int]:
    """Task ID -> how many earlier tasks of its slot failed: a swarm restarts a task as a new
    one (a new container), so this is what a container's RestartCount is elsewhere."""
    return {candidates[-1]["ID"]: sum((t.get("Status") or {}).get("State") in FAILED
                                      for t in candidates[:-1])
            for candidates in _slots(tasks).values()}


def _slots(tasks) -> dict[tuple, list]:
    """Each slot's tasks, the current one last."""
    slots: dict[tuple, list] = {}
    for task in tasks:
        slots.setdefault((task["ServiceID"], task.get("Slot") or task.get("NodeID")), []).append(task)
    for candidates in slots.values():
        candidates.sort(key=lambda t: (t.get("DesiredState") == "running", t.get("CreatedAt", "")))
    return slots


def node_name(node: Mapping | None, node_id: str) -> str:
    return ((node or {}).get("Description") or {}).get("Hostname") or node_id or "(no node)"


def _node_engine(manager: Engine, own: bool, hostname: str, url: str | None,
                 connect) -> tuple[Engine | None, str]:
    """The engine of one node, or None and why the suite cannot reach it."""
    if own and url == manager.host:
        return manager, ""
    if url is None:
        return None, (f"node {hostname}: no engine URL for it (--node-engine {hostname}=URL, or the "
                      "policy's swarm.nodes)")
    try:
        return connect(url), ""
    except EngineError as exc:
        return None, f"node {hostname}: {exc}"


def _tasks_on(engine: Engine | None, why: str, tasks, services: Mapping, hostname: str, stack: str,
              networks: Mapping, proc: Path, layer_cache, resolve, restarted: Mapping,
              view_of: Callable[[Engine], HostView | None]) -> list[Subject]:
    """The Subjects of one node's tasks: inspected on its engine where it can be."""
    containers = {}
    if engine is not None:
        ids = [cid for t in tasks if (cid := _container_id(t))]
        by_task = {_container_id(t): t for t in tasks}
        node_networks = {**{n["Name"]: n for n in engine.api.networks()}, **networks}
        for subject in compose.subjects(
                engine, ids, stack, node_networks, proc, layer_cache, resolve,
                overlay=lambda attrs: _overlay(attrs, by_task[attrs["Id"]],
                                               services[by_task[attrs["Id"]]["ServiceID"]], hostname,
                                               restarted.get(by_task[attrs["Id"]]["ID"], 0)),
                view_of=view_of):
            containers[subject.id] = replace(subject, kind=SWARM_TASK, node=hostname)
    out = []
    for task in tasks:
        found = containers.get(_container_id(task))
        out.append(found or _without_container(task, services[task["ServiceID"]], hostname, stack,
                                               why or f"task {_task_name(task, services, stack)} has "
                                                      f"no container on {hostname}"))
    return out


def _container_id(task: Mapping) -> str | None:
    return ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")


def _short(service: Mapping, stack: str) -> str:
    return service["Spec"]["Name"].removeprefix(f"{stack}_")


def _task_name(task: Mapping, services: Mapping, stack: str) -> str:
    return f"{_short(services[task['ServiceID']], stack)}.{task.get('Slot') or task.get('NodeID')}"


def _task(task: Mapping, hostname: str) -> dict:
    status = task.get("Status") or {}
    return {"ID": task["ID"], "State": status.get("State", ""), "Err": status.get("Err", ""),
            "DesiredState": task.get("DesiredState", ""), "Node": hostname}


def _overlay(attrs: dict, task: Mapping, service: Mapping, hostname: str, restarted: int = 0) -> dict:
    """What the swarm decides for this task, in inspect's shape, over its container's facts
    (`restarted`: the earlier failed tasks of its slot, its RestartCount)."""
    template = service["Spec"].get("TaskTemplate") or {}
    restart = template.get("RestartPolicy") or {}
    host_config = {**(attrs.get("HostConfig") or {}), "RestartPolicy": {
        "Name": RESTART.get(restart.get("Condition") or "any", "always"),
        "MaximumRetryCount": int(restart.get("MaxAttempts") or 0)}}
    secrets = [_secret_mount(s) for s in (template.get("ContainerSpec") or {}).get("Secrets") or ()]
    return {**attrs, "HostConfig": host_config, "Mounts": [*(attrs.get("Mounts") or ()), *secrets],
            "Endpoint": {"Ports": _published(service)}, "Task": _task(task, hostname),
            "RestartCount": restarted}


def _published(service: Mapping) -> dict:
    """The service's published ports as a port map: ingress ones on every address."""
    ports: dict[str, list] = {}
    for port in ((service.get("Endpoint") or {}).get("Ports")
                 or ((service["Spec"].get("EndpointSpec") or {}).get("Ports")) or ()):
        key = f"{port.get('TargetPort')}/{port.get('Protocol') or 'tcp'}"
        ports.setdefault(key, []).append({"HostIp": "", "HostPort": str(port.get("PublishedPort") or ""),
                                          "PublishMode": port.get("PublishMode") or "ingress"})
    return ports


def _secret_mount(secret: Mapping) -> dict:
    file = secret.get("File") or {}
    name = file.get("Name") or secret.get("SecretName") or ""
    return {"Type": "secret", "Source": secret.get("SecretName") or "",
            "Destination": name if name.startswith("/") else f"{SECRETS_DIR}/{name}", "RW": False,
            "UID": file.get("UID"), "GID": file.get("GID"), "Mode": file.get("Mode")}


def _without_container(task: Mapping, service: Mapping, hostname: str, stack: str, why: str) -> Subject:
    """A task the suite cannot inspect: what the manager knows, and why no more."""
    name = f"{_short(service, stack)}.{task.get('Slot') or task.get('NodeID')}"
    spec = (service["Spec"].get("TaskTemplate") or {}).get("ContainerSpec") or {}
    state = (task.get("Status") or {}).get("State", "")
    attrs = {"Id": task["ID"], "Name": f"/{name}", "Image": spec.get("Image", ""),
             "Config": {"Image": spec.get("Image", "").split("@", 1)[0]},
             "State": {"Status": state, "Running": False}, "Task": _task(task, hostname)}
    return Subject(service=_short(service, stack), name=name, attrs=freeze(attrs), image=freeze({}),
                   networks=MappingProxyType({}), process=None, test_id=name, engine_security=None,
                   kind=SWARM_TASK, node=hostname, unavailable=why)
