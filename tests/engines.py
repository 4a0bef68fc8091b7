"""Extra engines for tests and for scripts/engine: a second rootful dockerd, Podman's
Docker-compatible service, or rootless Docker, each started and removed by its caller.

Every engine runs in a network namespace of its own (an extra engine in the host's
namespace takes the host engine's docker0 with it when it stops) with its own socket and
state under one directory in /tmp, so the default engine is never touched. Its bridge
networks, iptables rules and published ports live in that namespace; nothing else sees
them. The fixture images it needs are copied in with `docker save | load`. Stopping
removes its containers, then ends every process left in its namespace (by pid: Podman's
conmon and aardvark-dns outlive the service), unmounts what it left under its directory
and deletes the namespace: nothing stays behind.

    python -m tests.engines start podman|rootless|dockerd [IMAGE...]  # prints DOCKER_HOST
    python -m tests.engines stop DOCKER_HOST
"""

import contextlib
import json
import os
import pwd
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

START_S = 60
KINDS = ("dockerd", "podman", "rootless")
PACKAGES = {"dockerd": (), "podman": ("podman",),
            "rootless": ("rootlesskit", "uidmap", "slirp4netns")}
# The non-root user that runs rootless Docker, and its subordinate ids: far from the ids the
# fixtures use (999, 1001) and from the range dockerd's --userns-remap=default takes (100000).
ROOTLESS_USER = "passq-rootless"
ROOTLESS_UID = 20000
SUBIDS = (400000, 65536)
ROOTLESS_SCRIPT = "/usr/share/docker.io/contrib/dockerd-rootless.sh"
STATE = "engine.json"
# Podman runs healthchecks from systemd timers; a machine without systemd gets none, so a
# loop stands in for the timer: every running container with a healthcheck, every 2 s.
HEALTH_TIMER = r"""
while sleep 2; do
  for id in $("$@" ps -q --filter health=starting --filter health=healthy --filter health=unhealthy); do
    "$@" healthcheck run "$id" >/dev/null 2>&1 &
  done
  wait
done
"""


class EngineUnavailable(Exception):
    """The engine's packages cannot run on this machine (the reason says why)."""


@dataclass(frozen=True)
class Started:
    """One running extra engine: what stop() needs, also written to ROOT/engine.json."""

    kind: str
    root: str
    netns: str
    pids: tuple[int, ...]  # the daemon first, then helpers (Podman's healthcheck timer)
    host: str


def _answers(host: str) -> bool:
    return subprocess.run(["docker", "-H", host, "info"], capture_output=True,
                          timeout=10).returncode == 0


def install(kind: str) -> None:
    """Debian's packages for `kind`, installed once (apt-get needs root)."""
    missing = [p for p in PACKAGES[kind] if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout
        != "install ok installed"]
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                       capture_output=True, env=env)
    if kind == "rootless":
        _rootless_user()


def _rootless_user() -> None:
    """The user rootless Docker runs as, with its subordinate uid and gid range."""
    try:
        pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--home-dir", f"/var/lib/{ROOTLESS_USER}",
                        "--shell", "/usr/sbin/nologin", "--uid", str(ROOTLESS_UID),
                        "--user-group", ROOTLESS_USER], check=True, capture_output=True)
    first, count = SUBIDS
    wanted = f"{ROOTLESS_USER}:{first}:{count}"
    for table, flag in (("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")):
        if wanted not in Path(table).read_text().splitlines():
            subprocess.run(["usermod", flag, f"{first}-{first + count - 1}", ROOTLESS_USER],
                           check=True, capture_output=True)


def rootless_host_id(inside: int) -> int:
    """The host's number for id `inside` of a rootless Docker container (its user namespace
    maps 0 to the user itself, 1.. to the user's subordinate range); an id that is already
    the host's number of one stays."""
    if inside == ROOTLESS_UID or SUBIDS[0] <= inside < sum(SUBIDS):
        return inside
    return ROOTLESS_UID if inside == 0 else SUBIDS[0] + inside - 1


