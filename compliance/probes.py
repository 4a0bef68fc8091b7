"""Live probes: short-lived probe containers that observe, never judge.

A probe container runs the probe image (a static busybox) inside a target's
namespaces, so the target image needs no tools at all:

- network probes join the source container's network namespace
  (`network_mode: container:<id>`) and try TCP connects (NET-04) or send the
  PostgreSQL SSLRequest (NET-05);
- write probes join the target's PID namespace and try to create a file on
  its root filesystem through `/proc/<pid>/root`, as the target's own
  uid:gid with the target's capabilities (HRD-02).

Probes record raw observations (connected / refused / timeout, the byte
that answered, the errno of the write); the verdicts are pure checks in
compliance/checks/live.py.

Safety: probes only ever connect to the stack's own container addresses
(taken from the snapshot, never resolved through DNS: the engine's embedded
DNS forwards names it does not know to the host's upstream resolver) or to
127.0.0.1 inside a stack container. Every probe container carries
PROBE_LABEL=<run id> and its owner, auto-removes when it exits, is removed
again in a `finally`, is bounded by timeouts inside and outside, and is
killed and removed on Ctrl-C or SIGTERM. Leftovers of earlier (dead or stale)
runs are removed when a run starts probing.
"""

import ipaddress
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import docker.errors
import requests

from compliance.engine import Engine
from compliance.inventory import PROBE_LABEL, Container, Stack
from compliance.policy import Flow, Policy

PROBE_IMAGE = "passq-fixture/busybox:1.35"
OWNER_LABEL = f"{PROBE_LABEL}.owner"  # "<hostname>:<pid>" of the run that started it
WORKERS = 8  # probe containers at once
CONNECT_TIMEOUT_S = 2  # one TCP connect (nc -w)
DEADLINE_S = 30  # one probe container, start to exit; then it is killed
STALE_AFTER_S = 300  # a probe container this old is a leftover, whoever started it
SSL_REQUEST = "\\000\\000\\000\\010\\004\\322\\026\\057"  # length 8, code 80877103 (octal, for printf)

# Each probe prints "@@<kind> <fields...>" lines and "@@done" last: a probe
# without "@@done" did not finish, and its observations are incomplete.
# A listener that serves one connection at a time refuses a second one while it serves
# the first (another probe kind hitting the same port at that moment is enough), so a
# refused connect is tried again, a few times, before it counts as refused: what a
# probe observes must not depend on which other probes ran at the same time.
_RETRY_REFUSED = """
try() {
  n=0
  while :; do
    out=$("$@" 2>&1); rc=$?
    case "$out" in *efused*) ;; *) break ;; esac
    n=$((n + 1)); [ $n -ge 12 ] && break
    sleep 0.25
  done
}
"""
_CONNECT_SCRIPT = _RETRY_REFUSED + """
t=$1; shift
while [ $# -ge 3 ]; do
  ( try timeout $((t + 3)) nc -w "$t" "$2" "$3" -e true </dev/null
    echo "@@connect $1 $rc" $out ) &
  shift 3
done
wait
echo "@@done"
"""
_SSL_SCRIPT = _RETRY_REFUSED + """
t=$1; port=$2; shift 2
for address in "$@"; do
  try timeout $((t + 5)) nc -w "$t" "$address" "$port" -e sh -c "$PROBE_SSL" </dev/null
  echo "@@ssl $address $rc" $out
done
echo "@@done"
"""
_SSL_EXCHANGE = (f'printf "{SSL_REQUEST}"; '
                 "timeout 3 dd bs=1 count=1 2>/dev/null | od -An -tx1 >&2")
_WRITE_SCRIPT = """
p=$1; cid=$2; f=/proc/$1/root/$3
if [ -n "$cid" ] && ! grep -q "$cid" /proc/$p/cgroup 2>/dev/null; then
  echo "@@identity pid $p is not the target's main process"; echo "@@done"; exit 0
fi
if ! out=$(ls -d /proc/$p/root/ 2>&1); then echo "@@access" $out; echo "@@done"; exit 0; fi
out=$( (printf passq > "$f") 2>&1 ); rc=$?
left=0; removed=-
if [ -e "$f" ] || [ -L "$f" ]; then
  left=1; rm -f "$f" 2>/dev/null
  if [ -e "$f" ]; then removed=0; else removed=1; fi
fi
echo "@@write $rc $left $removed" $out
echo "@@done"
"""

