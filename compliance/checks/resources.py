"""Resource checks: hard limits on memory, CPU and processes, a bounded restart policy (RES-01..04).

A missing limit, and the engine's spellings of "unlimited" (0, -1, null),
fail; a limit above the policy's maximum fails too. So does a limit the engine
records but cannot apply: rootless Docker on a cgroup v1 host runs every
container without cgroups of its own (docs/engines.md).
"""

import functools

from compliance.checks.facts import decided, lookup, shown
from compliance.model import Subject
from compliance.outcomes import Finding, failed, passed
from compliance.policy import ServicePolicy

DEFAULT_CPU_PERIOD = 100_000  # microseconds; the kernel's CFS period when CpuPeriod is 0
_UNITS = ("", "K", "M", "G", "T")


def size(amount: int) -> str:
    """Bytes in the policy's binary units (536870912 -> 512M), so evidence and policy match."""
    for power in range(len(_UNITS) - 1, 0, -1):
        if amount % 1024 ** power == 0:
            return f"{amount // 1024 ** power}{_UNITS[power]}"
    return f"{amount} bytes"


def _within(evidence: str, amount: float, maximum: float | None, spelled, what: str) -> Finding:
    """The shared tail of RES-01..03: a set limit passes unless it exceeds the policy's
    maximum; `spelled` writes a maximum in the control's unit."""
    if maximum is None:
        return passed(f"{evidence} (the policy sets no maximum)")
    limit = f"policy maximum {spelled(maximum)}"
    if amount > maximum + 1e-9:
        return failed(f"should limit {what} to at most {spelled(maximum)} as the policy requires",
                      f"{evidence}, {limit}")
    return passed(f"{evidence}, {limit}")


def enforced(check):
    """RES-01..03 read the limits the engine recorded; an engine that runs containers without
    cgroups of their own applies none of them, so a recorded limit is no limit there."""

    @functools.wraps(check)
    def judged(container: Subject, policy: ServicePolicy) -> Finding:
        finding = check(container, policy)
        engine = container.engine
        if finding.outcome == "passed" and engine is not None and engine.cgroups is False:
            return failed(f"should have its limit enforced: {engine} runs containers without "
                          "cgroups of their own, so no limit it records is applied",
                          f"{finding.evidence}; engine {engine}: docker info CgroupDriver=none")
        return finding

    return judged


@enforced
@decided
def memory_limit(container: Subject, policy: ServicePolicy) -> Finding:
    """RES-01: a memory limit is set and at most the policy's `memory_max`."""
    memory = lookup(container.attrs, "HostConfig.Memory") or 0
    evidence = shown(container.term("HostConfig.Memory"), memory)
    if memory <= 0:
        return failed("should set a memory limit (mem_limit or deploy.resources.limits.memory)",
                      f"{evidence} (no limit)")
    return _within(f"{evidence} ({size(memory)})", memory, policy.memory_max, size, "memory")


def cpus(nano_cpus: int, quota: int, period: int) -> float | None:
    """The hard CPU limit in CPUs, from NanoCpus or CFS quota/period; None when there is none."""
    if nano_cpus > 0:
        return nano_cpus / 1e9
    if quota > 0:
        return quota / (period if period > 0 else DEFAULT_CPU_PERIOD)
    return None


@enforced
@decided
def cpu_limit(container: Subject, policy: ServicePolicy) -> Finding:
    """RES-02: a hard CPU limit is set and at most the policy's `cpus_max`. CpuShares is a
    relative weight that limits nothing on an idle host, so on its own it fails."""
    keys = ("NanoCpus", "CpuQuota", "CpuPeriod", "CpuShares")
    values = {k: lookup(container.attrs, f"HostConfig.{k}") or 0 for k in keys}
    limit = cpus(values["NanoCpus"], values["CpuQuota"], values["CpuPeriod"])
    if limit is None:
        evidence = ", ".join(shown(container.term(f"HostConfig.{k}"), v) for k, v in values.items())
        if values["CpuShares"] > 0:
            return failed("should set a hard CPU limit (cpus); CpuShares is only a relative "
                          "weight, not a limit", f"{evidence} (shares only)")
        return failed("should set a hard CPU limit (cpus or deploy.resources.limits.cpus)",
                      f"{evidence} (no limit)")
    decided_by = ("NanoCpus",) if values["NanoCpus"] > 0 else ("CpuQuota", "CpuPeriod")
    evidence = ", ".join(shown(container.term(f"HostConfig.{k}"), values[k]) for k in decided_by)
    return _within(f"{evidence} ({limit:g} CPUs)", limit, policy.cpus_max, "{:g} CPUs".format, "CPU")


@enforced
@decided
def pids_limit(container: Subject, policy: ServicePolicy) -> Finding:
    """RES-03: a PIDs limit is set (null, 0 and -1 all mean unlimited), and at most the
    policy's `pids_max` where it sets one."""
    limit = lookup(container.attrs, "HostConfig.PidsLimit")
    evidence = shown(container.term("HostConfig.PidsLimit"), limit)
    if not limit or limit <= 0:
        return failed("should set a PIDs limit (pids_limit)", f"{evidence} (unlimited)")
    return _within(evidence, limit, policy.pids_max, str, "processes")


@decided
def restart_bounded(container: Subject, policy: ServicePolicy) -> Finding:
    """RES-04: the restart policy is one the policy allows (default `no` and `on-failure`),
    and `on-failure` gives up after 1 to `restart_max_retries` tries: MaximumRetryCount 0
    retries forever, as `always` and `unless-stopped` do."""
    restart = lookup(container.attrs, "HostConfig.RestartPolicy") or {}
    name = restart.get("Name") or "no"
    retries = restart.get("MaximumRetryCount") or 0
    evidence = shown(container.term("HostConfig.RestartPolicy"), restart)
    if name not in policy.restart_policies_allowed:
        return failed(f"should use a bounded restart policy (on-failure:N), not {name!r} "
                      f"(allowed: {', '.join(policy.restart_policies_allowed)})", evidence)
    if name == "on-failure" and not 1 <= retries <= policy.restart_max_retries:
        return failed(f"should give up after 1 to {policy.restart_max_retries} retries "
                      f"(restart: on-failure:N)", f"{evidence} "
                      f"({'retries forever' if retries == 0 else 'over the policy maximum'})")
    return passed(evidence)
