"""What the live probes observed, as pure data: connects, the database's answer to the
SSLRequest, writes. The probes (compliance/sources/probes/) make them; the verdicts are
compliance/checks/live.py's."""

from dataclasses import dataclass

from compliance.policy import Flow


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
