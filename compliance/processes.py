"""The processes of the stack's containers, as data: one scan of the engine host's /proc.

HRD-08 needs every process of a container, not only its main one. Asking the
engine (`docker top`) costs one request per container; on a local engine the
host's /proc already holds the answer: each process's `/proc/<pid>/cgroup`
names the container it belongs to, so one pass over /proc maps every
process of every container at once. A container whose main process the scan
did not find (a remote engine, another PID namespace) is left to `docker top`.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Process:
    """One process: its pid on the engine host and its command name (`/proc/<pid>/comm`,
    ps's `comm`). The arguments are never kept: they may hold secrets."""

    pid: int
    name: str

    def __str__(self) -> str:
        return f"pid {self.pid} {self.name}"


def scan(container_ids: Iterable[str], proc: Path = Path("/proc")) -> dict[str, tuple[Process, ...]]:
    """Container id -> its processes found in `proc`, for the ids asked about. A process
    that exits during the scan is skipped."""
    wanted = set(container_ids)
    found: dict[str, list[Process]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            owners = wanted.intersection(_CONTAINER_ID.findall((entry / "cgroup").read_text()))
            if owners:
                name = (entry / "comm").read_text().rstrip("\n")
                for owner in owners:
                    found.setdefault(owner, []).append(Process(int(entry.name), name))
        except OSError:
            continue
    return {cid: tuple(sorted(ps, key=lambda p: p.pid)) for cid, ps in found.items()}


def from_top(top: Mapping) -> tuple[Process, ...] | None:
    """The processes of a `docker top` answer asked with `-o pid,...,comm` (comm last, so a
    name with spaces stays whole); None when its columns are not those."""
    titles = [t.upper() for t in top.get("Titles") or ()]
    if "PID" not in titles or "COMMAND" not in titles:
        return None
    pid, name = titles.index("PID"), titles.index("COMMAND")
    try:
        return tuple(Process(int(row[pid]), row[name]) for row in top.get("Processes") or ())
    except (IndexError, ValueError):
        return None
