"""The view from inside: the engine host as a pytest-testinfra host.

What a container really does is the kernel's to say, not the inspect JSON's.
From the engine host, `/proc/<pid>/` of a container's main process shows its
status (uid, NoNewPrivs, capabilities, seccomp), its mount table, its root
filesystem (so /run/secrets/<name> as the container sees it) and, through the
cgroups of every process (or, on an engine without cgroups, the pid namespace),
the container's process list. All of it is read in ONE shell command for every
container of the stack (compliance/sources/inside.sh: the kernel's files come out of
one `grep`, since the shell's `read` takes a /proc file a byte at a time;
benchmarks/README.md has its cost), through testinfra: `local://` when the engine's
socket is on this machine, `ssh://user@host` when the engine is reached over ssh.
Nothing is written and nothing runs inside a container. A remote tcp:// engine
is looked at the same way by a probe container in its host's PID namespace
(sources/probes/view.py), unless probes are off (--no-live): without a view the
checks say so (error or skipped, never passed).
"""

import posixpath
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from urllib.parse import urlsplit

import testinfra

from compliance.kernel import Inside, parse_view
from compliance.sources.engine import Engine

TIMEOUT_S = 30
SCRIPT = (files(__package__) / "inside.sh").read_text()  # its arguments: see its head


@dataclass(frozen=True)
class Target:
    """One container to look at: its id, its main process, and the paths (inside it) whose
    existence a check wants to know (the program of a failing healthcheck)."""

    container_id: str
    pid: int
    paths: tuple[str, ...] = ()


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def target(attrs: Mapping, image: Mapping) -> Target:
    """What to look at for one inspected container: its main process, and where the program
    of its healthcheck would be when the engine says the check is not passing (so that
    HLT-02 can say `curl: not found`, the most common cause)."""
    state = attrs.get("State") or {}
    health = (state.get("Health") or {}).get("Status")
    test = _healthcheck_test(attrs, image)
    paths = program_paths(test, _env_path(attrs)) if health and health != "healthy" else ()
    return Target(attrs["Id"], int(state.get("Pid") or 0) if state.get("Running") else 0, paths)


def _healthcheck_test(attrs: Mapping, image: Mapping) -> tuple[str, ...]:
    for config in (attrs.get("Config") or {}, image.get("Config") or {}):
        test = tuple((config.get("Healthcheck") or {}).get("Test") or ())
        if test:
            return test
    return ()


def _env_path(attrs: Mapping) -> str:
    for item in (attrs.get("Config") or {}).get("Env") or ():
        if item.startswith("PATH="):
            return item[5:]
    return DEFAULT_PATH


def healthcheck_program(test: tuple[str, ...]) -> str | None:
    """The program a healthcheck runs: CMD's first argument, or CMD-SHELL's first word
    that is not a variable assignment; None for NONE or an unreadable shell string."""
    if len(test) < 2 or test[0] not in ("CMD", "CMD-SHELL"):
        return None
    if test[0] == "CMD":
        return test[1]
    try:
        words = shlex.split(test[1])
    except ValueError:
        return None
    words = [w for w in words if not ("=" in w and w.split("=", 1)[0].isidentifier())]
    return words[0] if words else None


def program_paths(test: tuple[str, ...], path: str) -> tuple[str, ...]:
    """Where the healthcheck's program may be inside the container: itself when absolute,
    else each directory of the container's PATH."""
    program = healthcheck_program(test)
    if not program:
        return ()
    if program.startswith("/"):
        return (program,)
    if "/" in program:
        return ()
    return tuple(posixpath.join(d, program) for d in path.split(":") if d.startswith("/"))


class HostView:
    """A view of the engine's host, where SCRIPT (inside.sh) runs once for every container: testinfra's
    (EngineHost), or a probe container's (compliance/sources/probes/view.py)."""

    @property
    def view(self) -> str:
        """How evidence names this view."""
        raise NotImplementedError

    def answer(self, args: list[str]) -> str | None:
        """What SCRIPT printed with `args`; None when the host could not be asked."""
        raise NotImplementedError

    def look(self, targets: Iterable[Target], proc: str = "/proc",
             resolve: Iterable[str] = (), by_pid_namespace: bool = False) -> dict[str, Inside]:
        """Container id -> what the host sees of it; {} when the host cannot be asked.
        `resolve`: paths to resolve through each container's own symlinks (the policy's
        writable paths: /var/run/postgresql is mounted, and shown by the kernel, as
        /run/postgresql where /var/run links to /run). `by_pid_namespace`: the engine puts
        no container in a cgroup of its own (rootless Docker on cgroup v1), so a container's
        processes are those in its main process's pid namespace."""
        targets = [t for t in targets if t.pid > 0]
        if not targets:
            return {}
        args = [proc, "|".join(sorted(set(resolve))) or "-"]
        for t in targets:
            args += [t.container_id, str(t.pid), "|".join(t.paths) or "-"]
        output = self.answer(args)
        return parse_view(output, self.view, by_pid_namespace) if output is not None else {}


class EngineHost(HostView):
    """The machine the engine runs on, as testinfra reaches it."""

    def __init__(self, url: str, host=None):
        self.url = url
        self.host = host or testinfra.get_host(url)

    @property
    def view(self) -> str:
        return f"engine host ({self.url})"

    def answer(self, args: list[str]) -> str | None:
        try:
            done = self.host.run(shlex.join(["timeout", str(TIMEOUT_S), "sh", "-c", SCRIPT, "view", *args]))
        except Exception:  # an unreachable host is no view, never a crash
            return None
        return done.stdout


def engine_host(engine: Engine) -> EngineHost | None:
    """The engine host's testinfra host: this machine for a local socket, the ssh target for
    `ssh://` (testinfra's ssh backend, with sudo so that /proc of root's processes reads);
    None for a tcp:// engine, whose host testinfra cannot reach (a probe container can:
    compliance/sources/probes/view.py)."""
    if engine.is_local:
        return EngineHost("local://")
    url = urlsplit(engine.host)
    if url.scheme == "ssh":
        return EngineHost(f"ssh://{url.netloc}", testinfra.get_host(f"ssh://{url.netloc}", sudo=True))
    return None
