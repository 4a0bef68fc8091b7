"""Scale benchmark: the full compliance suite against synthetic stacks of N busybox containers.

For each N a compose project `pqbench-<pid>-n<N>` is generated into a temporary
directory (half the services compliant, half not; three networks, one of them
internal; healthchecks; a few ports published on 127.0.0.1) together with a
policy naming every service and a few flows. The suite runs against it as a user
runs it (`python -m pytest --stack ... --policy ... --report-dir=...`), with and
without `--no-live`; the table shows wall seconds, the engine API calls the run
counted (compliance.json `engine.api_calls`), milliseconds per container and the
pytest process's peak memory. Then `passq-staging` (brought up when it is not
running, never taken down) is audited with live probes.

`--baseline REV` measures an earlier release of the suite side by side in the
same run, against the same stacks: REV is exported from git into the
temporary directory and installed into a virtualenv of its own there.

Every synthetic stack is torn down afterwards, also on Ctrl-C or SIGTERM;
leftovers of an earlier, killed benchmark are removed when the next one starts.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import docker
import docker.errors
import yaml

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
IMAGE = "passq-fixture/busybox:1.35"
PREFIX = "pqbench-"
PROJECT_LABEL = "com.docker.compose.project"
PROBE_LABEL = "passq-compliance.probe"
PROBE_OWNER_LABEL = "passq-compliance.probe.owner"
SIZES = (4, 20, 50, 100, 200)
PORT_RANGE = range(19000, 20000)  # loopback only
STAGING = "passq-staging"
HEALTH_INTERVAL = "30s"  # a check per container every 30 s: little load at N=200
SETTLE_TIMEOUT_S = 240
CALLS_CONSTANT = 5  # as tests/test_api_calls.py: version, event watch, container and network lists, +1
# Requests per image: inspect, history (IMG-04) and, until cached by image ID, its export (IMG-05).
CALLS_PER_IMAGE = 3
NO_DEV_PLUGINS = ("-p", "no:hypothesispytest")  # requirements-dev's hypothesis plugin, not the suite's


# -- the synthetic stack -------------------------------------------------------------------


def compliant(index: int) -> bool:
    return index % 2 == 0


def service_name(index: int) -> str:
    return f"c{index:03d}"


def compose_model(n: int, ports: list[int]) -> dict:
    """N services: even ones hardened (the policy's user, read-only root with a /tmp tmpfs,
    no-new-privileges, all capabilities dropped, limits, a passing healthcheck, an httpd on
    8080, on the internal `back` network, some also on `front` with a loopback port);
    odd ones as they come (root, writable, no limits, on `front` and `mid`; a quarter with
    a failing healthcheck, a quarter with none)."""
    services = {}
    free_ports = iter(ports)
    for i in range(n):
        service = {"image": IMAGE, "pull_policy": "never"}
        if compliant(i):
            on_front = i % 4 == 0
            service.update({
                "command": ["httpd", "-f", "-p", "8080", "-h", "/tmp"],
                "user": "1001:1001",
                "read_only": True,
                "tmpfs": ["/tmp"],
                "security_opt": ["no-new-privileges:true"],
                "cap_drop": ["ALL"],
                "mem_limit": "32m",
                "cpus": 0.25,
                "pids_limit": 50,
                "networks": ["front", "back"] if on_front else ["back"],
                "healthcheck": {"test": ["CMD", "true"], "interval": HEALTH_INTERVAL,
                                "timeout": "3s", "retries": 1},
            })
            if on_front and i % 20 == 0:
                service["ports"] = [f"127.0.0.1:{next(free_ports)}:8080"]
        else:
            service.update({"command": ["sleep", "86400"], "networks": ["front", "mid"]})
            if i % 4 == 1:
                service["healthcheck"] = {"test": ["CMD", "false"], "interval": HEALTH_INTERVAL,
                                          "timeout": "3s", "retries": 1}
            elif i % 8 == 3:
                service["healthcheck"] = {"test": ["CMD", "true"], "interval": HEALTH_INTERVAL,
                                          "timeout": "3s", "retries": 1}
        services[service_name(i)] = service
    return {"services": services,
            "networks": {"front": {}, "mid": {}, "back": {"internal": True}}}


def policy_model(project: str, n: int) -> dict:
    """Defaults for every service; flows between the first few services."""
    policy = {
        "stack": project,
        "defaults": {"user": "1001:1001", "writable_paths": ["/tmp"], "memory_max": "64M",
                     "cpus_max": 0.5, "pids_max": 100, "cap_add_allowed": [],
                     "allowed_host_ips": ["127.0.0.1", "::1"]},
        "services": {service_name(i): None for i in range(n)},
        "networks": {"internal": ["back"]},
    }
    if n >= 4:
        policy["flows"] = {
            # c001 (front, mid) must not reach c002 (back only); c000 and c002 share back.
            "deny": [{"from": service_name(1), "to": service_name(2), "port": 8080}],
            "allow": [{"from": service_name(0), "to": service_name(2), "port": 8080}],
        }
    return policy


def free_loopback_ports(count: int, avoid: set[int]) -> list[int]:
    found = []
    for port in PORT_RANGE:
        if len(found) == count:
            break
        if port in avoid:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
    if len(found) < count:
        raise SystemExit(f"bench: fewer than {count} free loopback ports in 19000-19999")
    return found


def compose(project: str, compose_file: Path, *args: str,
            timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / "compose"), "-p", project, "-f", str(compose_file), *args],
                          cwd=compose_file.parent, capture_output=True, text=True, timeout=timeout,
                          start_new_session=True)  # Ctrl-C reaches the benchmark, which tears down


class SyntheticStack:
    """One generated compose project; `down()` leaves no container, network or volume."""

    def __init__(self, client: docker.DockerClient, n: int, workdir: Path):
        self.client = client
        self.n = n
        self.project = f"{PREFIX}{os.getpid()}-n{n}"
        self.dir = workdir / self.project
        self.dir.mkdir()
        self.compose_file = self.dir / "compose.yml"
        self.policy_file = self.dir / "policy.yml"
        self.up_s = 0.0

    def up(self) -> None:
        ports_needed = len([i for i in range(self.n) if compliant(i) and i % 20 == 0])
        ports = free_loopback_ports(ports_needed, set())
        self.compose_file.write_text(yaml.safe_dump(compose_model(self.n, ports), sort_keys=False))
        self.policy_file.write_text(yaml.safe_dump(policy_model(self.project, self.n), sort_keys=False))
        started = time.monotonic()
        done = compose(self.project, self.compose_file, "up", "-d", "--quiet-pull")
        if done.returncode != 0:
            raise RuntimeError(f"compose up {self.project} failed:\n{done.stdout}{done.stderr}")
        self.settle()
        self.up_s = time.monotonic() - started

    def settle(self) -> None:
        """Wait until all N containers run and every healthcheck has reported once, so
        HLT-02's verdicts do not depend on when the audit starts."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            listed = self.client.api.containers(
                all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"})
            waiting = [c for c in listed if c["State"] != "running" or "health: starting" in c["Status"]]
            if len(listed) == self.n and not waiting:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.project}: {len(waiting)} of {len(listed)} containers not settled "
                                   f"after {SETTLE_TIMEOUT_S} s")
            time.sleep(1)

    def down(self) -> list[str]:
        return remove_project(self.client, self.project)


