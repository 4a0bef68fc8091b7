"""Discover one compose stack and take a single snapshot of it.

Each container, image and network is inspected exactly once per run, and
concurrently; the checks then read only this snapshot. Per image ID the
snapshot also holds its build history (one request) and its setuid/setgid
files (one streamed export, cached by image ID: compliance/layers.py). What the
engine host sees of every container (its kernel status, mounts, /run/secrets
and processes: compliance/sources/inside.py) is read in one command where the
host can be looked at, else the real uid and processes come from one `docker
top` per container. The snapshot is
frozen (read-only mappings and tuples) so no check can change what another
sees, and its repr never shows an environment value.
"""

import tarfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import docker.errors
import requests

from compliance import layers, processes
from compliance.kernel import Ids
from compliance.layers import SetidFile
from compliance.model import Stack, Subject, freeze
from compliance.processes import Process
from compliance.sources import inside as inside_view
from compliance.sources.engine import ROOTLESS, Engine
from compliance.sources.inside import HostView

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
NETWORK_LABEL = "com.docker.compose.network"
PROBE_LABEL = "passq-compliance.probe"
SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"
SWARM_TASK_LABEL = "com.docker.swarm.task.name"
# Networks the swarm itself attaches a task to: the routing mesh (NET-01 judges its ports)
SWARM_OWN_NETWORKS = frozenset({"ingress"})
WORKERS = 8
# `docker info`'s mark of an engine with --userns-remap: `docker top` shows its containers'
# ids as the host numbers them, which is not what their USER or a policy's uid:gid mean
USERNS = "name=userns"
# `ps` columns of a process's ids: real, effective, saved, filesystem (kernel.Ids)
TOP_UIDS = ("ruid", "euid", "suid", "fsuid")
TOP_GIDS = ("rgid", "egid", "sgid", "fsgid")


class InventoryError(Exception):
    """The stack cannot be audited (no containers, engine failure)."""


def compose_network_name(network: Mapping, project: str) -> str:
    """The name the compose file uses for an engine network."""
    name = network.get("Name", "")
    labels = network.get("Labels") or {}
    if labels.get(PROJECT_LABEL) == project and labels.get(NETWORK_LABEL):
        return labels[NETWORK_LABEL]
    prefix = f"{project}_"
    return name[len(prefix):] if name.startswith(prefix) else name


def take(engine: Engine, project: str, proc: Path = Path("/proc"),
         layer_cache: Path | None = None, resolve=(),
         view_of: Callable[[Engine], HostView | None] = inside_view.engine_host) -> Stack:
    """Inspect every container of `project` once (running and stopped), and look at each
    from the engine host where it can be. `layer_cache` is where the images' setuid/setgid
    files are cached (default: layers.cache_dir()); `resolve`: paths the checks will ask
    about, to be followed through each container's own symlinks; `view_of(engine)`: how
    that engine's host is looked at (None: it is not)."""
    listed = engine.api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    listed = [c for c in listed if PROBE_LABEL not in (c.get("Labels") or {})]
    if not listed:
        raise InventoryError(
            f"no containers of stack {project!r} (label {PROJECT_LABEL}={project}) "
            f"on the Docker engine at {engine.host}"
        )
    networks = {n["Name"]: n for n in engine.api.networks()}
    containers = subjects(engine, [c["Id"] for c in listed], project, networks, proc, layer_cache,
                          resolve, view_of=view_of)
    stack_networks = {
        compose_network_name(n, project): freeze(n) for n in networks.values()
        if (n.get("Labels") or {}).get(PROJECT_LABEL) == project
    }
    return Stack(project, tuple(containers), MappingProxyType(stack_networks),
                 engine.host, engine.version)


def subjects(engine: Engine, container_ids, project: str, networks: Mapping,
             proc: Path = Path("/proc"), layer_cache: Path | None = None, resolve=(),
             overlay=None,
             view_of: Callable[[Engine], HostView | None] = inside_view.engine_host) -> list[Subject]:
    """The containers `container_ids` of one engine as Subjects, each inspected once, its
    image once per image ID, and looked at from the engine host where it can be.
    `networks`: the engine's networks by name; `overlay(attrs) -> attrs` adds what another
    source knows of a container (a swarm task's service spec) before it is frozen."""
    api = engine.api
    with ThreadPoolExecutor(WORKERS) as pool:
        inspected = list(pool.map(lambda c: _inspect_container(api, c), container_ids))
        inspected = [c for c in inspected if c is not None]
        image_ids = sorted({c["Image"] for c in inspected})
        images = dict(zip(image_ids, pool.map(lambda i: _image(api, i, layer_cache), image_ids),
                          strict=True))
    info = engine.info()
    engine_security = tuple(info.get("SecurityOptions") or ())
    facts = engine.facts(info)
    host = view_of(engine)
    views = host.look([inside_view.target(attrs, images[attrs["Image"]].inspect)
                       for attrs in inspected], str(proc), resolve,
                      by_pid_namespace=facts.cgroups is False) if host else {}
    by_service: dict[str, int] = {}
    for attrs in inspected:
        service = _service(attrs, project)
        by_service[service] = by_service.get(service, 0) + 1
    containers = []
    for attrs in inspected:
        service = _service(attrs, project)
        attached = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
        seen = views.get(attrs["Id"])
        ids = seen.kernel.container_ids if seen and seen.kernel else None
        running = seen.processes if seen else None
        if not _holds_main_process(attrs, running) or ids is None:
            top_ids, running = _top(engine, attrs)
            # `docker top` numbers ids as the host does: wrong inside a user namespace
            ids = ids or (None if {USERNS, ROOTLESS} & set(engine_security) else top_ids)
        containers.append(Subject(
            service=service,
            name=attrs["Name"].lstrip("/"),
            attrs=freeze(overlay(attrs) if overlay else attrs),
            image=freeze(images[attrs["Image"]].inspect),
            networks=MappingProxyType({
                name: compose_network_name(networks.get(name, {"Name": name}), project)
                for name in attached if name not in SWARM_OWN_NETWORKS
            }),
            process=ids,
            test_id=_test_id(attrs, service, by_service[service]),
            inside=seen,
            engine_security=engine_security,
            engine=facts,
            engine_time=info.get("SystemTime") or "",
            processes=running,
            image_history=images[attrs["Image"]].history,
            setid_files=images[attrs["Image"]].setid_files,
        ))
    containers.sort(key=lambda c: c.test_id)
    return containers