_ERRNO_NAMES = {
    "Read-only file system": "EROFS",
    "Permission denied": "EACCES",
    "Operation not permitted": "EPERM",
    "No space left on device": "ENOSPC",
    "No such file or directory": "ENOENT",
}


class ProbeError(Exception):
    """A probe could not run or did not finish: its observations are missing."""


# -- observations ---------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One TCP connect tried from inside `source`'s network namespace."""

    flow: Flow
    source: str  # the source container's name
    target: str  # the target container's name
    address: str
    network: str  # the compose network the address belongs to
    result: str  # connected | refused | timeout | unreachable | error
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.result == "error" and self.detail else ""
        return f"{self.source} -> {self.address}:{self.flow.port} [{self.network}]: {self.result}{extra}"


@dataclass(frozen=True)
class FlowObservation:
    """Every attempt made for one policy flow, or why none could be made."""

    flow: Flow
    kind: str  # deny | allow
    attempts: tuple[Attempt, ...] = ()
    problem: str = ""  # set when the flow could not be probed (no source, no target, probe failed)


@dataclass(frozen=True)
class TlsObservation:
    """The PostgreSQL server's answer to an SSLRequest."""

    container: str  # where the probe ran (its network namespace)
    address: str
    port: int
    result: str  # connected | refused | timeout | unreachable | error
    answer: str | None = None  # the answering byte ("S", "N", or "0x45"); None: no answer
    detail: str = ""

    def __str__(self) -> str:
        said = f", answered {self.answer!r}" if self.answer is not None else (
            ", no answer" if self.result == "connected" else "")
        return f"SSLRequest from {self.container}'s netns to {self.address}:{self.port}: {self.result}{said}"


@dataclass(frozen=True)
class WriteObservation:
    """A write attempt on a container's root filesystem."""

    container: str
    path: str  # the path inside the container
    as_ids: str  # uid:gid the attempt ran as
    result: str  # refused | written | error
    errno: str = ""  # EROFS, EACCES, ... when refused
    left_behind: bool = False  # the file existed after the attempt
    removed: bool = True  # ... and was removed again
    detail: str = ""


# -- parsing probe output (pure) ------------------------------------------------------------


def probe_lines(output: str, kind: str) -> list[list[str]]:
    """The fields of each "@@<kind>" line; ProbeError when the probe did not finish."""
    lines = [line.strip() for line in output.splitlines()]
    if "@@done" not in lines:
        tail = " | ".join(line for line in lines if line)[-300:]
        raise ProbeError(f"the probe did not finish (output: {tail or 'none'})")
    return [line.split(" ")[1:] for line in lines if line.startswith(f"@@{kind} ") or
            line == f"@@{kind}"]


def connect_result(rc: str, text: str) -> tuple[str, str]:
    """busybox nc's exit status and message -> (result, detail)."""
    lowered = text.lower()
    if rc == "0":
        return "connected", ""
    if "refused" in lowered:
        return "refused", ""
    if "timed out" in lowered or rc in ("124", "143"):
        return "timeout", ""
    if "unreachable" in lowered or "no route" in lowered:
        return "unreachable", text
    return "error", f"exit {rc}: {text}".strip()[:200]


def parse_connects(output: str) -> dict[str, tuple[str, str]]:
    """Attempt id -> (result, detail)."""
    return {fields[0]: connect_result(fields[1], " ".join(fields[2:]))
            for fields in probe_lines(output, "connect") if len(fields) >= 2}