def _command(kind: str, root: Path, flags: tuple[str, ...]) -> tuple[list[str], dict, str]:
    """(argv, environment, DOCKER_HOST) of the daemon, run inside the namespace."""
    env = dict(os.environ)
    if kind == "dockerd":
        host = f"unix://{root}/docker.sock"
        return (["dockerd", *flags, "--data-root", str(root / "data"), "--exec-root",
                 str(root / "exec"), "--pidfile", str(root / "pid"), "-H", host], env, host)
    if kind == "podman":
        host = f"unix://{root}/podman.sock"
        # runc may not raise a container's limits above its own (no CAP_SYS_RESOURCE here),
        # and Podman asks for 1048576 open files and 4194304 processes by default while it
        # lowers its own process limit to 32768: ask for what the service holds.
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        (root / "containers.conf").write_text(
            f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc=32768:32768"]\n'
            '[engine]\nlock_type = "file"\n')
        env["CONTAINERS_CONF"] = str(root / "containers.conf")
        return ([*podman(root), "system", "service", "--time=0", host], env, host)
    runtime = root / "xdg"  # the user's $XDG_RUNTIME_DIR: rootless Docker's socket is there
    runtime.mkdir(mode=0o700)
    os.chown(runtime, ROOTLESS_UID, ROOTLESS_UID)
    env = {"HOME": f"/var/lib/{ROOTLESS_USER}", "XDG_RUNTIME_DIR": str(runtime),
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return (["setpriv", f"--reuid={ROOTLESS_UID}", f"--regid={ROOTLESS_UID}", "--init-groups",
             ROOTLESS_SCRIPT, *flags, "--data-root", str(runtime / "data")], env,
            f"unix://{runtime}/docker.sock")


def podman(root: Path) -> list[str]:
    """The podman command line of the engine under `root`: its own store, state and networks."""
    return ["podman", "--root", str(root / "storage"), "--runroot", str(root / "run"),
            "--tmpdir", str(root / "tmp"), "--network-config-dir", str(root / "networks"),
            "--cgroup-manager=cgroupfs", "--events-backend=file"]


def start(kind: str, *flags: str, images: tuple[str, ...] = ()) -> Started:
    """Start an engine of `kind` and wait until it answers; images are copied in."""
    if kind not in KINDS:
        raise ValueError(f"unknown engine kind {kind!r}; one of {', '.join(KINDS)}")
    install(kind)
    netns = f"pq-{uuid.uuid4().hex[:8]}"
    root = Path(tempfile.mkdtemp(prefix="pqd-", dir="/tmp"))  # short: unix socket paths <108
    root.chmod(0o711)  # a remapped or rootless container's root goes through it
    subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True)
    inside = ["nsenter", f"--net=/var/run/netns/{netns}"]
    subprocess.run([*inside, "ip", "link", "set", "lo", "up"], check=True, capture_output=True)
    if kind == "rootless":  # let the user publish ports below 1024 (weak's api: 842), here only
        subprocess.run([*inside, "sysctl", "-qw", "net.ipv4.ip_unprivileged_port_start=0"],
                       check=True, capture_output=True)
    argv, env, host = _command(kind, root, flags)
    pids = []
    with (root / "engine.log").open("wb") as log:
        daemon = subprocess.Popen([*inside, *argv], env=env, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        pids.append(daemon.pid)
        if kind == "podman":
            pids.append(subprocess.Popen(
                [*inside, "sh", "-c", HEALTH_TIMER, "health-timer", *podman(root)], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                start_new_session=True).pid)
    started = Started(kind, str(root), netns, tuple(pids), host)
    (root / STATE).write_text(json.dumps(asdict(started)))
    try:
        deadline = time.monotonic() + START_S
        while not _answers(host):
            if daemon.poll() is not None:
                raise EngineUnavailable(f"{kind} exited: "
                                        f"{(root / 'engine.log').read_text()[-1500:]}")
            if time.monotonic() > deadline:
                raise EngineUnavailable(f"{kind} at {host} did not answer in {START_S} s")
            time.sleep(0.5)
        load(host, images)
    except BaseException:
        stop(started)
        raise
    return started


def load(host: str, images) -> None:
    """Copy images from the default engine into the engine at `host`."""
    if not images:
        return
    saved = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
    subprocess.run(["docker", "-H", host, "load", "-q"], stdin=saved.stdout, check=True,
                   capture_output=True, timeout=300)
    saved.stdout.close()
    if saved.wait(timeout=60) != 0:
        raise EngineUnavailable(f"docker save {' '.join(images)} failed")


def stop(started: Started) -> None:
    """Remove the engine's containers, end its processes, unmount and delete its state."""
    root = Path(started.root)
    with contextlib.suppress(subprocess.SubprocessError):
        listed = subprocess.run(["docker", "-H", started.host, "ps", "-aq"], capture_output=True,
                                text=True, timeout=30).stdout.split()
        if listed:
            subprocess.run(["docker", "-H", started.host, "rm", "-f", *listed],
                           capture_output=True, timeout=120)
    for pid in reversed(started.pids):
        _end(pid)
    # what outlived the daemon in its namespace: Podman's conmon and aardvark-dns, a shim
    left = subprocess.run(["ip", "netns", "pids", started.netns], capture_output=True,
                          text=True).stdout.split()
    for pid in map(int, left):
        _end(pid)
    _unmount_below(root)
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(["ip", "netns", "delete", started.netns], capture_output=True)


def _end(pid: int, wait_s: float = 30) -> None:
    """SIGTERM, then SIGKILL after `wait_s`, for one process of ours (and its own children:
    each was started in a session of its own)."""
    for sig, wait in ((signal.SIGTERM, wait_s), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not Path(f"/proc/{pid}").exists() or _zombie(pid):
                return
            time.sleep(0.2)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _unmount_below(root: Path) -> None:
    """What the engine leaves mounted under its directory, deepest first."""
    mounted = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounted if m.startswith(f"{root}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


ROOT = Path(__file__).resolve().parent.parent
# What the fixture stacks run (scripts/build-fixture-images); weak's prepare builds weak-jobs.
FIXTURE_IMAGES = ("passq-fixture/bookworm:12.1", "passq-fixture/busybox:1.35",
                  "passq-fixture/busybox:latest", "passq-fixture/busybox:stable",
                  "passq-fixture/busybox:1.30", "passq-fixture/noshell:1.35",
                  "registry:5000/app:latest")
# What each engine needs changed in a fixture stack to run it at all, as a compose override
# (`!override` replaces a list, `!reset` drops a key); each is a verdict that may differ:
OVERRIDES = {
    # Podman 4.3 refuses a tmpfs's uid=/gid= options ("unknown mount option"); its own `U`
    # gives the tmpfs to the container's user, the same owner passq-staging asks for.
    ("podman", "passq-staging"): """services:
  db:
    tmpfs: !override ["/tmp:mode=1777,size=16m", "/var/run/postgresql:U,mode=0700,size=8m"]
  frontend:
    tmpfs: !override ["/tmp:mode=1777,size=8m", "/var/cache/nginx:U,mode=0700,size=8m",
                      "/var/run:U,mode=0755,size=1m"]
""",
    # Rootless Docker cannot start a container in the host's pid or ipc namespace: its user
    # namespace may not mount that namespace's /proc or /dev/mqueue ("mount proc: operation
    # not permitted").
    ("rootless", "weak"): """services:
  monitor:
    pid: !reset null
  jobs:
    ipc: !reset null
""",
}
SETTLE_S = 120


def deploy(started: Started, name: str) -> Path:
    """Bring fixture stack `name` up on an extra engine, from a copy of its directory under
    the engine's own (so the engine's secret files are its own); returns the copy's compose
    file, the declared configuration to audit. Each engine's difference is applied here:
    rootless Docker reads a bind mount's source as the user's mapped ids, so each secret
    file goes to the host id its owner maps to; OVERRIDES change what an engine cannot run."""
    stacks = Path(started.root) / "fixtures" / "stacks"
    stacks.mkdir(parents=True, exist_ok=True)
    for part in (stacks.parent, stacks):
        part.chmod(0o755)
    if not (stacks.parent.parent / "scripts").exists():  # a stack's scripts reach ../../../scripts
        (stacks.parent.parent / "scripts").symlink_to(ROOT / "scripts")
    directory = stacks / name
    shutil.copytree(ROOT / "fixtures" / "stacks" / name, directory, symlinks=True,
                    ignore=shutil.ignore_patterns("secrets", "trivy"), dirs_exist_ok=True)
    env = {**os.environ, "DOCKER_HOST": started.host}
    files = [directory / "compose.yml"]
    _run([str(ROOT / "scripts" / "generate-secrets"), *map(str, files)], env=env)
    if (directory / "prepare").exists():
        _run([str(directory / "prepare")], env=env, timeout=600)
        if (directory / "trivy").exists():  # the reports name image IDs, the same on each engine
            _run([str(ROOT / "scripts" / "make-trivy-fixtures"), "--set", name, "--out",
                  str(directory / "trivy")])
    if started.kind == "rootless":
        _own_as_mapped(directory / "secrets")
    if (directory / "compose.drift.yml").exists():
        files.append(directory / "compose.drift.yml")
    if (started.kind, name) in OVERRIDES:
        override = directory / f"compose.{started.kind}.yml"
        override.write_text(OVERRIDES[started.kind, name])
        files.append(override)
    compose = [str(ROOT / "scripts" / "compose"), "-p", name,
               *(arg for f in files for arg in ("-f", str(f)))]
    _run([*compose, "up", "-d"], env=env, timeout=SETTLE_S * 2)
    _settle(started.host, name)
    return directory / "compose.yml"


def _run(argv: list[str], env=None, timeout: float = 120) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode:
        raise EngineUnavailable(f"{' '.join(argv)}: exit {done.returncode}: "
                                f"{(done.stdout + done.stderr)[-1500:]}")


def _own_as_mapped(directory: Path) -> None:
    """Each file, and the directory, to the host ids its owner and group map to in a rootless
    container (what `rootlesskit chown` would do)."""
    for path in (directory, *directory.iterdir()):
        info = path.lstat()
        os.lchown(path, rootless_host_id(info.st_uid), rootless_host_id(info.st_gid))


def _settle(host: str, project: str) -> None:
    """Wait until every container of `project` has settled: running without a healthcheck,
    healthy, unhealthy, or exited (weak means some of each)."""
    fmt = ("{{.State.Status}} {{if .Config.Healthcheck}}{{if .State.Health}}"
           "{{.State.Health.Status}}{{end}}{{end}}")
    deadline = time.monotonic() + SETTLE_S
    while True:
        ids = subprocess.run(["docker", "-H", host, "ps", "-aq", "--filter",
                              f"label=com.docker.compose.project={project}"],
                             capture_output=True, text=True, check=True).stdout.split()
        states = subprocess.run(["docker", "-H", host, "inspect", "-f", fmt, *ids],
                                capture_output=True, text=True).stdout.splitlines() if ids else []
        settled = [s.split() for s in states]
        if ids and all(s[0] == "exited" or (s[0] == "running" and s[1:] != ["starting"])
                       for s in settled if s):
            return
        if time.monotonic() > deadline:
            raise EngineUnavailable(f"stack {project} did not settle in {SETTLE_S} s: {states}")
        time.sleep(1)


def leftovers(started: Started) -> list[str]:
    """What a stopped engine left behind: its directory, namespace, mounts or processes."""
    found = []
    if Path(started.root).exists():
        found.append(started.root)
    if started.netns in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                       text=True).stdout.split():
        found.append(f"netns {started.netns}")
    found += [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
              if line.split()[1].startswith(f"{started.root}/")]
    found += [f"pid {p}" for p in started.pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
    return found


@contextlib.contextmanager
def extra_engine(*flags: str, images: tuple[str, ...] = (), kind: str = "dockerd") -> Iterator[str]:
    """An engine of `kind` started with `flags`; yields its `unix://` host. A dockerd gets no
    bridge and no iptables rules unless `flags` say otherwise: its containers run with
    `network_mode: none`."""
    if kind == "dockerd" and not any(f.startswith("--bridge") for f in flags):
        flags = (*flags, "--bridge=none", "--iptables=false")
    started = start(kind, *flags, images=images)
    try:
        yield started.host
    finally:
        stop(started)


def stopped_by_host(host: str) -> Started:
    """The engine serving `host`, from the state its start wrote."""
    path = host.removeprefix("unix://")
    for candidate in (Path(path).parent, Path(path).parent.parent):
        state = candidate / STATE
        if state.is_file():
            data = json.loads(state.read_text())
            return Started(**{**data, "pids": tuple(data["pids"])})
    raise SystemExit(f"engines: no engine started by scripts/engine serves {host}")


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "start" and argv[1] in KINDS:
        try:
            started = start(argv[1], images=tuple(argv[2:]) or FIXTURE_IMAGES)
        except EngineUnavailable as exc:
            print(f"engine: {argv[1]} cannot run here: {exc}", file=sys.stderr)
            return 1
        print(f"DOCKER_HOST={started.host}")
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        stop(stopped_by_host(argv[1]))
        return 0
    print(f"usage: python -m tests.engines start {'|'.join(KINDS)} [IMAGE...] | stop DOCKER_HOST",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
