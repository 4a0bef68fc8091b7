"""Planning the probes (pure but for the runner's settings): snapshot + policy -> the
probe containers of each kind (a Batch), and how their outputs become observations.

Probes only ever connect to the stack's own container addresses (taken from the
snapshot, never resolved through DNS: the engine's embedded DNS forwards names it
does not know to the host's upstream resolver) or to 127.0.0.1 inside a stack
container: check_target refuses anything else.
"""

import ipaddress
from collections.abc import Iterable

from compliance.model import Stack, Subject
from compliance.observations import Attempt, FlowObservation, ProbeError, TlsObservation, WriteObservation
from compliance.policy import Policy
from compliance.sources.probes.parse import parse_connects, parse_ssl, parse_write, parsed
from compliance.sources.probes.runner import Batch, ProbeRunner, Spec
from compliance.sources.probes.scripts import CONNECT_SCRIPT, SSL_EXCHANGE, SSL_SCRIPT, WRITE_SCRIPT


def addresses(container: Subject) -> list[tuple[str, str]]:
    """(address, compose network) of every network the container is attached to."""
    attached = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    out = []
    for name, net in attached.items():
        for key in ("IPAddress", "GlobalIPv6Address"):
            if net.get(key):
                out.append((net[key], container.networks.get(name, name)))
    return out


def running(containers: Iterable[Subject]) -> list[Subject]:
    return [c for c in containers if c.state.get("Running")]


def stack_addresses(stack: Stack) -> set[str]:
    return {address for c in stack.containers for address, _ in addresses(c)}


def check_target(address: str, allowed: set[str]) -> None:
    """Refuse any address that is not a stack container's own (or its loopback)."""
    ip = ipaddress.ip_address(address)
    if not (ip.is_loopback or address in allowed):
        raise ProbeError(f"refusing to probe {address}: not an address of the stack's containers")


def connects_batch(runner: ProbeRunner, jobs: list[tuple[Subject, list[tuple[str, str, int]]]],
                   allowed: set[str]) -> Batch:
    """For each (source container, [(attempt id, address, port)]): one probe in the source's
    network namespace trying every attempt concurrently -> attempt id -> (result, detail)."""
    specs = []
    for source, attempts in jobs:
        args = [str(runner.connect_timeout)]
        for attempt_id, address, port in attempts:
            check_target(address, allowed)
            args += [attempt_id, address, str(port)]
        specs.append(Spec(CONNECT_SCRIPT, tuple(args), network_mode=f"container:{source.id}",
                          node=source.node))
    return Batch(specs, lambda outs: [
        out if isinstance(out, ProbeError) else parsed(parse_connects, out) for out in outs])

def ssl_batch(runner: ProbeRunner, container: Subject, targets: list[str], port: int,
              allowed: set[str]) -> Batch:
    """The SSLRequest to each target, from inside `container`'s network namespace."""
    for address in targets:
        check_target(address, allowed)
    spec = Spec(SSL_SCRIPT, (str(runner.connect_timeout), str(port), *targets),
                 network_mode=f"container:{container.id}",
                 environment={"PROBE_SSL": SSL_EXCHANGE}, node=container.node)
    return Batch([spec], lambda outs: outs[0] if isinstance(outs[0], ProbeError)
                  else parsed(parse_ssl, outs[0]))

def writes_batch(runner: ProbeRunner, containers: list[Subject]) -> Batch:
    """A write probe per container, as its own uid:gid in its PID namespace (HRD-02)."""
    path = f"/.passq-compliance-probe-{runner.run_id}"
    specs, ids = [], []
    for container in containers:
        ids.append(str(container.process) if container.process else "")
        specs.append(write_spec(container, path) if container.process else None)

    def finish(outs: list) -> list[WriteObservation]:
        outputs = iter(outs)
        observations = []
        for container, spec, as_ids in zip(containers, specs, ids, strict=True):
            if spec is None:
                observations.append(WriteObservation(
                    container.name, path, as_ids, "error",
                    detail="the real uid:gid of the main process is unknown"))
                continue
            out = next(outputs)
            if isinstance(out, str):
                try:
                    result, errno, left, removed, detail = parse_write(out)
                except ProbeError as exc:
                    out = exc
            if isinstance(out, ProbeError):
                observations.append(WriteObservation(container.name, path, as_ids, "error",
                                                     detail=str(out)))
                continue
            observations.append(WriteObservation(container.name, path, as_ids, result, errno,
                                                 left, removed, detail))
        return observations

    return Batch([s for s in specs if s is not None], finish)