def parse_ssl(output: str) -> dict[str, tuple[str, str | None, str]]:
    """Address -> (result, answer, detail)."""
    out = {}
    for fields in probe_lines(output, "ssl"):
        if len(fields) < 2:
            continue
        address, rc, text = fields[0], fields[1], " ".join(fields[2:])
        byte = re.search(r"(?:^|\s)([0-9a-f]{2})$", text)
        if byte:
            value = int(byte.group(1), 16)
            answer = chr(value) if chr(value) in "SN" else f"0x{value:02x}"
            out[address] = ("connected", answer, "")
        elif rc == "0":
            out[address] = ("connected", None, "")
        else:
            result, detail = connect_result(rc, text)
            out[address] = (result, None, detail)
    return out


def parse_write(output: str) -> tuple[str, str, bool, bool, str]:
    """(result, errno, left_behind, removed, detail) of a write probe."""
    for kind in ("identity", "access"):
        found = probe_lines(output, kind)
        if found:
            return "error", "", False, True, f"{kind}: {' '.join(found[0])}".strip()
    found = probe_lines(output, "write")
    if not found or len(found[0]) < 3:
        raise ProbeError("the write probe reported nothing")
    rc, left, removed, text = found[0][0], found[0][1], found[0][2], " ".join(found[0][3:])
    left_behind, removed_ok = left == "1", removed != "0"
    if rc == "0":
        return "written", "", left_behind, removed_ok, ""
    strerror = text.rsplit(": ", 1)[-1].strip() if text else ""
    errno = _ERRNO_NAMES.get(strerror, "")
    if not errno:
        return "error", "", left_behind, removed_ok, text[:200]
    return "refused", errno, left_behind, removed_ok, strerror


# -- planning (pure: snapshot + policy -> what to try) -------------------------------------


def addresses(container: Container) -> list[tuple[str, str]]:
    """(address, compose network) of every network the container is attached to."""
    attached = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    out = []
    for name, net in attached.items():
        for key in ("IPAddress", "GlobalIPv6Address"):
            if net.get(key):
                out.append((net[key], container.networks.get(name, name)))
    return out


def running(containers: Iterable[Container]) -> list[Container]:
    return [c for c in containers if c.state.get("Running")]


def stack_addresses(stack: Stack) -> set[str]:
    return {address for c in stack.containers for address, _ in addresses(c)}


def _check_target(address: str, allowed: set[str]) -> None:
    """Refuse any address that is not a stack container's own (or its loopback)."""
    ip = ipaddress.ip_address(address)
    if not (ip.is_loopback or address in allowed):
        raise ProbeError(f"refusing to probe {address}: not an address of the stack's containers")


# -- the runner -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """One probe container to run."""

    script: str
    args: tuple[str, ...]
    network_mode: str = "none"
    pid_mode: str | None = None
    user: str = "65534:65534"
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ("ALL",)
    environment: Mapping | None = None


@dataclass(frozen=True)
class _Batch:
    """One kind of probe, planned: its probe containers, and how their outputs become
    observations. Batches of several kinds run in one pool (ProbeRunner.run_batches)."""

    specs: list[_Spec]
    finish: Callable[[list], object]  # the outputs of `specs`, in order -> the observations
    runs: bool = True  # False: nothing to run, not even the probe image check


