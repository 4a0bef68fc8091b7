"""Load and validate the policy file (interface.md, "Policy file").

Policy is data, validated on load: an unknown key, a wrong type or a
negative limit is an error naming the file, line and key, raised before any
check runs, because a typo must never silently switch a control off.
"""

import difflib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path

from compliance import yamlfile
from compliance.yamlfile import key_path, kind

SEVERITY_NAMES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UIDGID = re.compile(r"^\d+:\d+$")
# The engine's restart policy names (HostConfig.RestartPolicy.Name; "" reads as "no").
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")


class PolicyError(Exception):
    """The policy file is unusable; the message names file, line and key."""


@dataclass(frozen=True)
class ServicePolicy:
    """What the policy asks of one service (defaults merged in)."""

    user: str = "non-root"
    writable_paths: tuple[str, ...] = ()
    memory_max: int | None = None
    cpus_max: float | None = None
    pids_max: int | None = None
    cap_add_allowed: tuple[str, ...] = ()
    allowed_host_ips: tuple[str, ...] = ("127.0.0.1", "::1")
    floating_tags: tuple[str, ...] = ("latest",)
    networks: tuple[str, ...] | None = None
    secrets: tuple[str, ...] = ()
    devices_allowed: tuple[str, ...] = ()  # host device paths (HRD-07)
    privileged_ports_allowed: tuple[int, ...] = ()  # host ports below 1024 (NET-06)
    restart_policies_allowed: tuple[str, ...] = ("no", "on-failure")  # RES-04
    restart_max_retries: int = 5  # RES-04: the most retries an on-failure policy may have
    setuid_allowed: tuple[str, ...] = ()  # image paths (IMG-05)


@dataclass(frozen=True)
class Flow:
    source: str
    target: str
    port: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}:{self.port}"


@dataclass(frozen=True)
class Database:
    service: str
    engine: str = "postgres"
    port: int = 5432