def _service(attrs: Mapping, project: str) -> str:
    """The compose service, else the swarm service without the stack's prefix, else the name."""
    labels = _labels(attrs)
    if SERVICE_LABEL in labels:
        return labels[SERVICE_LABEL]
    if SWARM_SERVICE_LABEL in labels:
        return labels[SWARM_SERVICE_LABEL].removeprefix(f"{project}_")
    return attrs["Name"].lstrip("/")


def _test_id(attrs: Mapping, service: str, replicas: int) -> str:
    """The service for its only container; else the compose container number (`web-2`) or
    the swarm slot (`web.2`, a global service's task by node)."""
    labels = _labels(attrs)
    task = labels.get(SWARM_TASK_LABEL)
    if task:  # `stack_service.slot.taskid` or `stack_service.nodeid.taskid`
        return f"{service}.{task.rsplit('.', 2)[-2]}"
    if replicas == 1:
        return service
    return f"{service}-{labels.get(NUMBER_LABEL, attrs['Id'][:12])}"


def _labels(attrs: Mapping) -> Mapping:
    return (attrs.get("Config") or {}).get("Labels") or {}


def _inspect_container(api, container_id: str) -> dict | None:
    """Inspect one container; None when it vanished between list and inspect."""
    try:
        return api.inspect_container(container_id)
    except docker.errors.NotFound:
        return None


@dataclass(frozen=True)
class _Image:
    inspect: dict  # {} if the image is gone
    history: tuple[str, ...] | None
    setid_files: tuple[SetidFile, ...] | None


def _image(api, image_id: str, layer_cache: Path | None) -> _Image:
    """What the snapshot holds of one image: inspect, history, setuid/setgid files."""
    try:
        inspect = api.inspect_image(image_id)
    except docker.errors.NotFound:
        return _Image({}, None, None)
    return _Image(inspect, _history(api, image_id), _setid_files(api, image_id, layer_cache))


def _holds_main_process(attrs: Mapping, found: tuple[Process, ...] | None) -> bool:
    """Whether a /proc scan's processes are the container's: its main pid is among them."""
    pid = (attrs.get("State") or {}).get("Pid") or 0
    return bool(found) and any(p.pid == pid for p in found)


def _top(engine: Engine, attrs: Mapping) -> tuple[Ids | None, tuple[Process, ...] | None]:
    """The ids of the main process (real, effective, saved, filesystem) and every process,
    asked of the engine in one `docker top`, where the engine host's /proc cannot be read;
    (None, None) when the container is not running or the engine will not say."""
    state = attrs.get("State") or {}
    pid = state.get("Pid") or 0
    if not state.get("Running") or pid <= 0:
        return None, None
    try:
        top = engine.api.top(attrs["Id"], ps_args=f"-o pid,{','.join(TOP_UIDS + TOP_GIDS)},comm")
    except docker.errors.APIError:
        return None, None
    titles = [t.upper() for t in top.get("Titles") or ()]
    ids = None
    for row in top.get("Processes") or ():
        process = dict(zip(titles, row, strict=False))
        if process.get("PID") == str(pid):
            try:
                uids = tuple(int(process[column.upper()]) for column in TOP_UIDS)
                gids = tuple(int(process[column.upper()]) for column in TOP_GIDS)
                ids = Ids(uids[0], gids[0], uids, gids)
            except (KeyError, ValueError):
                ids = None
    return ids, processes.from_top(top)


def _history(api, image_id: str) -> tuple[str, ...] | None:
    """`CreatedBy` of every history entry, oldest first (the engine lists newest first)."""
    try:
        return tuple(entry.get("CreatedBy") or "" for entry in reversed(api.history(image_id)))
    except (docker.errors.APIError, requests.RequestException):
        return None


def _setid_files(api, image_id: str, cache: Path | None) -> tuple[SetidFile, ...] | None:
    try:
        return layers.cached(image_id, lambda: layers.setid_files(api.get_image(image_id)), cache)
    except (docker.errors.APIError, requests.RequestException, ValueError, tarfile.TarError):
        return None
