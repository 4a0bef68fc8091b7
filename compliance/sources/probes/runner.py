"""One runner for every probe kind: short-lived probe containers, run concurrently, always
removed.

A probe container runs the probe image inside a target's namespaces, bounded by
timeouts inside and outside, labelled with PROBE_LABEL=<run id> and its owner,
auto-removed when it exits and removed again in a `finally`; Ctrl-C or SIGTERM kills
and removes every probe of the run. Leftovers of earlier (dead or stale) runs are
removed when a run starts probing. What a kind probes is planned elsewhere
(plan.py) as a Batch: its Specs and how their outputs become observations.
"""

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import docker.errors
import requests

from compliance.observations import ProbeError
from compliance.sources.compose import PROBE_LABEL
from compliance.sources.engine import Engine
from compliance.sources.probes import PROBE_IMAGE

OWNER_LABEL = f"{PROBE_LABEL}.owner"  # "<hostname>:<pid>" of the run that started it
WORKERS = 8  # probe containers at once
CONNECT_TIMEOUT_S = 1  # one try of a TCP connect (nc -w); each connect is tried twice (connect.sh)
DEADLINE_S = 30  # one probe container, start to exit; then it is killed
STALE_AFTER_S = 300  # a probe container this old is a leftover, whoever started it


@dataclass(frozen=True)
class Spec:
    """One probe container to run."""

    script: str
    args: tuple[str, ...]
    network_mode: str = "none"
    pid_mode: str | None = None
    user: str = "65534:65534"
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ("ALL",)
    environment: Mapping | None = None
    node: str = ""  # the swarm node whose engine runs it (its target's); "" the audited engine


@dataclass(frozen=True)
class Batch:
    """One kind of probe, planned: its probe containers, and how their outputs become
    observations. Batches of several kinds run in one pool (ProbeRunner.run_batches)."""

    specs: list[Spec]
    finish: Callable[[list], object]  # the outputs of `specs`, in order -> the observations
    runs: bool = True  # False: nothing to run, not even the probe image check