@dataclass(frozen=True)
class Policy:
    path: str
    sha256: str
    stack: str | None = None
    defaults: ServicePolicy = ServicePolicy()
    services: dict[str, ServicePolicy] = field(default_factory=dict)
    internal_networks: tuple[str, ...] = ()
    deny_flows: tuple[Flow, ...] = ()
    allow_flows: tuple[Flow, ...] = ()
    database: Database | None = None
    secrets_dir: str | None = None
    secrets_min_bytes: int = 32
    vulnerability_reports: str | None = None
    vulnerability_max_age_days: int = 7
    vulnerability_forbid: tuple[str, ...] = ("CRITICAL", "HIGH")
    image_max_age_days: int = 35
    swarm_nodes: dict[str, str] = field(default_factory=dict)  # node hostname or ID -> engine URL
    credential_env_patterns: tuple[str, ...] = (
        "PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY",
        "ENCRYPTION_KEY", "CREDENTIAL", "ACCESS_KEY",
    )

    # where each service's entry is written (`file:line`), for errors about the name
    service_at: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def for_service(self, name: str) -> ServicePolicy:
        return self.services.get(name, self.defaults)

    def undeclared_services(self, declared: Iterable[str], files: str) -> list[str]:
        """A problem (`file:line: services.NAME: ...`) for each service of the policy that none
        of the compose `files` declares: a misspelt name (`ngnix-proxy`) would otherwise leave
        the real service judged by the defaults, its own rules silently unapplied."""
        declared = sorted(declared)
        problems = []
        for name in self.services:
            if name not in declared:
                close = difflib.get_close_matches(name, declared, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(f"{self.service_at.get(name, self.path)}: services.{name}: unknown "
                                f"service {name!r}: not a service of {files}{hint}")
        return problems

    def all_writable_paths(self) -> frozenset[str]:
        """Every writable path the policy names, for any service (HRD-03 asks about them)."""
        return frozenset(p for s in (self.defaults, *self.services.values()) for p in s.writable_paths)


def parse_size(text: str | int) -> int:
    """`512M` -> bytes (binary units, as compose reads them); ValueError if not a size."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"expected a size like 512M or 1G, got {text!r}")
    number, unit = match.groups()
    # Decimal, not float: a float of 400 digits is inf, and int(inf) raises OverflowError
    return int(Decimal(number) * 1024 ** "bkmgt".index((unit or "b").lower()))


def load(path: str | Path) -> Policy:
    """Read, validate and merge a policy file."""
    source = yamlfile.read(path, "policy", PolicyError)
    return _Reader(source).policy(source.data or {}, source.sha256)


_SERVICE_KEYS = {f.name for f in fields(ServicePolicy)}


class _Reader:
    """Validates the decoded YAML against the schema, path by path."""

    def __init__(self, source: yamlfile.YamlFile):
        self.filename = source.path
        self.where = source.where

    def error(self, path: tuple, problem: str) -> PolicyError:
        where = self.where(path)
        return PolicyError(f"{where}: {key_path(path)}: {problem}")

    def mapping(self, value, path, allowed) -> dict:
        if not isinstance(value, dict):
            raise self.error(path, f"expected a mapping, got {kind(value)}")
        for key in value:
            if key not in allowed:
                raise self.error((*path, key), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def string(self, value, path) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(path, f"expected a non-empty string, got {kind(value)}")
        return value

    def items(self, value, path) -> list:
        if not isinstance(value, list):
            raise self.error(path, f"expected a list, got {kind(value)}")
        return value

    def strings(self, value, path) -> tuple[str, ...]:
        return tuple(self.string(v, (*path, i)) for i, v in enumerate(self.items(value, path)))

    def number(self, value, path, as_type=int, positive=True):
        if isinstance(value, bool) or not isinstance(value, (int, float) if as_type is float else int):
            raise self.error(path, f"expected {'a number' if as_type is float else 'an integer'}, "
                                   f"got {kind(value)}")
        if value < 0 or (positive and value == 0):
            raise self.error(path, f"must be {'positive' if positive else 'zero or more'}, got {value}")
        return as_type(value)

    def policy(self, data, sha256) -> Policy:
        top = {"stack", "defaults", "services", "networks", "flows", "database", "secrets",
               "vulnerabilities", "images", "credential_env_patterns", "swarm"}
        data = self.mapping(data, (), top)
        defaults = self.service(data.get("defaults") or {}, ("defaults",), ServicePolicy())
        services = {}
        for name, spec in self.mapping(data.get("services") or {}, ("services",),
                                       data.get("services") or {}).items():
            services[name] = self.service(spec or {}, ("services", name), defaults)
        known = set(services)
        kwargs: dict = {"path": self.filename, "sha256": sha256, "defaults": defaults,
                        "services": services,
                        "service_at": {name: self.where(("services", name)) for name in services}}
        if "stack" in data:
            kwargs["stack"] = self.string(data["stack"], ("stack",))
        if "networks" in data:
            nets = self.mapping(data["networks"], ("networks",), {"internal"})
            kwargs["internal_networks"] = self.strings(nets.get("internal", []),
                                                       ("networks", "internal"))
        if "flows" in data:
            flows = self.mapping(data["flows"], ("flows",), {"deny", "allow"})
            for kind in ("deny", "allow"):
                kwargs[f"{kind}_flows"] = self.flows(flows.get(kind) or [], ("flows", kind), known)
        if "database" in data:
            kwargs["database"] = self.database(data["database"], known)
        if "secrets" in data:
            sec = self.mapping(data["secrets"], ("secrets",), {"dir", "min_bytes"})
            if "dir" in sec:
                kwargs["secrets_dir"] = self.string(sec["dir"], ("secrets", "dir"))
            if "min_bytes" in sec:
                kwargs["secrets_min_bytes"] = self.number(sec["min_bytes"], ("secrets", "min_bytes"))
        if "vulnerabilities" in data:
            kwargs.update(self.vulnerabilities(data["vulnerabilities"]))
        if "images" in data:
            img = self.mapping(data["images"], ("images",), {"max_age_days"})
            if "max_age_days" in img:
                kwargs["image_max_age_days"] = self.number(img["max_age_days"],
                                                           ("images", "max_age_days"))
        if "swarm" in data:
            swarm = self.mapping(data["swarm"], ("swarm",), {"nodes"})
            nodes = self.mapping(swarm.get("nodes") or {}, ("swarm", "nodes"), swarm.get("nodes") or {})
            kwargs["swarm_nodes"] = {str(node): self.string(url, ("swarm", "nodes", node))
                                     for node, url in nodes.items()}
        if "credential_env_patterns" in data:
            path = ("credential_env_patterns",)
            kwargs["credential_env_patterns"] = tuple(
                p.upper() for p in self.strings(data["credential_env_patterns"], path))
        return Policy(**kwargs)

    def service(self, spec, path, base: ServicePolicy) -> ServicePolicy:
        spec = self.mapping(spec, path, _SERVICE_KEYS)
        values = {}
        for key, value in spec.items():
            where = (*path, key)
            if key == "user":
                value = self.string(value, where)
                if value != "non-root" and not _UIDGID.match(value):
                    raise self.error(where, f'expected "non-root" or "uid:gid", got {value!r}')
            elif key == "memory_max":
                try:
                    value = parse_size(value)
                except ValueError as exc:
                    raise self.error(where, str(exc)) from None
                if value <= 0:
                    raise self.error(where, f"must be positive, got {spec[key]!r}")
            elif key == "cpus_max":
                value = self.number(value, where, float)
            elif key in ("pids_max", "restart_max_retries"):
                value = self.number(value, where)
            elif key in ("writable_paths", "devices_allowed", "setuid_allowed"):
                value = self.paths(value, where)
            elif key == "privileged_ports_allowed":
                value = self.ports(value, where)
            elif key == "restart_policies_allowed":
                value = self.restart_policies(value, where)
            elif key == "allowed_host_ips":
                value = self.strings(value, where)
                for i, item in enumerate(value):
                    try:
                        ipaddress.ip_address(item)
                    except ValueError:
                        raise self.error((*where, i), f"not an IP address: {item!r}") from None
            else:
                value = self.strings(value, where)
            values[key] = value
        return replace(base, **values)

    def paths(self, value, path) -> tuple[str, ...]:
        value = self.strings(value, path)
        for i, item in enumerate(value):
            if not item.startswith("/"):
                raise self.error((*path, i), f"expected an absolute path, got {item!r}")
        return value

    def port(self, value, path) -> int:
        port = self.number(value, path)
        if port > 65535:
            raise self.error(path, f"not a TCP port: {port}")
        return port

    def ports(self, value, path) -> tuple[int, ...]:
        return tuple(self.port(v, (*path, i)) for i, v in enumerate(self.items(value, path)))

    def restart_policies(self, value, path) -> tuple[str, ...]:
        """Restart policy names. YAML reads an unquoted `no` as false (interface.md's example
        writes `[no, on-failure]`), so false is the policy `no`."""
        names = tuple("no" if v is False else self.string(v, (*path, i))
                      for i, v in enumerate(self.items(value, path)))
        for i, name in enumerate(names):
            if name not in RESTART_POLICIES:
                raise self.error((*path, i), f"unknown restart policy {name!r} "
                                             f"(known: {', '.join(RESTART_POLICIES)})")
        return names

    def flows(self, items, path, known) -> tuple[Flow, ...]:
        out = []
        for i, item in enumerate(self.items(items, path)):
            where = (*path, i)
            item = self.mapping(item, where, {"from", "to", "port"})
            for key in ("from", "to", "port"):
                if key not in item:
                    raise self.error(where, f"missing key {key!r}")
            for key in ("from", "to"):
                name = self.string(item[key], (*where, key))
                if name not in known:
                    raise self.error((*where, key), f"unknown service {name!r} (not under services)")
            out.append(Flow(item["from"], item["to"], self.port(item["port"], (*where, "port"))))
        return tuple(out)

    def database(self, spec, known) -> Database:
        path = ("database",)
        spec = self.mapping(spec, path, {"service", "engine", "port"})
        if "service" not in spec:
            raise self.error(path, "missing key 'service'")
        service = self.string(spec["service"], (*path, "service"))
        if service not in known:
            raise self.error((*path, "service"), f"unknown service {service!r} (not under services)")
        engine = self.string(spec.get("engine", "postgres"), (*path, "engine"))
        if engine != "postgres":
            raise self.error((*path, "engine"), f"unsupported database engine {engine!r} "
                                                "(supported: postgres)")
        return Database(service, engine, self.number(spec.get("port", 5432), (*path, "port")))

    def vulnerabilities(self, spec) -> dict:
        path = ("vulnerabilities",)
        spec = self.mapping(spec, path, {"reports", "max_age_days", "forbid"})
        out = {}
        if "reports" in spec:
            out["vulnerability_reports"] = self.string(spec["reports"], (*path, "reports"))
        if "max_age_days" in spec:
            out["vulnerability_max_age_days"] = self.number(spec["max_age_days"],
                                                            (*path, "max_age_days"))
        if "forbid" in spec:
            forbid = tuple(s.upper() for s in self.strings(spec["forbid"], (*path, "forbid")))
            for i, severity in enumerate(forbid):
                if severity not in SEVERITY_NAMES:
                    raise self.error((*path, "forbid", i), f"unknown severity {severity!r}")
            out["vulnerability_forbid"] = forbid
        return out
