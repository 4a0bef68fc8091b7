"""Confinement checks: what the kernel lets the process do (HRD-05 profiles, HRD-06 capabilities).

Both read the configuration as the engine applies it and, where the kernel's
view of the main process is readable (`Container.kernel`), the kernel's own
word: a privileged container runs without seccomp whatever `SecurityOpt`
says, and a capability bounding set is what the kernel holds.
"""

from compliance import kernel
from compliance.checks.facts import decided, lookup, shown
from compliance.checks.hardening import capability, engine_default, kernel_evidence, security_option
from compliance.model import Subject
from compliance.outcomes import Finding, failed, passed, worst
from compliance.policy import ServicePolicy

# The `SecurityOpt` entries that switch a profile off, as (key, value) after the engine's parse.
DISABLING = {("seccomp", "unconfined"): "seccomp", ("apparmor", "unconfined"): "AppArmor",
             ("label", "disable"): "SELinux labelling"}
# moby's caps.DefaultCapabilities(): what a container gets unless CapDrop/CapAdd change it.
DEFAULT_CAPABILITIES = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
})


def _configured_profiles(container: Subject) -> Finding:
    """The profiles as configured: no disabling entry, not privileged, and no unconfined
    AppArmor profile on an engine that has AppArmor (without AppArmor on the host there is
    no profile to switch off)."""
    attrs, term = container.attrs, container.term
    if lookup(attrs, "HostConfig.Privileged") is True:
        return failed("should not run privileged (the engine disables seccomp and AppArmor for it)",
                      shown(term("HostConfig.Privileged"), True))
    options = lookup(attrs, "HostConfig.SecurityOpt") or ()
    off = [o for o in options if security_option(o) in DISABLING]
    if off:
        names = ", ".join(DISABLING[security_option(o)] for o in off)
        return failed(f"should not disable {names}", shown(term("HostConfig.SecurityOpt"), off))
    apparmor = lookup(attrs, "AppArmorProfile")
    if apparmor == "unconfined" and engine_default(container, "apparmor"):
        return failed("should run under an AppArmor profile", shown("AppArmorProfile", apparmor))
    return passed(f"{term('HostConfig.SecurityOpt')} disables no profile")


@decided
def profiles_enabled(container: Subject) -> Finding:
    """HRD-05: seccomp, AppArmor and SELinux are not switched off. Where the kernel's view
    is readable, `Seccomp: 0` fails whatever the configuration says."""
    findings = [_configured_profiles(container)]
    seen = container.kernel
    if seen is not None and seen.seccomp is not None:
        evidence = kernel_evidence(container, "Seccomp", f"{seen.seccomp} ({seen.seccomp_mode})")
        findings.append(failed("should run with a seccomp filter (the kernel says it has none)",
                               evidence) if seen.seccomp == 0 else passed(evidence))
    return worst(findings)


def configured_capabilities(attrs) -> frozenset[str]:
    """The bounding set the engine gives a container: moby's default set minus `CapDrop`
    (`ALL` drops every one) plus `CapAdd` (`ALL` adds every one), names without CAP_."""
    dropped = {capability(c) for c in lookup(attrs, "HostConfig.CapDrop") or ()}
    added = {capability(c) for c in lookup(attrs, "HostConfig.CapAdd") or ()}
    if "ALL" in added:
        return frozenset(kernel.CAPABILITIES)
    base = set() if "ALL" in dropped else DEFAULT_CAPABILITIES - dropped
    return frozenset(base | added)


@decided
def capabilities_dropped(container: Subject, policy: ServicePolicy) -> Finding:
    """HRD-06: the capability bounding set holds nothing beyond the policy's `cap_add_allowed`
    (so `cap_drop: [ALL]` and only what the service needs added back). The kernel's CapBnd
    is the proof where readable; otherwise the set is computed from the configuration."""
    attrs, term = container.attrs, container.term
    if lookup(attrs, "HostConfig.Privileged") is True:
        return failed("should not run privileged (it holds every capability)",
                      shown(term("HostConfig.Privileged"), True))
    if container.kernel and container.kernel.cap_bnd is not None:
        held, source = container.kernel.cap_bnd, "kernel CapBnd of the main process"
    else:
        held = configured_capabilities(attrs)
        dropped, added = (shown(term(path), lookup(attrs, path))
                          for path in ("HostConfig.CapDrop", "HostConfig.CapAdd"))
        source = f"moby's default set, {dropped}, {added}"
    extra = sorted(held - {capability(c) for c in policy.cap_add_allowed})
    if extra:
        return failed("should drop every capability the service does not need (cap_drop: [ALL], "
                      "then cap_add only what the policy allows)",
                      f"beyond the allow-list: {', '.join(extra)} ({source})")
    kept = ", ".join(sorted(held)) or "none"
    return passed(f"bounding set: {kept} ({source})")