class ProbeRunner:
    """Runs probe containers, concurrently, and always cleans up: on the audited engine, or
    for a swarm task on its node's engine (`nodes`: node hostname -> Engine), since a probe
    joins its target's namespaces and those exist on that node only."""

    def __init__(self, engine: Engine, image: str = PROBE_IMAGE, *, workers: int = WORKERS,
                 connect_timeout: int = CONNECT_TIMEOUT_S, deadline: float = DEADLINE_S,
                 run_id: str | None = None, nodes: Mapping[str, Engine] | None = None):
        self.engine = engine
        self.engines = {**(nodes or {}), "": engine}
        self.image = image
        self.workers = workers
        self.connect_timeout = connect_timeout
        self.deadline = deadline
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._live: set[tuple[str, str]] = set()  # (node, probe container id)
        self._cancel = threading.Event()
        self._checked_image: set[str] = set()  # nodes whose engine has the probe image
        self.swept: list[str] = []

    @property
    def labels(self) -> dict:
        return {PROBE_LABEL: self.run_id, OWNER_LABEL: self.owner}

    # -- housekeeping ------------------------------------------------------------

    def sweep_leftovers(self) -> list[str]:
        """Remove probe containers of earlier runs: their owner process is gone (this
        host), or they are older than any probe can live. A concurrent run's probes stay."""
        removed = []
        for node, engine in self.engines.items():
            for listed in engine.api.containers(all=True, filters={"label": PROBE_LABEL}):
                labels = listed.get("Labels") or {}
                if labels.get(PROBE_LABEL) == self.run_id:
                    continue
                if owner_gone(labels.get(OWNER_LABEL, "")) or (
                        time.time() - listed.get("Created", 0) > STALE_AFTER_S):
                    self._remove(listed["Id"], node)
                    removed.append(listed["Id"][:12])
        self.swept = removed
        return removed

    def cancel(self) -> None:
        """Start no further probe (the run is being interrupted)."""
        self._cancel.set()

    def cleanup(self) -> None:
        """Remove every probe container of this run (also ones still being created)."""
        with self._lock:
            known = set(self._live)
        for node, container_id in known:
            self._remove(container_id, node)
        for node, engine in self.engines.items():
            try:
                leftovers = engine.api.containers(all=True,
                                                  filters={"label": f"{PROBE_LABEL}={self.run_id}"})
            except (docker.errors.APIError, requests.RequestException):
                continue
            for listed in leftovers:
                self._remove(listed["Id"], node)

    def _remove(self, container_id: str, node: str = "") -> bool:
        """Force-remove one probe container; False when the engine refused (it stays
        listed under this run's label, so cleanup() and the next run retry)."""
        try:
            self.engines[node].api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # 409: removal already in progress (auto-remove)
            if exc.status_code != 409 or not self._gone(container_id, node):
                return False
        except (requests.RequestException, OSError):
            return False
        with self._lock:
            self._live.discard((node, container_id))
        return True

    def _gone(self, container_id: str, node: str = "", wait_s: float = 5.0) -> bool:
        """Wait for the engine's own removal (auto-remove) to finish."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                self.engines[node].api.inspect_container(container_id)
            except docker.errors.NotFound:
                return True
            except (docker.errors.APIError, requests.RequestException, OSError):
                return False
            time.sleep(0.05)
        return False

    def _ensure_image(self, node: str = "") -> None:
        if node in self._checked_image:
            return
        engine = self.engines[node]
        try:
            engine.api.inspect_image(self.image)
        except docker.errors.NotFound:
            raise ProbeError(f"probe image {self.image} is not on the engine at {engine.host} "
                             "(build it: scripts/build-fixture-images busybox, or pass "
                             "--probe-image)") from None
        self._checked_image.add(node)

    # -- running -------------------------------------------------------------------

    def run(self, specs: list[Spec]) -> list[str | ProbeError]:
        """Run the probes concurrently; each yields its output, or the ProbeError that
        stopped it. Ctrl-C or SIGTERM kills and removes every probe of this run."""
        for node in ["", *sorted({spec.node for spec in specs} - {""})]:
            self._ensure_image(node)
        if not specs:
            return []
        pool = ThreadPoolExecutor(min(self.workers, len(specs)), thread_name_prefix="probe")
        interrupted = False
        try:
            with sigterm_interrupts():
                futures = [pool.submit(self._guarded, spec) for spec in specs]
                return [f.result() for f in futures]
        except BaseException:
            interrupted = True
            self._cancel.set()
            raise
        finally:
            if interrupted:
                self.cleanup()  # kill running probes now, so their workers return at once
            pool.shutdown(wait=True, cancel_futures=True)
            self.cleanup()
            if interrupted:
                self._cancel.clear()

    def _guarded(self, spec: Spec) -> str | ProbeError:
        try:
            return self._one(spec)
        except ProbeError as exc:
            return exc
        except docker.errors.APIError as exc:  # e.g. the target vanished: "No such container: <id>"
            said = exc.explanation if isinstance(exc.explanation, str) and exc.explanation else str(exc)
            return ProbeError(f"probe container failed: {said.splitlines()[0][:300]}")
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            return ProbeError(f"probe container failed: {str(exc).splitlines()[0][:300]}")

    def _one(self, spec: Spec) -> str:
        if self._cancel.is_set():
            raise ProbeError("cancelled")
        if spec.node not in self.engines:
            raise ProbeError(f"no engine of node {spec.node} to run the probe on")
        api = self.engines[spec.node].api
        host_config = api.create_host_config(
            network_mode=spec.network_mode, pid_mode=spec.pid_mode, auto_remove=True,
            read_only=True, cap_add=list(spec.cap_add) or None,
            cap_drop=list(spec.cap_drop) or None,
            security_opt=["no-new-privileges"], mem_limit="32m", pids_limit=64,
            nano_cpus=500_000_000,
        )
        container_id = None
        timer = None
        try:
            created = api.create_container(
                self.image, command=["sh", "-c", spec.script, "probe", *spec.args],
                labels=self.labels, host_config=host_config, user=spec.user,
                environment=dict(spec.environment or {}), network_disabled=False,
            )
            container_id = created["Id"]
            with self._lock:
                self._live.add((spec.node, container_id))
            if self._cancel.is_set():
                raise ProbeError("cancelled")
            stream = api.attach(container_id, stdout=True, stderr=True, stream=True, logs=True)
            timer = threading.Timer(self.deadline, self._remove, (container_id, spec.node))
            timer.daemon = True
            started = time.monotonic()
            api.start(container_id)
            timer.start()
            output = b"".join(stream).decode("utf-8", "replace")
            if time.monotonic() - started >= self.deadline:
                raise ProbeError(f"the probe did not finish within {self.deadline:g} s")
            return output
        finally:
            if timer is not None:
                timer.cancel()
            if container_id is not None:
                self._remove(container_id, spec.node)

    # -- the probes -----------------------------------------------------------------

    def run_batches(self, batches: list["Batch"]) -> list:
        """Run several planned batches in one pool (each yields what its `finish` makes);
        the same probes and observations as running them one after the other, sooner."""
        outputs = iter(self.run([spec for b in batches if b.runs for spec in b.specs]))
        return [b.finish([next(outputs) for _ in b.specs] if b.runs else []) for b in batches]


def owner_gone(owner: str) -> bool:
    """True when `owner` ("host:pid") is a process of this host that no longer runs."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def sigterm_interrupts():
    """While probes run, SIGTERM interrupts like Ctrl-C, so the cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