class ProbeRunner:
    """Runs probe containers on one engine, concurrently, and always cleans up."""

    def __init__(self, engine: Engine, image: str = PROBE_IMAGE, *, workers: int = WORKERS,
                 connect_timeout: int = CONNECT_TIMEOUT_S, deadline: float = DEADLINE_S,
                 run_id: str | None = None):
        self.engine = engine
        self.api = engine.api
        self.image = image
        self.workers = workers
        self.connect_timeout = connect_timeout
        self.deadline = deadline
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._live: set[str] = set()
        self._cancel = threading.Event()
        self._checked_image = False
        self.swept: list[str] = []

    @property
    def labels(self) -> dict:
        return {PROBE_LABEL: self.run_id, OWNER_LABEL: self.owner}

    # -- housekeeping ------------------------------------------------------------

    def sweep_leftovers(self) -> list[str]:
        """Remove probe containers of earlier runs: their owner process is gone (this
        host), or they are older than any probe can live. A concurrent run's probes stay."""
        removed = []
        for listed in self.api.containers(all=True, filters={"label": PROBE_LABEL}):
            labels = listed.get("Labels") or {}
            if labels.get(PROBE_LABEL) == self.run_id:
                continue
            if _owner_gone(labels.get(OWNER_LABEL, "")) or (
                    time.time() - listed.get("Created", 0) > STALE_AFTER_S):
                self._remove(listed["Id"])
                removed.append(listed["Id"][:12])
        self.swept = removed
        return removed

    def cleanup(self) -> None:
        """Remove every probe container of this run (also ones still being created)."""
        with self._lock:
            known = set(self._live)
        for container_id in known:
            self._remove(container_id)
        try:
            leftovers = self.api.containers(all=True, filters={"label": f"{PROBE_LABEL}={self.run_id}"})
        except (docker.errors.APIError, requests.RequestException):
            return
        for listed in leftovers:
            self._remove(listed["Id"])

    def _remove(self, container_id: str) -> bool:
        """Force-remove one probe container; False when the engine refused (it stays
        listed under this run's label, so cleanup() and the next run retry)."""
        try:
            self.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # 409: removal already in progress (auto-remove)
            if exc.status_code != 409 or not self._gone(container_id):
                return False
        except (requests.RequestException, OSError):
            return False
        with self._lock:
            self._live.discard(container_id)
        return True

    def _gone(self, container_id: str, wait_s: float = 5.0) -> bool:
        """Wait for the engine's own removal (auto-remove) to finish."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                self.api.inspect_container(container_id)
            except docker.errors.NotFound:
                return True
            except (docker.errors.APIError, requests.RequestException, OSError):
                return False
            time.sleep(0.05)
        return False

    def _ensure_image(self) -> None:
        if self._checked_image:
            return
        try:
            self.api.inspect_image(self.image)
        except docker.errors.NotFound:
            raise ProbeError(f"probe image {self.image} is not on the engine at {self.engine.host} "
                             "(build it: scripts/build-fixture-images busybox, or pass "
                             "--probe-image)") from None
        self._checked_image = True

    # -- running -------------------------------------------------------------------

    def run(self, specs: list[_Spec]) -> list[str | ProbeError]:
        """Run the probes concurrently; each yields its output, or the ProbeError that
        stopped it. Ctrl-C or SIGTERM kills and removes every probe of this run."""
        self._ensure_image()
        if not specs:
            return []
        pool = ThreadPoolExecutor(min(self.workers, len(specs)), thread_name_prefix="probe")
        interrupted = False
        try:
            with _sigterm_interrupts():
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

    def _guarded(self, spec: _Spec) -> str | ProbeError:
        try:
            return self._one(spec)
        except ProbeError as exc:
            return exc
        except docker.errors.APIError as exc:  # e.g. the target vanished: "No such container: <id>"
            said = exc.explanation if isinstance(exc.explanation, str) and exc.explanation else str(exc)
            return ProbeError(f"probe container failed: {said.splitlines()[0][:300]}")
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            return ProbeError(f"probe container failed: {str(exc).splitlines()[0][:300]}")

    def _one(self, spec: _Spec) -> str:
        if self._cancel.is_set():
            raise ProbeError("cancelled")
        api = self.api
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
                self._live.add(container_id)
            if self._cancel.is_set():
                raise ProbeError("cancelled")
            stream = api.attach(container_id, stdout=True, stderr=True, stream=True, logs=True)
            timer = threading.Timer(self.deadline, self._remove, (container_id,))
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
                self._remove(container_id)

    # -- the probes -----------------------------------------------------------------

    def run_batches(self, batches: list["_Batch"]) -> list:
        """Run several planned batches in one pool (each yields what its `finish` makes);
        the same probes and observations as running them one after the other, sooner."""
        outputs = iter(self.run([spec for b in batches if b.runs for spec in b.specs]))
        return [b.finish([next(outputs) for _ in b.specs] if b.runs else []) for b in batches]

    def connects(self, jobs: list[tuple[Container, list[tuple[str, str, int]]]],
                 allowed: set[str]) -> list[dict[str, tuple[str, str]] | ProbeError]:
        """For each (source container, [(attempt id, address, port)]): attempt id ->
        (result, detail), tried concurrently from inside the source's network namespace."""
        batch = self.connects_batch(jobs, allowed)
        return batch.finish(self.run(batch.specs))

    def connects_batch(self, jobs: list[tuple[Container, list[tuple[str, str, int]]]],
                       allowed: set[str]) -> _Batch:
        specs = []
        for source, attempts in jobs:
            args = [str(self.connect_timeout)]
            for attempt_id, address, port in attempts:
                _check_target(address, allowed)
                args += [attempt_id, address, str(port)]
            specs.append(_Spec(_CONNECT_SCRIPT, tuple(args), network_mode=f"container:{source.id}"))
        return _Batch(specs, lambda outs: [
            out if isinstance(out, ProbeError) else _parsed(parse_connects, out) for out in outs])

    def ssl_batch(self, container: Container, targets: list[str], port: int,
                  allowed: set[str]) -> _Batch:
        for address in targets:
            _check_target(address, allowed)
        spec = _Spec(_SSL_SCRIPT, (str(self.connect_timeout), str(port), *targets),
                     network_mode=f"container:{container.id}",
                     environment={"PROBE_SSL": _SSL_EXCHANGE})
        return _Batch([spec], lambda outs: outs[0] if isinstance(outs[0], ProbeError)
                      else _parsed(parse_ssl, outs[0]))

    def writes_batch(self, containers: list[Container]) -> _Batch:
        path = f"/.passq-compliance-probe-{self.run_id}"
        specs, ids = [], []
        for container in containers:
            ids.append(str(container.process) if container.process else "")
            specs.append(write_spec(container, path) if container.process else None)

        def finish(outs: list) -> list[WriteObservation]:
            outputs = iter(outs)
            observations = []
            for container, spec, as_ids in zip(containers, specs, ids, strict=True):
                if spec is None:
                    observations.append(WriteObservation(
                        container.name, path, as_ids, "error",
                        detail="the real uid:gid of the main process is unknown"))
                    continue
                out = next(outputs)
                if isinstance(out, str):
                    try:
                        result, errno, left, removed, detail = parse_write(out)
                    except ProbeError as exc:
                        out = exc
                if isinstance(out, ProbeError):
                    observations.append(WriteObservation(container.name, path, as_ids, "error",
                                                         detail=str(out)))
                    continue
                observations.append(WriteObservation(container.name, path, as_ids, result, errno,
                                                     left, removed, detail))
            return observations

        return _Batch([s for s in specs if s is not None], finish)


