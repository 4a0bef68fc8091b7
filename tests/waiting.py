"""Waiting for what a live test needs to have happened, instead of sleeping for it.

A fixed sleep is a guess: too short on a loaded machine (the test fails for no reason of
the code's) and too long on an idle one. `wait_until` polls for the condition itself and,
when time runs out, fails with one line naming what never happened. The predicates below
are the conditions the live tests wait for, read from the engine and the engine host's
/proc (the tests' engine is this machine's): nothing runs inside the containers.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
LISTEN = "0A"  # a TCP socket's state in /proc/net/tcp: listening


def wait_until(predicate: Callable[[], T], timeout: float = 30, interval: float = 0.1,
               what: str = "the condition") -> T:
    """Call `predicate` every `interval` seconds until it returns something true, and return
    that; after `timeout` seconds raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}: it never happened")
        time.sleep(interval)


def health_logged(container) -> bool:
    """Its healthcheck has run at least once: State.Health.Log holds a result."""
    container.reload()
    return bool((container.attrs["State"].get("Health") or {}).get("Log"))


def listening(container, port: int) -> bool:
    """A process of the running container listens on TCP `port`: its network namespace's
    sockets, read through the main process's /proc/PID/net on the engine host."""
    container.reload()
    pid = container.attrs["State"]["Pid"]
    if not pid:
        return False
    local = f":{port:04X}"
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except FileNotFoundError:  # no IPv6 in the kernel, or the process just ended
            continue
        if any(f[1].endswith(local) and f[3] == LISTEN for f in (line.split() for line in lines)):
            return True
    return False
