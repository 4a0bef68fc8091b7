"""Network checks: where ports listen and which networks a container joins (NET-01..03, NET-06)."""

import ipaddress
from dataclasses import dataclass

from compliance.checks.facts import decided, lookup, network_mode, shown
from compliance.model import Stack, Subject
from compliance.outcomes import Finding, failed, not_applicable, passed, undecided, worst
from compliance.policy import Policy, ServicePolicy

DEFAULT_BRIDGE = "bridge"  # the engine's own network; "default" is its NetworkMode alias
PRIVILEGED_PORTS = 1024


@dataclass(frozen=True)
class Binding:
    """One published port, as one inspect section reports it."""

    # "HostConfig.PortBindings" (declared), "NetworkSettings.Ports" (in effect) or, for a swarm
    # task, "Endpoint.Ports" (its service's: ingress ones on every node)
    source: str
    port: str  # container port, e.g. "8080/tcp"
    host_ip: str
    host_port: str
    mode: str = ""  # a swarm port's PublishMode: ingress (the routing mesh) or host

    def shown(self, subject: Subject) -> str:
        """The binding as evidence quotes it, its section named in the subject's terms (a
        declared service's `ports`)."""
        ip = self.host_ip if self.host_ip else '""'
        mode = " (ingress: the routing mesh listens on every node)" if self.mode == "ingress" else \
            f" ({self.mode} mode)" if self.mode else ""
        return f"{subject.term(self.source)} {self.port} -> {ip}:{self.host_port}{mode}"


def bindings(container: Subject) -> list[Binding]:
    """Published ports from both the declared bindings and the ones in effect: a container
    on internal networks only publishes nothing, yet its declaration still asks for it. A
    swarm task's service publishes its own (`Endpoint.Ports`)."""
    found = []
    for source in ("HostConfig.PortBindings", "NetworkSettings.Ports", "Endpoint.Ports"):
        for port, hosts in (lookup(container.attrs, source, None) or {}).items():
            found += [Binding(source, port, h.get("HostIp") or "", h.get("HostPort") or "",
                              h.get("PublishMode") or "") for h in hosts or ()]
    return found


def host_ip_allowed(host_ip: str, allowed) -> bool:
    """Empty and unspecified addresses (0.0.0.0, ::) listen everywhere and never pass;
    others are compared as addresses, so `0:0::1` is `::1`."""
    try:
        address = ipaddress.ip_address(host_ip)
    except ValueError:
        return False
    return not address.is_unspecified and address in {ipaddress.ip_address(a) for a in allowed}


@decided
def published_ports_allowed(container: Subject, policy: ServicePolicy) -> Finding:
    """NET-01: every published port binds to an address the policy allows."""
    if network_mode(container.attrs) == "host":
        return failed("should not use network_mode host (it listens on every host address)",
                      shown(container.term("HostConfig.NetworkMode"), "host"))
    published = bindings(container)
    if not published:
        return passed("no published ports")
    bad = [b for b in published if not host_ip_allowed(b.host_ip, policy.allowed_host_ips)]
    evidence = "; ".join(dict.fromkeys(b.shown(container) for b in bad or published))
    if bad:
        return failed(f"should publish ports only on {', '.join(policy.allowed_host_ips)}", evidence)
    return passed(evidence)


@decided
def allowed_networks_only(container: Subject, policy: ServicePolicy) -> Finding:
    """NET-02: the container joins only networks the policy allows for its service, by
    compose network name, and never the engine's default bridge (CIS 5.30: one flat network
    with every container started without a network), whatever the policy lists."""
    mode = network_mode(container.attrs)
    network_mode_is = shown(container.term("HostConfig.NetworkMode"), mode)
    # "default" is the bridge only for a container on no other network: a swarm task on
    # overlays keeps NetworkMode "default". Podman's default network is `podman`, and its
    # NetworkMode is "bridge" for every bridge network (docs/engines.md).
    default = container.engine.default_network if container.engine else DEFAULT_BRIDGE
    if mode == default or default in container.networks or (
            mode == "default" and not container.networks):
        return failed("should not join the engine's default bridge network",
                      f"{network_mode_is}, {shown('engine networks', sorted(container.networks))}")
    if policy.networks is None:
        return not_applicable(f"the policy names no networks for service {container.service}")
    if mode == "host":
        return failed("should join only the policy's networks, not the host's network",
                      network_mode_is)
    if mode == "none":
        return passed(f"{network_mode_is} (no network)")
    if mode.startswith("service:") and container.declared:  # compose's network_mode: service:x
        return not_applicable(f"the service shares service {mode.split(':', 1)[1]}'s network "
                              "namespace; that service's networks are judged")
    if mode.startswith("container:"):
        return undecided("the container shares another container's network namespace; "
                         "that container's networks decide", network_mode_is)
    joined = sorted(set(container.networks.values()))
    extra = [n for n in joined if n not in policy.networks]
    evidence = f"{shown('networks', joined)}, {shown('allowed', sorted(policy.networks))}"
    if extra:
        return failed(f"should not join {', '.join(extra)}", evidence)
    return passed(evidence)


@decided
def privileged_ports(container: Subject, policy: ServicePolicy) -> Finding:
    """NET-06: every published host port is 1024 or above unless the policy's
    `privileged_ports_allowed` lists it. In network_mode host nothing is published: the
    processes bind host ports directly, privileged ones included, and inspect cannot show
    which, so it fails too."""
    if network_mode(container.attrs) == "host":
        return failed("should not use network_mode host (its processes bind host ports, "
                      "privileged ones included, directly)",
                      shown(container.term("HostConfig.NetworkMode"), "host"))
    published = [b for b in bindings(container) if b.host_port]
    try:
        low = [b for b in published if set(_privileged(b.host_port)) - set(policy.privileged_ports_allowed)]
    except ValueError:
        return undecided("a published host port is not a number",
                         "; ".join(b.shown(container) for b in published))
    if low:
        return failed(f"should publish on host ports of {PRIVILEGED_PORTS} or above (or list the "
                      "port in privileged_ports_allowed)",
                      "; ".join(dict.fromkeys(b.shown(container) for b in low)))
    if not published:
        return passed("no published host ports")
    return passed("; ".join(dict.fromkeys(b.shown(container) for b in published)))


def _privileged(host_port: str) -> range:
    """The privileged ports a published host port may bind: a range (`1000-1030`, the engine
    picks one of them) is as low as its first port."""
    first, _, last = host_port.partition("-")
    return range(int(first), min(int(last or first), PRIVILEGED_PORTS - 1) + 1)


def internal_networks(stack: Stack, policy: Policy) -> Finding:
    """NET-03 (stack): every network the policy marks internal exists and is internal on the
    engine; a missing network is a failure, since nothing proves it isolated."""
    if not policy.internal_networks:
        return not_applicable("the policy marks no network internal")
    findings = []
    for name in policy.internal_networks:
        network = stack.networks.get(name)
        if network is None:
            findings.append(failed(f"should have network {name}", f"{name}: no such network in the stack"))
            continue
        evidence = f"{name}: {shown('Internal', network.get('Internal', False))}"
        findings.append(passed(evidence) if network.get("Internal") is True else
                        failed(f"should declare {name} with internal: true", evidence))
    return worst(findings)
