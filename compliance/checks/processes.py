"""Process checks: what runs inside the container (HRD-08)."""

from compliance.model import Subject
from compliance.outcomes import Finding, failed, passed, undecided

# Remote-login daemons, by command name (/proc/<pid>/comm, ps's comm).
REMOTE_LOGIN = ("sshd", "dropbear", "telnetd", "in.telnetd")


def no_remote_login(container: Subject) -> Finding:
    """HRD-08: no process of the container is a remote-login daemon. A container that is not
    running has no processes to judge, and an unreadable list judges nothing: both are errors."""
    if not container.state.get("Running"):
        return undecided(f"the container is not running (State.Status={container.state.get('Status')}), "
                         "so it has no processes to judge")
    if not container.processes:
        return undecided("the container's process list could not be read (engine host /proc or "
                         "docker top)")
    daemons = [p for p in container.processes if p.name in REMOTE_LOGIN]
    if daemons:
        return failed("should run no remote-login daemon (use docker exec for maintenance)",
                      f"running: {', '.join(map(str, daemons))}")
    names = sorted({p.name for p in container.processes})
    return passed(f"{len(container.processes)} process(es), none a remote-login daemon: {', '.join(names)}")