def write_spec(container: Subject, path: str) -> Spec:
    """The write probe for one container: its PID namespace, its uid:gid, its capabilities.

    With a private PID namespace the target's main process is pid 1 of the shared
    namespace. A target sharing another PID namespace (`pid: host`, `container:`)
    is reached by its engine pid in the host's namespace, after checking that
    this pid's cgroup names the container (so a recycled pid is never written to).
    """
    host_config = container.host_config
    pid_mode = host_config.get("PidMode") or ""
    if pid_mode in ("", "private"):
        mode, pid, check = f"container:{container.id}", "1", ""
    else:
        mode, pid, check = "host", str(container.state.get("Pid") or 0), container.id
    return Spec(
        WRITE_SCRIPT, (pid, check, path.lstrip("/")), network_mode="none", pid_mode=mode,
        user=str(container.process), cap_add=tuple(host_config.get("CapAdd") or ()),
        cap_drop=tuple(host_config.get("CapDrop") or ()), node=container.node,
    )


def probe_flows(runner: ProbeRunner, stack: Stack, policy: Policy) -> list[FlowObservation]:
    """Plan every flow's attempts, run one probe per source container, collect."""
    batch = flows_batch(runner, stack, policy)
    return runner.run_batches([batch])[0] if batch.runs else batch.finish([])


def flows_batch(runner: ProbeRunner, stack: Stack, policy: Policy) -> Batch:
    """probe_flows, planned to run in one pool with other kinds (Live)."""
    plan = FlowPlan(stack, policy)
    connects = connects_batch(runner, plan.jobs, plan.allowed)
    return Batch(connects.specs, lambda outs: plan.collect(connects.finish(outs) if plan.jobs else []),
                  runs=bool(plan.jobs))


class FlowPlan:
    """Every flow's attempts: one probe per source container, trying each target address."""

    def __init__(self, stack: Stack, policy: Policy):
        self.allowed = stack_addresses(stack)
        self.flows = flows = ([("deny", f) for f in policy.deny_flows]
                              + [("allow", f) for f in policy.allow_flows])
        self.problems: dict[int, str] = {}
        # source id -> [(attempt id, flow index, target, address, net)]
        planned: dict[str, list] = {}
        self.planned = planned
        self.sources: dict[str, Subject] = {}
        for index, (_kind, flow) in enumerate(flows):
            froms, tos = running(stack.service(flow.source)), running(stack.service(flow.target))
            if not froms:
                self.problems[index] = f"no running container of service {flow.source!r} to probe from"
                continue
            targets = [(t, address, net) for t in tos for address, net in addresses(t)]
            if not targets:
                self.problems[index] = f"no running container of service {flow.target!r} with an address"
                continue
            for source in froms:
                self.sources[source.id] = source
                for target, address, net in targets:
                    attempts = planned.setdefault(source.id, [])
                    attempts.append((f"a{index}-{len(attempts)}", index, target, address, net))
        self.order = list(planned)
        self.jobs = [(self.sources[sid], [(a[0], a[3], flows[a[1]][1].port) for a in planned[sid]])
                     for sid in self.order]

    def collect(self, outputs: list) -> list[FlowObservation]:
        """The observations, from each job's output (or the ProbeError that stopped it)."""
        attempts_of: dict[int, list[Attempt]] = {}
        for sid, out in zip(self.order, outputs, strict=True):
            for attempt_id, index, target, address, net in self.planned[sid]:
                flow = self.flows[index][1]
                if isinstance(out, ProbeError):
                    result, detail = "error", str(out)
                else:
                    result, detail = out.get(attempt_id, ("error", "no observation for this attempt"))
                attempts_of.setdefault(index, []).append(
                    Attempt(flow, self.sources[sid].name, target.name, address, net, result, detail))
        return [FlowObservation(flow, kind, tuple(attempts_of.get(i, ())), self.problems.get(i, ""))
                for i, (kind, flow) in enumerate(self.flows)]


def tls_batch(runner: ProbeRunner, stack: Stack, policy: Policy) -> Batch:
    """NET-05's probes: from inside each running database container, the SSLRequest to
    127.0.0.1 first, then to its own addresses (one probe container per database)."""
    if policy.database is None:
        return Batch([], lambda outs: [], runs=False)
    allowed = stack_addresses(stack)
    port = policy.database.port
    databases = running(stack.service(policy.database.service))
    if not databases:
        missing = ProbeError(f"no running container of the database service {policy.database.service!r}")
        return Batch([], lambda outs: missing, runs=False)
    plans = []
    for db in databases:
        targets = ["127.0.0.1"] + [address for address, _ in addresses(db)]
        plans.append((db, targets, ssl_batch(runner, db, targets, port, allowed)))

    def finish(outs: list) -> list[TlsObservation] | ProbeError:
        observations = []
        for (db, targets, ssl), out in zip(plans, outs, strict=True):
            answers = ssl.finish([out])
            if isinstance(answers, ProbeError):
                return answers
            for address in targets:
                result, answer, detail = answers.get(address, ("error", None, "no observation"))
                observations.append(TlsObservation(db.name, address, port, result, answer, detail))
        return observations

    return Batch([spec for _, _, ssl in plans for spec in ssl.specs], finish)
