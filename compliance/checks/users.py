"""User checks: who the container's processes run as (USR-01)."""

from compliance.kernel import Ids
from compliance.model import Subject
from compliance.outcomes import Finding, failed, passed, undecided
from compliance.policy import ServicePolicy


def configured_root(user: str) -> bool:
    """`Config.User` names root: empty, 0, root, 0:<group> or root:<group>."""
    name = user.split(":", 1)[0].strip()
    return name in ("", "0", "root")


def non_root(container: Subject, policy: ServicePolicy) -> Finding:
    """USR-01: both the configured user and the real main process are non-root (and equal
    to the policy's uid:gid where it names one). Any uid of 0 the kernel holds for the
    process is root: a setuid-root program's effective uid, or a saved uid it can return to."""
    user = container.config.get("User") or ""
    configured = f"{container.term('Config.User')}={user!r}"
    if container.declared:
        return _declared(user, policy)
    real = container.process
    if configured_root(user):  # root in name: a failure whatever the host's number for it
        shown = configured if real is None else _ids(configured, real, container)
        return failed("should run as a non-root user", shown)
    if real is None:
        if not container.state.get("Running"):
            return undecided("the container is not running, so its real uid cannot be read",
                             configured)
        return undecided("the real uid of the main process could not be read", configured)
    evidence = _ids(configured, real, container)
    root = real.root_uids()
    if root:
        said = "uid 0" if "real" in root else (
            f"its {root[0]} uid is 0" if len(root) == 1 else
            f"its {', '.join(root[:-1])} and {root[-1]} uids are 0")
        remedy = "" if "real" in root else (
            "Remove the setuid-root bit from the program the service starts (`chmod u-s` in the "
            "image build) and set `security_opt: [\"no-new-privileges:true\"]`: the configured "
            "user is not root, a setuid program made the process root.")
        return failed(f"should run as a non-root user (the kernel says {said})", evidence, remedy)
    if policy.user != "non-root" and str(real) != policy.user:
        return failed(f"should run as {policy.user} as the policy requires", evidence)
    return passed(evidence)


def _ids(configured: str, real: Ids, container: Subject) -> str:
    """The evidence of the real ids, with the host's numbers and the engine that maps them
    where a user namespace does (rootless Docker: uid 0 inside is the user's own uid)."""
    evidence = f"{configured}, main process uid:gid={real.shown()}"
    if container.engine is not None and (real.host is not None or container.engine.rootless):
        evidence += f"; engine {container.engine}"
    return evidence


def _declared(user: str, policy: ServicePolicy) -> Finding:
    """USR-01 before deployment: the service's `user:`, else its Dockerfile's USER. Neither
    fails: an image's own USER cannot be seen yet, and most official images start as root."""
    if not user:
        return failed("should declare a non-root user (user: in the service, or USER in its "
                      "Dockerfile); the image's own USER cannot be seen before deployment",
                      "no user: and no Dockerfile USER")
    evidence = f"user {user!r} (declared; the live audit confirms the real uid)"
    if configured_root(user):
        return failed("should run as a non-root user", f"user {user!r}")
    if policy.user != "non-root" and user != policy.user:
        return failed(f"should run as {policy.user} as the policy requires", evidence)
    return passed(evidence)
