"""The facts, pure data: the subjects a control judges and where each fact came from.

A Subject is one thing a per-container control judges: a running container
(the engine's `docker inspect` of it), a swarm task (its container inspected
on its node, with what the service spec decides), or a declared service (its
compose settings, shaped as compose would hand them to the engine, so the same
check judges all three). Every fact keeps its provenance: an inspect path for a running
container, `file:line` (the `origin` of each compose key) for a declared one,
and evidence names each setting the way its subject's reader knows it (`term`).
A Stack holds the subjects of one audit. Both are frozen: no check can change
what another sees, and no repr shows an environment value.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from compliance.kernel import Ids, Inside, Kernel
from compliance.layers import SetidFile
from compliance.processes import Process

RUNNING = "container"
DECLARED = "declared service"
SWARM_TASK = "swarm task"
_EMPTY = MappingProxyType({})


def freeze(value):
    """A deep, read-only copy of decoded JSON."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Location:
    """Where a declared fact is written: a file (as shown to the user, relative to the
    folder the suite runs in when inside it) and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Base:
    """An image a `build:` service's Dockerfile builds on: the FROM of a stage that is
    built, or a `COPY --from=` (`RUN --mount=from=`) source that names no stage.
    `reference` is `written` with its ARGs substituted ("" where one has no value)."""

    written: str
    reference: str
    location: Location
    instruction: str = "FROM"  # or "COPY --from", "RUN --mount from"


def first_written(origin: Mapping, keys, otherwise: Location | None) -> Location | None:
    """Where the first of `keys` is written (`origin`: key -> Location), else `otherwise`."""
    return next((origin[k] for k in keys if k in origin), otherwise)


@dataclass(frozen=True)
class EngineFacts:
    """What kind of engine runs a container, where that changes a verdict's meaning
    (docs/engines.md): its name for the evidence ("Podman 4.3.1", "rootless Docker
    20.10.24"), whether it runs rootless (uid 0 inside is the user's own uid outside),
    whether it puts containers in cgroups of their own (without, the limits it records are
    enforced by nothing; None where `docker info` did not say) and the name of its default
    network (Docker's `bridge`, Podman's `podman`)."""

    product: str  # "Docker" or "Podman"
    version: str
    rootless: bool = False
    cgroups: bool | None = True

    @property
    def name(self) -> str:
        return f"{'rootless ' if self.rootless else ''}{self.product} {self.version}"

    @property
    def podman(self) -> bool:
        return self.product == "Podman"

    @property
    def default_network(self) -> str:
        return "podman" if self.podman else "bridge"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, repr=False)
class Subject:
    """The settings of one container or declared service, taken once."""

    service: str
    name: str
    attrs: Mapping  # `docker inspect` of the container, or the declared settings in its shape
    image: Mapping  # `docker image inspect` of its image ({} if gone; a Dockerfile's USER/HEALTHCHECK)
    networks: Mapping  # engine network name -> compose network name
    process: Ids | None  # real uid:gid of the main process; None when not running
    test_id: str
    # what the engine host sees of the main process (kernel status, mounts, /run/secrets,
    # processes); None where there is no such view (a stopped container, no probe on a tcp:// engine)
    inside: Inside | None = None
    # the engine's `docker info` SecurityOptions (`name=no-new-privileges`, `name=seccomp,...`);
    # None where no engine is known (a declared service)
    engine_security: tuple[str, ...] | None = ()
    # the engine that runs it (Podman, rootless Docker); None where no engine is known
    engine: EngineFacts | None = None
    # the engine's clock when the snapshot was taken (`docker info` SystemTime), to tell how
    # long the container had been up (State.StartedAt is the engine's clock too)
    engine_time: str = ""
    # every process of the container; None when not running or not readable
    processes: tuple[Process, ...] | None = None
    # `CreatedBy` of each entry of the image's history, oldest first; None where unreadable
    image_history: tuple[str, ...] | None = None
    # the image's setuid/setgid regular files; None where its layers could not be read
    setid_files: tuple[SetidFile, ...] | None = None
    kind: str = RUNNING
    # a declared service's compose keys (`read_only`, `deploy.resources.limits.memory`) -> line
    origin: Mapping = field(default_factory=lambda: _EMPTY)
    # what its source calls a setting the checks read by inspect path, where that is not the
    # path (a declared service: `HostConfig.ReadonlyRootfs` -> `read_only`); see `term`
    terms: Mapping = field(default_factory=lambda: _EMPTY)
    location: Location | None = None  # a declared service's own line
    # a `build:` service's base images (its Dockerfile's built stages); None where no
    # Dockerfile was read (an `image:` service, a remote build context)
    bases: tuple[Base, ...] | None = None
    node: str = ""  # a swarm task's node (hostname)
    project: str | None = None  # a declared service's project among several (--project)
    # why the container cannot be judged (its node's engine is unreachable, the task has no
    # container): its controls are errors naming this, never passes
    unavailable: str = ""

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} ({self.service})>"

    @property
    def declared(self) -> bool:
        return self.kind == DECLARED

    def locate(self, keys) -> Location | None:
        """The line of the first of `keys` the declaration writes, else the service's own."""
        return first_written(self.origin, keys, self.location)

    def term(self, path: str) -> str:
        """The name evidence gives the setting at inspect `path`, in the subject's own terms:
        the compose key that sets it for a declared service (`read_only`), the path itself
        for a container (`HostConfig.ReadonlyRootfs`), so each can be matched against what
        its reader has in front of them: the compose file, or `docker inspect`."""
        return self.terms.get(path, path)

    @property
    def id(self) -> str:
        return self.attrs["Id"]

    @property
    def kernel(self) -> Kernel | None:
        """/proc/<pid>/status of the main process, where the engine host's view exists."""
        return self.inside.kernel if self.inside else None

    @property
    def config(self) -> Mapping:
        return self.attrs.get("Config") or {}

    @property
    def host_config(self) -> Mapping:
        return self.attrs.get("HostConfig") or {}

    @property
    def state(self) -> Mapping:
        return self.attrs.get("State") or {}

    @property
    def image_ref(self) -> str:
        return self.config.get("Image", "")

    @property
    def image_digests(self) -> tuple[str, ...]:
        return tuple(self.image.get("RepoDigests") or ())

    @property
    def env(self) -> Mapping:
        """Name -> value. Values may be secrets: never put them in any output."""
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in
                    self.config.get("Env") or ())


@dataclass(frozen=True, repr=False)
class Stack:
    """The subjects of one audit: a compose project as the engine ran it at one moment,
    or the services its compose files declare."""

    name: str
    containers: tuple[Subject, ...]
    networks: Mapping  # compose network name -> `docker network inspect` (or its declared shape)
    engine_host: str
    engine_version: str
    origin: Mapping = field(default_factory=lambda: _EMPTY)  # declared: `networks`, `secrets` -> line
    location: Location | None = None  # declared: the first compose file
    source: str = ""  # declared: the compose files and the profiles they were read with
    swarm_secrets: tuple[str, ...] | None = None  # a swarm stack: the names of the swarm's secrets
    project: str | None = None  # declared: its project among several (--project)

    def __repr__(self) -> str:
        return f"<Stack {self.name}: {len(self.containers)} containers>"

    @property
    def declared(self) -> bool:
        return self.location is not None

    def locate(self, keys) -> Location | None:
        """The line of the first of `keys` (`networks`, `secrets`) the files write, else the
        first file's."""
        return first_written(self.origin, keys, self.location)

    def service(self, name: str) -> tuple[Subject, ...]:
        return tuple(c for c in self.containers if c.service == name)
