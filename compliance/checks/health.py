"""Health checks: a healthcheck is defined, and the service runs and is healthy (HLT-01..02)."""

import posixpath
import re

from compliance.checks.facts import decided, lookup, shown
from compliance.model import Stack, Subject
from compliance.outcomes import Finding, failed, not_applicable, passed, undecided
from compliance.policy import Policy
from compliance.redact import MARK, dsn_passwords
from compliance.scans import parse_time

QUOTE_MAX = 160  # characters of a healthcheck command or output quoted in evidence
# A container the engine restarted (RestartCount > 0) less than this long before the snapshot
# has not shown that it stays up: a crash loop between two restarts looks "running".
SETTLE_S = 60


def quote(text: str) -> str:
    """One line, bounded, DSN passwords masked: commands and outputs are free text that may
    carry a connection string, and evidence must never carry its password."""
    for password in dsn_passwords(text):
        text = text.replace(password, MARK)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= QUOTE_MAX else text[:QUOTE_MAX - 1] + "…"


def healthcheck(container: Subject) -> tuple[tuple[str, ...], str] | None:
    """The effective healthcheck test and where it comes from, in the container's terms. The
    container's own `Config.Healthcheck.Test` overrides the image's; an empty test inherits it."""
    for where, config in (("Config", container.config), ("image Config", container.image.get("Config"))):
        test = tuple(lookup(config or {}, "Healthcheck.Test", None) or ())
        if test:
            return test, f"{container.term(f'{where}.Healthcheck')}.Test"
    return None


@decided
def healthcheck_defined(container: Subject) -> Finding:
    """HLT-01: a healthcheck is defined on the container or inherited from the image, and
    not disabled with NONE."""
    found = healthcheck(container)
    if found is None and container.declared:
        return failed("should declare a healthcheck (healthcheck: in the service, or HEALTHCHECK "
                      "in its Dockerfile); the image's own cannot be seen before deployment",
                      "no healthcheck: and no Dockerfile HEALTHCHECK")
    if found is None:
        return failed("should define a healthcheck",
                      "no Config.Healthcheck.Test on the container or its image")
    test, where = found
    if test[0] == "NONE":
        return failed("should define a healthcheck, not disable it", shown(where, ["NONE"]))
    return passed(f"{where}={test[0]} {quote(' '.join(test[1:]))!r}")


def last_output(health) -> str:
    """The last healthcheck result as evidence quotes it: exit code and trimmed output."""
    log = lookup(health, "Log", None) or ()
    if not log:
        return "no healthcheck result logged"
    last = log[-1]
    output = quote(last.get("Output") or "")
    return f"last check exit {last.get('ExitCode')}: {output!r}" if output else \
        f"last check exit {last.get('ExitCode')}, no output"


def _restart_count(container: Subject) -> list[str]:
    """`RestartCount=N` when the engine restarted the container: a crash loop's signature."""
    count = lookup(container.attrs, "RestartCount", 0) or 0
    return [shown("RestartCount", count)] if count else []


def _just_restarted(container: Subject) -> str | None:
    """Why a running container restarted by the engine has not shown it stays up, or None."""
    if not lookup(container.attrs, "RestartCount", 0):
        return None
    started = parse_time(lookup(container.attrs, "State.StartedAt", ""))
    now = parse_time(container.engine_time)
    if started is None or now is None:
        return None
    up = (now - started).total_seconds()
    return f"up {max(up, 0):.1f} s at the snapshot after its last restart" if up < SETTLE_S else None


@decided
def running_and_healthy(container: Subject, restarts: tuple[str, ...] = ()) -> Finding:
    """HLT-02: `State.Status` is running and, where a healthcheck exists, the engine says
    healthy. A container that stopped or restarted during the run (`restarts`, seen in the
    engine's events), or that the engine restarted just before the snapshot, does not stay
    up, whatever the snapshot caught. A still-starting
    healthcheck cannot be judged yet: an error, never a pass."""
    task = lookup(container.attrs, "Task", None)
    if task and task.get("State") != "running":
        return failed("should be running (the swarm task is not)",
                      f"{shown('Task.Status.State', task.get('State'))}, "
                      f"{shown('Task.Status.Err', task.get('Err'))} on node {task.get('Node')}")
    status = lookup(container.attrs, "State.Status")
    health = lookup(container.attrs, "State.Health", None)
    facts = [shown("State.Status", status)]
    unsettled = _just_restarted(container) if status == "running" else None
    if status != "running" or restarts or unsettled:
        if status != "running":  # a running container's ExitCode is not its last exit's
            facts.append(shown("State.ExitCode", lookup(container.attrs, "State.ExitCode", None)))
        facts += _restart_count(container)
        if unsettled:
            facts.append(unsettled)
        if restarts:
            facts.append(f"during the run the container {', then '.join(restarts)}")
        if health:
            facts += [shown("State.Health.Status", lookup(health, "Status", None)), last_output(health)]
        return failed("should be running and stay up" if restarts or unsettled
                      else "should be running", ", ".join(facts))
    facts += _restart_count(container)
    found = healthcheck(container)
    if found is None or found[0][0] == "NONE":
        return passed(f"{', '.join(facts)} (no healthcheck)")
    if not health:
        return undecided("a healthcheck is defined but the engine reports no State.Health",
                         ", ".join(facts))
    health_status = lookup(health, "Status")
    facts += [shown("State.Health.Status", health_status), last_output(health)]
    if health_status != "healthy":
        facts += _program(container)
    evidence = ", ".join(facts)
    if health_status == "healthy":
        return passed(evidence)
    if health_status == "starting":
        return undecided("the healthcheck is still starting; judge it after its start period",
                         evidence)
    return failed("should be healthy", evidence)


def _program(container: Subject) -> list[str]:
    """Whether the failing healthcheck's program exists in the container, as the engine host
    sees its root filesystem: a missing `curl` is the most common reason a check fails."""
    inside = container.inside
    programs = inside.programs if inside else None
    if not programs:
        return []
    found = [path for path, exists in programs.items() if exists]
    if found:
        return [f"its program {found[0]} exists in the container ({inside.view})"]
    name = posixpath.basename(next(iter(programs)))
    where = ", ".join(dict.fromkeys(posixpath.dirname(p) for p in programs))
    return [f"its program {name}: not found in the container (looked in {where}; {inside.view})"]


def policy_services_present(stack: Stack, policy: Policy) -> Finding:
    """HLT-02 (stack): every service the policy names has a container in the stack; a
    declared service that is not there at all would otherwise go unaudited."""
    if not policy.services:
        return not_applicable("the policy names no services")
    present = {c.service for c in stack.containers}
    missing = sorted(set(policy.services) - present)
    if missing:
        return failed("should run every service the policy names",
                      f"no container for policy services: {', '.join(missing)}")
    return passed(f"a container for every policy service: {', '.join(sorted(policy.services))}")