def write_spec(container: Container, path: str) -> _Spec:
    """The write probe for one container: its PID namespace, its uid:gid, its capabilities.

    With a private PID namespace the target's main process is pid 1 of the shared
    namespace. A target sharing another PID namespace (`pid: host`, `container:`)
    is reached by its engine pid in the host's namespace, after checking that
    this pid's cgroup names the container (so a recycled pid is never written to).
    """
    host_config = container.host_config
    pid_mode = host_config.get("PidMode") or ""
    if pid_mode in ("", "private"):
        mode, pid, check = f"container:{container.id}", "1", ""
    else:
        mode, pid, check = "host", str(container.state.get("Pid") or 0), container.id
    return _Spec(
        _WRITE_SCRIPT, (pid, check, path.lstrip("/")), network_mode="none", pid_mode=mode,
        user=str(container.process), cap_add=tuple(host_config.get("CapAdd") or ()),
        cap_drop=tuple(host_config.get("CapDrop") or ()),
    )


def _parsed(parse, output: str):
    try:
        return parse(output)
    except ProbeError as exc:
        return exc


def _owner_gone(owner: str) -> bool:
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
def _sigterm_interrupts():
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


# -- one run's live observations, taken once ------------------------------------------


KINDS = ("flows", "tls", "writes")  # in the order their probes are queued: the slowest first
PROBES_OF_CONTROL = {"NET-04": "flows", "NET-05": "tls", "HRD-02": "writes"}  # what each live control reads


