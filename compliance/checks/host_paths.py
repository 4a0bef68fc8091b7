"""Host-path checks: what of the host a container's mounts and devices reach (HRD-07).

The docker socket is HRD-04's (hardening.py): it hands over the engine, not
the filesystem.
"""

import posixpath

from compliance.checks.facts import decided, lookup, mounts
from compliance.model import Subject
from compliance.outcomes import Finding, failed, passed, worst
from compliance.policy import ServicePolicy

# CIS 5.6's sensitive host directories. Each one itself fails in any mode; a read-write bind
# of something under one fails too. "Under /" would be every path, so `/` counts only itself.
SENSITIVE = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr")
SHARED = ("shared", "rshared")


def _under(path: str, directory: str) -> bool:
    return directory != "/" and path.startswith(directory + "/")


def _sensitive(mount) -> str | None:
    """Why a bind mount reaches too much of the host, or None."""
    source = posixpath.normpath(mount.get("Source") or "")
    if mount.get("Type") != "bind" or not source.startswith("/"):
        return None
    writable = mount.get("RW") is not False
    mode = "read-write" if writable else "read-only"
    if source in SENSITIVE:
        return f"{source} bound at {mount.get('Destination')} ({mode})"
    if writable and any(_under(source, d) for d in SENSITIVE):
        return f"{source} bound at {mount.get('Destination')} (read-write)"
    return None


def _mounts(container: Subject) -> Finding:
    binds = [reason for reason in map(_sensitive, mounts(container.attrs)) if reason]
    shared = [f"{m.get('Destination')} propagation {m.get('Propagation')}"
              for m in mounts(container.attrs) if m.get("Propagation") in SHARED]
    findings = []
    if binds:
        findings.append(failed("should not bind the host's system directories (a single file "
                               "read-only at most)", f"sensitive host path: {'; '.join(binds)}"))
    if shared:
        findings.append(failed("should not share mount propagation with the host",
                               "; ".join(shared)))
    return worst(findings) if findings else passed(
        f"no sensitive host path and no shared propagation ({len(mounts(container.attrs))} mounts)")


def _devices(container: Subject, allowed) -> Finding:
    devices = lookup(container.attrs, "HostConfig.Devices") or ()
    allowed = {posixpath.normpath(d) for d in allowed}
    extra = [f"{d.get('PathOnHost')} -> {d.get('PathInContainer')}" for d in devices
             if posixpath.normpath(d.get("PathOnHost") or "") not in allowed]
    if extra:
        return failed("should add no host device the policy does not allow (devices_allowed)",
                      f"{container.term('HostConfig.Devices')}: {'; '.join(extra)}")
    return passed(f"{container.term('HostConfig.Devices')}: {len(devices)} device(s), all allowed"
                  if devices else "no host devices")


@decided
def no_sensitive_host_access(container: Subject, policy: ServicePolicy) -> Finding:
    """HRD-07: no bind of the host's system directories (read-write anywhere under them),
    no host device outside the policy's `devices_allowed`, no shared mount propagation."""
    return worst([_mounts(container), _devices(container, policy.devices_allowed)])
