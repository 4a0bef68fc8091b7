"""The view from inside: the engine host as a pytest-testinfra host.

What a container really does is the kernel's to say, not the inspect JSON's.
From the engine host, `/proc/<pid>/` of a container's main process shows its
status (uid, NoNewPrivs, capabilities, seccomp), its mount table, its root
filesystem (so /run/secrets/<name> as the container sees it) and, through the
cgroups of every process (or, on an engine without cgroups, the pid namespace),
the container's process list. All of it is read in
ONE shell command for every container of the stack (about 0.2 s for 200; the
kernel's files come out of one `grep`, since the shell's `read` takes a /proc
file a byte at a time), through testinfra: `local://` when the engine's socket
is on this machine, `ssh://user@host` when the engine is reached over ssh.
Nothing is written and nothing runs inside a container. A remote tcp:// engine
is looked at the same way by a probe container in its host's PID namespace
(sources/probes/view.py), unless probes are off (--no-live): without a view the
checks say so (error or skipped, never passed).
"""

import posixpath
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import testinfra

from compliance.kernel import Inside, parse_view
from compliance.sources.engine import Engine

TIMEOUT_S = 30
# $1 is the proc root, $2 the paths every container resolves (joined by "|"); then
# (container id, main pid, program paths joined by "|") triples.
SCRIPT = r"""
# Builtins only where it runs once per container (a fork costs about 1 ms, times 200).
# resolve ROOT PATH: sets $out to PATH with every symlink resolved inside ROOT (an absolute
# link target is the container's, not this host's: /proc/<pid>/root/var/run -> /run means
# ROOT/run)
resolve() {
  root=$1; rest=${2#/}; done=""; hops=0
  while [ -n "$rest" ]; do
    case $rest in */*) part=${rest%%/*}; rest=${rest#*/} ;; *) part=$rest; rest="" ;; esac
    case $part in ""|.) continue ;; ..) done=${done%/*}; continue ;; esac
    if [ -L "$root$done/$part" ] && [ $hops -lt 40 ]; then
      hops=$((hops + 1)); t=$(readlink "$root$done/$part")
      case $t in /*) done=""; rest=${t#/}${rest:+/$rest} ;; *) rest=$t${rest:+/$rest} ;; esac
    else
      done=$done/$part
    fi
  done
  out=${done:-/}
}
proc=$1; resolved=$2; shift 2
pids=""
while [ $# -ge 3 ]; do
  id=$1; pid=$2; paths=$3; shift 3
  d=$proc/$pid; pids="$pids $pid"
  echo "@@container $id $pid"
  for f in "$d"/root/*; do break; done
  if ! { [ -e "$f" ] || [ -L "$f" ]; }; then echo "@@noroot"; continue; fi
  echo "@@secrets"
  for f in "$d"/root/run/secrets/* "$d"/root/run/secrets/.[!.]*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    stat -L -c '%F|%u|%g|%a|%n' "$f" 2>/dev/null || echo "broken|-1|-1|0|$f"
  done
  old=$IFS; IFS='|'
  echo "@@programs"
  for p in $paths; do
    [ "$p" = - ] && continue
    resolve "$d/root" "$p"
    if [ -e "$d/root$out" ]; then echo "+$p"; else echo "-$p"; fi
  done
  echo "@@resolved"
  for p in $resolved; do
    [ "$p" = - ] && continue
    resolve "$d/root" "$p"; printf '%s\t%s\n' "$p" "$out"
  done
  IFS=$old
done
echo "@@files"
for pid in $pids; do
  set -- "$@" "$proc/$pid/status" "$proc/$pid/mountinfo" "$proc/$pid/uid_map" "$proc/$pid/gid_map"
done
[ $# -gt 0 ] && grep -Hs "" "$@"
echo "@@processes"
grep -Hs "" "$proc"/[0-9]*/comm
echo "@@cgroups"
grep -Hs "" "$proc"/[0-9]*/cgroup
echo "@@pidns"
stat -L -c 'self %i' "$proc/$$/ns/pid" 2>/dev/null
stat -L -c '%n %i' "$proc"/[0-9]*/ns/pid 2>/dev/null
echo "@@namespaces"
for pid in self $pids; do
  [ "$pid" = self ] && d=$proc/$$ || d=$proc/$pid
  for ns in ipc uts; do printf '%s %s ' "$pid" "$ns"; stat -L -c %i "$d/ns/$ns" 2>/dev/null || echo -; done
done
echo "@@done"
"""


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
    """A view of the engine's host, where SCRIPT runs once for every container: testinfra's
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
            done = self.host.run(f"timeout {TIMEOUT_S} sh -c {_quote(SCRIPT)} view"
                                 + "".join(f" {_quote(a)}" for a in args))
        except Exception:  # an unreachable host is no view, never a crash
            return None
        return done.stdout


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


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