class Live:
    """The live observations of one audit run; each kind is probed once, on first use.

    `together` names the kinds the run will read (see KINDS): the first read probes all of
    them in one pool, so their probe containers run concurrently instead of one kind after
    the other. The observations are the same either way.
    """

    def __init__(self, runner: ProbeRunner, stack: Stack, policy: Policy, together: Iterable[str] = ()):
        self.runner = runner
        self.stack = stack
        self.policy = policy
        self.together = frozenset(together)
        self._flows: list[FlowObservation] | None = None
        self._tls: list[TlsObservation] | ProbeError | None = None
        self._writes: dict[str, WriteObservation] | None = None
        self._swept = False

    def _start(self) -> None:
        if not self._swept:
            self._swept = True
            self.runner.sweep_leftovers()

    def flows(self) -> list[FlowObservation]:
        """NET-04: every deny and allow flow of the policy, probed."""
        if self._flows is None:
            self._probe({"flows"} | self.together)
        return self._flows

    def tls(self) -> list[TlsObservation] | ProbeError:
        """NET-05: the database's answers to the SSLRequest ([] when there is no database)."""
        if self._tls is None:
            self._probe({"tls"} | self.together)
        return self._tls

    def write(self, container: Container) -> WriteObservation | None:
        """HRD-02: the write attempt on `container`'s root filesystem; None when it does not
        run or the kernel's mount table already answers (no probe is needed then). All such
        containers of the stack are probed at once, on first use."""
        if self._writes is None:
            self._probe({"writes"} | self.together)
        return self._writes.get(container.id)

    def close(self) -> None:
        self.runner.cleanup()

    # -- probing several kinds at once ------------------------------------------------

    def _probe(self, kinds: set[str]) -> None:
        """Observe every kind of `kinds` not yet observed, all their probes in one pool."""
        self._start()
        planned: dict[str, _Batch] = {}
        for kind in KINDS:
            if kind in kinds and self._observed(kind) is None:
                try:
                    planned[kind] = self._plan(kind)
                except ProbeError as exc:
                    self._keep(kind, self._failed(kind, exc))
        runs = [kind for kind, batch in planned.items() if batch.runs]
        try:
            observed = dict(zip(runs, self.runner.run_batches([planned[k] for k in runs]), strict=True))
        except ProbeError as exc:  # e.g. no probe image: every kind that needed a probe failed
            observed = {kind: self._failed(kind, exc) for kind in runs}
        for kind, batch in planned.items():
            self._keep(kind, observed[kind] if batch.runs else batch.finish([]))

    def _observed(self, kind: str):
        return {"flows": self._flows, "tls": self._tls, "writes": self._writes}[kind]

    def _plan(self, kind: str) -> "_Batch":
        if kind == "flows":
            return flows_batch(self.runner, self.stack, self.policy)
        if kind == "tls":
            return tls_batch(self.runner, self.stack, self.policy)
        return self.runner.writes_batch(self._write_targets())

    def _failed(self, kind: str, exc: ProbeError):
        """What a kind observed when its probes could not run at all."""
        if kind == "flows":  # every flow is unprobed
            return [FlowObservation(f, k, problem=str(exc)) for k, flows in
                    (("deny", self.policy.deny_flows), ("allow", self.policy.allow_flows)) for f in flows]
        if kind == "tls":
            return exc
        path = f"/.passq-compliance-probe-{self.runner.run_id}"
        return [WriteObservation(c.name, path, str(c.process or ""), "error", detail=str(exc))
                for c in self._write_targets()]

    def _keep(self, kind: str, observed) -> None:
        if kind == "flows":
            self._flows = observed
        elif kind == "tls":
            self._tls = observed
        else:
            targets = self._write_targets()
            self._writes = {c.id: o for c, o in zip(targets, observed, strict=True)}

    def _write_targets(self) -> list[Container]:
        """The running containers whose root mount the engine host cannot show."""
        return [c for c in running(self.stack.containers) if not (c.inside and c.inside.mounts)]


def probe_flows(runner: ProbeRunner, stack: Stack, policy: Policy) -> list[FlowObservation]:
    """Plan every flow's attempts, run one probe per source container, collect."""
    plan = _FlowPlan(stack, policy)
    return plan.collect(runner.connects(plan.jobs, plan.allowed) if plan.jobs else [])


