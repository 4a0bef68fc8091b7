"""The processes of the stack's containers, as data.

HRD-08 needs every process of a container, not only its main one. Asking the
engine (`docker top`) costs one request per container; where the engine host
can be looked at, its /proc already holds the answer: each process's
`/proc/<pid>/cgroup` names the container it belongs to, so the engine host's
one read of /proc (compliance/sources/inside.py) maps every process of every
container at once. A container whose main process that view did not find (a
remote engine, another PID namespace) is left to `docker top`.
"""

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    """One process: its pid on the engine host and its command name (`/proc/<pid>/comm`,
    ps's `comm`). The arguments are never kept: they may hold secrets."""

    pid: int
    name: str

    def __str__(self) -> str:
        return f"pid {self.pid} {self.name}"


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
