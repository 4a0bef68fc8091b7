"""Connect to the Docker engine under audit, with one clear error when it is not there.

Every engine request goes through one counting session, so the "one inspect
per container" property is measured (benchmarks, compliance.json), not assumed.
"""

import os
import re
import threading
from dataclasses import dataclass, field

import docker
import requests

from compliance.model import EngineFacts

DEFAULT_HOST = "unix:///var/run/docker.sock"
TIMEOUT_S = 15
POOL_SIZE = 16


class EngineError(Exception):
    """The engine cannot be reached or answered something unusable."""


@dataclass
class Engine:
    """A connected engine: the SDK's low-level API plus what the report names."""

    api: docker.APIClient
    host: str
    version: str
    calls: "CallCounter" = field(repr=False)
    product: str = "Docker"  # "Podman" where `docker version` names a Podman component

    @property
    def is_local(self) -> bool:
        """True when the engine shares this machine's /proc (a local unix socket)."""
        return self.host.startswith("unix://")

    def info(self) -> dict:
        """`docker info`: engine-wide settings such as SecurityOptions (`name=no-new-privileges`).
        {} when the engine will not say: a setting nobody could read protects nothing."""
        try:
            return self.api.info()
        except (docker.errors.DockerException, requests.RequestException):
            return {}


    def facts(self, info: dict) -> EngineFacts:
        """What kind of engine this is, from its version and its `docker info` (`info`): rootless
        where SecurityOptions hold `name=rootless`, without cgroups where CgroupDriver is
        `none` (rootless Docker on a cgroup v1 host: every limit it records is ignored)."""
        rootless = ROOTLESS in (info.get("SecurityOptions") or ())
        driver = info.get("CgroupDriver")
        return EngineFacts(self.product, self.version, rootless,
                           cgroups=None if driver is None else driver != "none")


ROOTLESS = "name=rootless"


def product(version: dict) -> str:
    """The engine's product from `docker version`: Podman lists a component named
    "Podman Engine" (Docker's is "Engine")."""
    names = [c.get("Name") or "" for c in version.get("Components") or ()]
    return "Podman" if any(n.startswith("Podman") for n in names) else "Docker"


class CallCounter:
    """Counts HTTP requests sent to the engine (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def wrap(self, send):
        def counted_send(*args, **kwargs):
            with self._lock:
                self.count += 1
            return send(*args, **kwargs)

        return counted_send


def resolve_host(docker_host: str | None) -> str:
    return docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def connect(docker_host: str | None = None) -> Engine:
    """Connect and ask the engine its version; raise EngineError naming the host."""
    host = resolve_host(docker_host)
    try:
        api = docker.APIClient(
            base_url=host, version="auto", timeout=TIMEOUT_S, max_pool_size=POOL_SIZE,
            use_ssh_client=host.startswith("ssh://"),
        )
        # A unix socket or an ssh pipe goes through no proxy and takes no .netrc login, which
        # requests would otherwise look up in the environment for every call (a share of
        # each inspect's time, benchmarks/README.md). A tcp:// engine keeps them: it may
        # sit behind a proxy.
        api.trust_env = host.startswith("tcp://")
        calls = CallCounter()
        api.send = calls.wrap(api.send)
        answer = api.version()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise EngineError(f"Docker engine at {host} is unreachable: {_reason(exc)}") from None
    return Engine(api=api, host=host, version=answer["Version"], calls=calls,
                  product=product(answer))


_OS_ERROR = re.compile(r"\[Errno \d+\] ([^'\")]+)|\w+Error\(\d+, '([^']+)'\)")


def _reason(exc: Exception) -> str:
    """The operating system's words for the failure, else the SDK's last line."""
    text = str(exc).strip() or type(exc).__name__
    match = _OS_ERROR.search(text)
    if match:
        return (match.group(1) or match.group(2)).strip()
    return text.splitlines()[-1][:300]