def flows_batch(runner: ProbeRunner, stack: Stack, policy: Policy) -> _Batch:
    """probe_flows, planned to run in one pool with other kinds (Live)."""
    plan = _FlowPlan(stack, policy)
    connects = runner.connects_batch(plan.jobs, plan.allowed)
    return _Batch(connects.specs, lambda outs: plan.collect(connects.finish(outs) if plan.jobs else []),
                  runs=bool(plan.jobs))


class _FlowPlan:
    """Every flow's attempts: one probe per source container, trying each target address."""

    def __init__(self, stack: Stack, policy: Policy):
        self.allowed = stack_addresses(stack)
        self.flows = flows = ([("deny", f) for f in policy.deny_flows]
                              + [("allow", f) for f in policy.allow_flows])
        self.problems: dict[int, str] = {}
        # source id -> [(attempt id, flow index, target, address, net)]
        planned: dict[str, list] = {}
        self.planned = planned
        self.sources: dict[str, Container] = {}
        for index, (_kind, flow) in enumerate(flows):
            froms, tos = running(stack.service(flow.source)), running(stack.service(flow.target))
            if not froms:
                self.problems[index] = f"no running container of service {flow.source!r} to probe from"
                continue
            targets = [(t, address, net) for t in tos for address, net in addresses(t)]
            if not targets:
                self.problems[index] = f"no running container of service {flow.target!r} with an address"
                continue
            for source in froms:
                self.sources[source.id] = source
                for target, address, net in targets:
                    attempts = planned.setdefault(source.id, [])
                    attempts.append((f"a{index}-{len(attempts)}", index, target, address, net))
        self.order = list(planned)
        self.jobs = [(self.sources[sid], [(a[0], a[3], flows[a[1]][1].port) for a in planned[sid]])
                     for sid in self.order]

    def collect(self, outputs: list) -> list[FlowObservation]:
        """The observations, from each job's output (or the ProbeError that stopped it)."""
        attempts_of: dict[int, list[Attempt]] = {}
        for sid, out in zip(self.order, outputs, strict=True):
            for attempt_id, index, target, address, net in self.planned[sid]:
                flow = self.flows[index][1]
                if isinstance(out, ProbeError):
                    result, detail = "error", str(out)
                else:
                    result, detail = out.get(attempt_id, ("error", "no observation for this attempt"))
                attempts_of.setdefault(index, []).append(
                    Attempt(flow, self.sources[sid].name, target.name, address, net, result, detail))
        return [FlowObservation(flow, kind, tuple(attempts_of.get(i, ())), self.problems.get(i, ""))
                for i, (kind, flow) in enumerate(self.flows)]


def tls_batch(runner: ProbeRunner, stack: Stack, policy: Policy) -> _Batch:
    """NET-05's probes: from inside each running database container, the SSLRequest to
    127.0.0.1 first, then to its own addresses (one probe container per database)."""
    if policy.database is None:
        return _Batch([], lambda outs: [], runs=False)
    allowed = stack_addresses(stack)
    port = policy.database.port
    databases = running(stack.service(policy.database.service))
    if not databases:
        missing = ProbeError(f"no running container of the database service {policy.database.service!r}")
        return _Batch([], lambda outs: missing, runs=False)
    plans = []
    for db in databases:
        targets = ["127.0.0.1"] + [address for address, _ in addresses(db)]
        plans.append((db, targets, runner.ssl_batch(db, targets, port, allowed)))

    def finish(outs: list) -> list[TlsObservation] | ProbeError:
        observations = []
        for (db, targets, ssl), out in zip(plans, outs, strict=True):
            answers = ssl.finish([out])
            if isinstance(answers, ProbeError):
                return answers
            for address in targets:
                result, answer, detail = answers.get(address, ("error", None, "no observation"))
                observations.append(TlsObservation(db.name, address, port, result, answer, detail))
        return observations

    return _Batch([spec for _, _, ssl in plans for spec in ssl.specs], finish)