def remove_project(client: docker.DockerClient, project: str) -> list[str]:
    """Remove the containers, networks and volumes labelled `project`; the problems left.

    Containers go one at a time: removing many at once on this engine (20.10) can leave a
    stale endpoint behind, and then a network that can never be removed without a restart.
    """
    label = {"label": f"{PROJECT_LABEL}={project}"}
    problems = []
    for listed in client.api.containers(all=True, filters=label):
        try:
            client.api.remove_container(listed["Id"], force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            problems.append(f"container {listed['Names'][0]}: {exc.explanation}")
    deadline = time.monotonic() + 30
    for network in client.api.networks(filters=label):
        while True:  # endpoints of just-removed containers are released asynchronously
            try:
                client.api.remove_network(network["Id"])
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError as exc:
                if "active endpoints" not in str(exc) or time.monotonic() > deadline:
                    problems.append(f"network {network['Name']}: {exc.explanation}")
                    break
                time.sleep(0.5)
    for volume in (client.api.volumes(filters=label) or {}).get("Volumes") or ():
        try:
            client.api.remove_volume(volume["Name"], force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            problems.append(f"volume {volume['Name']}: {exc.explanation}")
    return problems


def sweep_leftovers(client: docker.DockerClient) -> list[str]:
    """Remove the stacks of earlier benchmark runs whose process is gone."""
    projects = set()
    for listed in client.api.containers(all=True, filters={"label": PROJECT_LABEL}):
        projects.add((listed.get("Labels") or {}).get(PROJECT_LABEL, ""))
    for network in client.api.networks(filters={"label": PROJECT_LABEL}):
        projects.add((network.get("Labels") or {}).get(PROJECT_LABEL, ""))
    removed = []
    for project in sorted(p for p in projects if p.startswith(PREFIX)):
        pid = project[len(PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            problems = remove_project(client, project)
            removed.append(project + (f" (left: {'; '.join(problems)})" if problems else ""))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- one audit run -----------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """A version of the suite to measure: its source tree and the interpreter it runs with."""

    name: str  # "current", or the baseline's git revision
    root: Path
    python: Path


CURRENT = Suite("current", ROOT, PYTHON)


def baseline(rev: str, workdir: Path) -> Suite:
    """Revision `rev` of this repository, exported and installed into a virtualenv of its own
    (about a minute: the pinned requirements come from pip's cache)."""
    root = workdir / f"baseline-{rev}"
    root.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(root / ".venv")], check=True)
    pip = [str(root / ".venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(root / "requirements-dev.txt")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(root)], check=True)
    return Suite(rev, root, root / ".venv" / "bin" / "python")


class ProbeCount:
    """Probe containers the suite creates while it runs (the engine's create events)."""

    def __init__(self, client: docker.DockerClient):
        self.count = 0
        self._events = client.api.events(decode=True, filters={
            "type": "container", "event": "create", "label": PROBE_LABEL})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for _ in self._events:
                self.count += 1
        except Exception:  # closed
            return

    def close(self) -> int:
        time.sleep(0.2)  # the last events in flight
        self._events.close()
        return self.count


@dataclass
class Measurement:
    stack: str
    containers: int
    live: bool
    wall_s: float
    api_calls: int
    networks: int
    images: int
    peak_mb: float
    exit_code: int
    summary: dict = field(default_factory=dict)
    session_s: float = 0.0  # compliance.json duration_s: the pytest session inside the process
    label: str = ""
    suite: str = "current"
    probes: int = 0  # probe containers the run created

    @property
    def calls_per_container(self) -> float:
        return self.api_calls / self.containers

    @property
    def ms_per_container(self) -> float:
        return 1000 * self.wall_s / self.containers


def child_env() -> dict:
    """The environment of the audited runs: this one, but Python caches bytecode as it does
    by default (a session may set PYTHONDONTWRITEBYTECODE; recompiling the suite's modules
    on every run costs about 0.3 s that no user pays)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def audit(stack: str, policy: Path | None, live: bool, report_dir: Path,
          extra: tuple[str, ...] = (), suite: Suite = CURRENT) -> Measurement:
    """One full suite run in a subprocess; its peak RSS from wait4's rusage, and the probe
    containers it created."""
    args = [str(suite.python), "-m", "pytest", "--stack", stack, f"--report-dir={report_dir}", "-q",
            "-p", "no:cacheprovider", *extra]
    if policy is not None:
        args.append(f"--policy={policy}")
    if not live:
        args.append("--no-live")
    log = report_dir / "pytest.log"
    probes = ProbeCount(docker.from_env())
    with log.open("w") as out:
        started = time.monotonic()
        process = subprocess.Popen(args, cwd=suite.root, stdout=out, stderr=subprocess.STDOUT,
                                   env=child_env(), start_new_session=True)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:  # Ctrl-C: let pytest remove its probe containers, then go on
            _interrupt(process)
            raise
        wall = time.monotonic() - started
    probe_count = probes.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    try:
        doc = json.loads((report_dir / "compliance.json").read_text())
    except (OSError, ValueError):
        raise RuntimeError(f"no compliance.json from the run against {stack} "
                           f"(exit {process.returncode}):\n{log.read_text()[-3000:]}") from None
    if doc.get("failure"):
        raise RuntimeError(f"the run against {stack} failed to load: {doc['failure']}")
    containers = {r["container"] for r in doc["results"] if r.get("container")}
    return Measurement(
        stack=stack, containers=len(containers), live=live, wall_s=wall,
        api_calls=doc["engine"]["api_calls"], networks=0,
        images=len(doc.get("images") or ()), peak_mb=usage.ru_maxrss / 1024,
        exit_code=process.returncode, summary=doc.get("summary") or {},
        session_s=doc.get("duration_s") or 0.0, suite=suite.name, probes=probe_count,
    )


def _interrupt(process: subprocess.Popen) -> None:
    if process.returncode is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pid, _, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = -1
                return
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)
        os.wait4(process.pid, 0)
        process.returncode = -9
    except (ProcessLookupError, ChildProcessError):
        pass


def stack_networks(client: docker.DockerClient, project: str) -> int:
    return len(client.api.networks(filters={"label": f"{PROJECT_LABEL}={project}"}))


def measure(stack: str, policy: Path | None, live: bool, repeat: int, workdir: Path,
            networks: int, extra: tuple[str, ...] = (), label: str = "",
            suite: Suite = CURRENT) -> Measurement:
    """The median run (by wall time) of `repeat` runs; their outcome summaries must agree."""
    runs = []
    for _ in range(repeat):
        report_dir = Path(tempfile.mkdtemp(prefix=f"report-{stack}-{'live' if live else 'nolive'}-",
                                           dir=workdir))
        runs.append(audit(stack, policy, live, report_dir, extra, suite))
    summaries = {json.dumps(r.summary, sort_keys=True) for r in runs}
    if len(summaries) > 1:
        print(f"bench: WARNING: {stack} outcomes differ between repeats: {sorted(summaries)}",
              file=sys.stderr)
    chosen = sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]
    chosen.networks = networks
    chosen.label = label or chosen.stack
    chosen.wall_runs = [round(r.wall_s, 2) for r in runs]  # type: ignore[attr-defined]
    return chosen


# -- passq-staging -----------------------------------------------------------------------------


def ensure_staging(client: docker.DockerClient) -> None:
    """passq-staging up and healthy (`scripts/stack up` is idempotent); never taken down."""
    listed = client.api.containers(filters={"label": f"{PROJECT_LABEL}={STAGING}"})
    if len(listed) >= 3 and all("(healthy)" in c["Status"] for c in listed):
        return
    print(f"bench: bringing {STAGING} up (scripts/stack up {STAGING})", file=sys.stderr)
    done = subprocess.run([str(ROOT / "scripts" / "stack"), "up", STAGING], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/stack up {STAGING} failed:\n{done.stdout}{done.stderr}")


# -- the table ---------------------------------------------------------------------------------


COLUMNS = ("suite", "stack", "N", "live", "wall s", "API calls", "calls/ctr", "probes/ctr", "ms/ctr",
           "marginal ms/ctr", "peak MB", "outcomes (p/f/s/e)")


def table(rows: list[Measurement]) -> str:
    lines = []
    previous: dict[tuple, Measurement] = {}
    for m in rows:
        marginal = ""
        synthetic = m.stack.startswith(PREFIX) and m.label == m.stack  # not a variant's row
        before = previous.get((m.suite, m.live)) if synthetic else None
        if before is not None and m.containers > before.containers:
            marginal = f"{1000 * (m.wall_s - before.wall_s) / (m.containers - before.containers):.1f}"
        if synthetic:
            previous[(m.suite, m.live)] = m
        s = m.summary
        lines.append((
            m.suite, "synthetic" if synthetic else m.label, str(m.containers),
            "yes" if m.live else "no", f"{m.wall_s:.2f}", str(m.api_calls),
            f"{m.calls_per_container:.2f}", f"{m.probes / m.containers:.2f}",
            f"{m.ms_per_container:.1f}", marginal,
            f"{m.peak_mb:.0f}",
            f"{s.get('passed', 0)}/{s.get('failed', 0)}/{s.get('skipped', 0)}/{s.get('error', 0)}",
        ))
    widths = [max(len(c), *(len(row[i]) for row in lines)) for i, c in enumerate(COLUMNS)]
    out = ["  ".join(c.rjust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    out += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in lines]
    return "\n".join(out)


def targets(rows: list[Measurement]) -> list[str]:
    notes = []
    for m in rows:
        if m.suite != CURRENT.name:
            continue
        if m.stack == STAGING and m.live:
            notes.append(f"{m.label} live under 2.5 s: {m.wall_s:.2f} s "
                         f"{'MET' if m.wall_s < 2.5 else 'MISSED'}")
        if m.stack.startswith(PREFIX) and m.containers == 200:
            target = 15 if m.live else 7
            variant = m.label.removeprefix("synthetic") if m.label != m.stack else ""
            notes.append(f"200 containers {'live' if m.live else '--no-live'}{variant} under {target} s: "
                         f"{m.wall_s:.2f} s {'MET' if m.wall_s < target else 'MISSED'}")
        if m.stack.startswith(PREFIX) and not m.live and m.label == m.stack:
            bound = m.containers + m.networks + CALLS_PER_IMAGE * m.images + CALLS_CONSTANT
            notes.append(f"N={m.containers} --no-live engine calls {m.api_calls} <= containers "
                         f"{m.containers} + networks {m.networks} + {CALLS_PER_IMAGE} x images "
                         f"{m.images} + {CALLS_CONSTANT}: "
                         f"{'MET' if m.api_calls <= bound else 'MISSED'}")
    return notes


# -- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated container counts (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the median is shown")
    parser.add_argument("--no-staging", action="store_true", help=f"skip the {STAGING} row")
    parser.add_argument("--no-live", action="store_true", help="skip the runs with live probes")
    parser.add_argument("--json", metavar="PATH", help="also write the measurements as JSON")
    parser.add_argument("--baseline", metavar="REV",
                        help="also measure this git revision of the suite, side by side")
    parser.add_argument("--keep-reports", action="store_true",
                        help="keep the temporary directory with every run's reports")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    client = docker.from_env(timeout=120)
    client.images.get(IMAGE)  # docker.errors.ImageNotFound: run scripts/build-fixture-images busybox
    swept = sweep_leftovers(client)
    if swept:
        print(f"bench: removed leftovers of earlier runs: {', '.join(swept)}", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="pqbench-"))
    rows: list[Measurement] = []
    try:
        suites = [CURRENT] + ([baseline(args.baseline, workdir)] if args.baseline else [])
        for n in sizes:
            stack = SyntheticStack(client, n, workdir)
            try:
                print(f"bench: N={n}: bringing {stack.project} up ...", file=sys.stderr, flush=True)
                stack.up()
                networks = stack_networks(client, stack.project)
                print(f"bench: N={n}: up and settled in {stack.up_s:.1f} s; auditing", file=sys.stderr,
                      flush=True)
                for suite in suites:
                    if n == sizes[0]:  # the first run compiles the suite's bytecode: not measured
                        audit(stack.project, stack.policy_file, False,
                              Path(tempfile.mkdtemp(dir=workdir)), suite=suite)
                    runs = [(live, ()) for live in ([False] if args.no_live else [False, True])]
                    if n == sizes[-1]:  # as a runtime-only install runs it, too
                        runs.append((False, NO_DEV_PLUGINS))
                    for live, extra in runs:
                        m = measure(stack.project, stack.policy_file, live, args.repeat, workdir,
                                    networks, extra, label=" ".join(("synthetic", *extra)) if extra
                                    else "", suite=suite)
                        rows.append(m)
                        print(f"bench:   {suite.name} live={live} {' '.join(extra)}: {m.wall_s:.2f} s, "
                              f"{m.api_calls} calls, {m.probes} probes, {m.peak_mb:.0f} MB",
                              file=sys.stderr, flush=True)
            finally:
                _teardown(stack)
        if not args.no_staging:
            ensure_staging(client)
            networks = stack_networks(client, STAGING)
            for suite in suites:
                audit(STAGING, None, False, Path(tempfile.mkdtemp(dir=workdir)), suite=suite)  # warm
                for live in ([False] if args.no_live else [False, True]):
                    rows.append(measure(STAGING, None, live, args.repeat, workdir, networks,
                                        suite=suite))
                if not args.no_live:
                    rows.append(measure(STAGING, None, True, args.repeat, workdir, networks,
                                        NO_DEV_PLUGINS, label=f"{STAGING} {' '.join(NO_DEV_PLUGINS)}",
                                        suite=suite))
    except KeyboardInterrupt:
        print("bench: interrupted; every synthetic stack was torn down", file=sys.stderr)
        return 130
    finally:
        if not args.keep_reports:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
        else:
            print(f"bench: reports kept in {workdir}", file=sys.stderr)
    print(table(rows))
    print(f"\nmachine: {os.cpu_count()} CPUs; CPU calibration (sum(range(3e7))): {calibrate():.2f} s; "
          f"load average {os.getloadavg()[0]:.1f}")
    print()
    for note in targets(rows):
        print(note)
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{**asdict(m), "calls_per_container": m.calls_per_container,
              "ms_per_container": m.ms_per_container, "wall_runs": getattr(m, "wall_runs", [])}
             for m in rows], indent=2) + "\n")
    return 0


def calibrate() -> float:
    """Seconds a fixed CPU-bound loop takes: compare figures from different runs by it."""
    started = time.perf_counter()
    sum(range(30_000_000))
    return time.perf_counter() - started


def _teardown(stack: SyntheticStack) -> None:
    """Tear one stack down; a second Ctrl-C cannot cut it short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        print(f"bench: tearing {stack.project} down", file=sys.stderr, flush=True)
        for problem in stack.down():
            print(f"bench: WARNING: could not remove {problem}", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)


if __name__ == "__main__":
    sys.exit(main())
