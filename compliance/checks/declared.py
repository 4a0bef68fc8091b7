"""Declared-config checks: the compose files (CMP-01, SEC-03, IMG-01 on `image:` lines).

CMP-01 compares each hardening setting of the declared model with the
running container's inspect data. A setting the service does not declare is
compared with what compose would then run: the default (read_only false, no
capabilities, no limits, ...), or for `user` the image's own USER. Settings
that fall back to the engine's or image's defaults in ways compose does not
fix (a healthcheck inherited from the image, the IPC mode) are compared only
when declared. Environment values are never compared or shown.
"""

import re
from collections.abc import Mapping

from compliance.checks import images
from compliance.outcomes import Finding, failed, not_applicable, passed, undecided, worst
from compliance.policy import parse_size

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
_HEALTH_DURATIONS = (("interval", "Interval"), ("timeout", "Timeout"),
                     ("start_period", "StartPeriod"), ("start_interval", "StartInterval"))


# -- CMP-01 -------------------------------------------------------------------------------

def matches_declared(container, model) -> Finding:
    """CMP-01: every declared hardening setting has the same value in the running container."""
    if model is None:
        return not_applicable("no --compose-file given: there is no declared config to compare")
    service = model.services.get(container.service)
    if service is None:
        return failed(f"should be declared in the compose files ({model.describe()}, "
                      f"{model.profiles})",
                      f"service {container.service!r} is not declared")
    try:
        settings = list(_settings(service.config, container, model))
    except (ValueError, TypeError) as exc:
        return undecided(f"the declared config of {service.name!r} could not be read: {exc}")
    diffs = [f"{name}: declared {want}, running {have}" for name, want, have in settings
             if want != have]
    if diffs:
        return failed("should run exactly as declared (recreate it from the compose files)",
                      "; ".join(diffs))
    return passed(f"{len(settings)} declared settings match: "
                  f"{', '.join(dict.fromkeys(name.split('.')[0] for name, _, _ in settings))}")


def _settings(declared: Mapping, container, model):
    """(setting, declared, running) for every compared setting, as display strings."""
    hc, config = container.host_config, container.config
    if "user" in declared:
        yield "user", _q(declared["user"]), _q(config.get("User") or "")
    elif container.image:
        image_user = (container.image.get("Config") or {}).get("User") or ""
        yield "user (image default)", _q(image_user), _q(config.get("User") or "")
    yield "read_only", _bool(declared.get("read_only")), _bool(hc.get("ReadonlyRootfs"))
    yield "privileged", _bool(declared.get("privileged")), _bool(hc.get("Privileged"))
    declared_opts = {_secopt(o) for o in declared.get("security_opt") or ()}
    running_opts = {_secopt(o) for o in hc.get("SecurityOpt") or ()}
    if _shares_host_namespace(hc) and "label:disable" not in declared_opts:
        running_opts.discard("label:disable")  # the engine adds it for host namespaces
    yield "security_opt", _list(declared_opts), _list(running_opts)
    yield "cap_add", _list(_cap(c) for c in declared.get("cap_add") or ()), \
        _list(_cap(c) for c in hc.get("CapAdd") or ())
    yield "cap_drop", _list(_cap(c) for c in declared.get("cap_drop") or ()), \
        _list(_cap(c) for c in hc.get("CapDrop") or ())
    yield "tmpfs", _tmpfs(_declared_tmpfs(declared)), _tmpfs(_running_tmpfs(hc))
    limits = ((declared.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    memory = limits.get("memory") or declared.get("mem_limit")
    yield "memory", _size(parse_size(memory) if memory else 0), _size(hc.get("Memory") or 0)
    cpus = limits.get("cpus") or declared.get("cpus")
    yield "cpus", _cpus(float(cpus) if cpus else 0.0), _cpus(_running_cpus(hc))
    pids = limits.get("pids") or declared.get("pids_limit")
    yield "pids_limit", _pids(pids), _pids(hc.get("PidsLimit"))
    yield "pid", _q(declared.get("pid") or ""), _q(hc.get("PidMode") or "")
    if "ipc" in declared:
        yield "ipc", _q(declared["ipc"]), _q(hc.get("IpcMode") or "")
    mode = declared.get("network_mode")
    if mode:
        yield from _network_mode(mode, hc.get("NetworkMode") or "")
    else:
        yield "ports", _list(_declared_ports(declared)), _list(_running_ports(hc))
        yield "networks", _list(_declared_networks(declared, model)), \
            _list(container.networks.values())
    if "healthcheck" in declared:
        yield from _healthcheck(declared["healthcheck"] or {}, config.get("Healthcheck") or {})


def _q(value) -> str:
    return repr(str(value))


def _bool(value) -> str:
    return "true" if value else "false"


def _list(items) -> str:
    return "[" + ", ".join(sorted(set(items))) + "]"


def _secopt(option: str) -> str:
    """`no-new-privileges=true` and `no-new-privileges:true` say the same."""
    key, sep, value = str(option).replace("=", ":", 1).partition(":")
    return f"{key}{sep}{value}"


def _shares_host_namespace(hc: Mapping) -> bool:
    return "host" in (hc.get("PidMode"), hc.get("IpcMode"), hc.get("NetworkMode"))


def _cap(cap: str) -> str:
    cap = str(cap).upper()
    return cap[4:] if cap.startswith("CAP_") else cap


def _declared_tmpfs(declared: Mapping) -> dict[str, str]:
    items = declared.get("tmpfs") or ()
    items = [items] if isinstance(items, str) else items
    out = {}
    for item in items:
        path, _, options = str(item).partition(":")
        out[path] = options
    for volume in declared.get("volumes") or ():
        if isinstance(volume, Mapping) and volume.get("type") == "tmpfs":
            out[volume.get("target", "")] = "(mount)"
    return out


def _running_tmpfs(hc: Mapping) -> dict[str, str]:
    out = {path: options or "" for path, options in (hc.get("Tmpfs") or {}).items()}
    for mount in hc.get("Mounts") or ():
        if mount.get("Type") == "tmpfs":
            out[mount.get("Target", "")] = "(mount)"
    return out


def _tmpfs(paths: dict[str, str]) -> str:
    def one(path, options):
        options = ",".join(sorted(o for o in options.split(",") if o)) if options != "(mount)" \
            else options
        return f"{path}:{options}" if options else path

    return _list(one(p, o) for p, o in paths.items())


def _size(n: int) -> str:
    if not n:
        return "none"
    for unit, factor in (("G", 1024 ** 3), ("M", 1024 ** 2), ("K", 1024)):
        if n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n} bytes"


def _running_cpus(hc: Mapping) -> float:
    if hc.get("NanoCpus"):
        return hc["NanoCpus"] / 1e9
    if (hc.get("CpuQuota") or 0) > 0:
        return hc["CpuQuota"] / (hc.get("CpuPeriod") or 100_000)
    return 0.0


def _cpus(value: float) -> str:
    return f"{round(value, 6):g}" if value else "none"


def _pids(value) -> str:
    return str(int(value)) if value and int(value) > 0 else "none"


def _network_mode(declared: str, running: str):
    if declared.startswith(("service:", "container:")) and running.startswith("container:"):
        running = declared  # compose runs `service:x` as container:<id of x's container>
    yield "network_mode", _q(declared), _q(running)


def _declared_ports(declared: Mapping):
    for port in declared.get("ports") or ():
        if isinstance(port, Mapping):
            yield _port(port.get("host_ip") or "", str(port.get("published") or ""),
                        port.get("target"), port.get("protocol") or "tcp")


def _running_ports(hc: Mapping):
    for key, bindings in (hc.get("PortBindings") or {}).items():
        target, _, protocol = key.partition("/")
        for binding in bindings or ():
            yield _port(binding.get("HostIp") or "", binding.get("HostPort") or "", target,
                        protocol or "tcp")


def _port(host_ip: str, published: str, target, protocol: str) -> str:
    host = f"[{host_ip}]" if ":" in host_ip else host_ip
    return f"{host or '*'}:{published or '(any)'}->{target}/{protocol}"


def _declared_networks(declared: Mapping, model):
    for key in declared.get("networks") or {"default": None}:
        network = model.networks.get(key) or {}
        yield network.get("name", key) if network.get("external") else key


def _healthcheck(declared: Mapping, running: Mapping):
    if declared.get("disable"):
        yield "healthcheck.test", "[NONE]", _test(running.get("Test"))
        return
    if "test" in declared:
        test = declared["test"]
        test = ["CMD-SHELL", test] if isinstance(test, str) else test
        yield "healthcheck.test", _test(test), _test(running.get("Test"))
    for key, field in _HEALTH_DURATIONS:
        if declared.get(key) is not None:
            yield f"healthcheck.{key}", _duration(parse_duration(declared[key])), \
                _duration(running.get(field) or 0)
    if declared.get("retries") is not None:
        yield "healthcheck.retries", str(declared["retries"]), str(running.get("Retries") or 0)


def _test(test) -> str:
    return "[" + ", ".join(str(t) for t in test) + "]" if test else "none"


def parse_duration(text) -> int:
    """A Go/compose duration (`1m30s`, `500ms`, or seconds as a number) in nanoseconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text * 1e9)
    text = str(text).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return int(sum(float(n) * _NS[u] for n, u in parts))


def _duration(ns: int) -> str:
    return f"{ns / 1e9:g}s" if ns else "none"


# -- IMG-01 on the declared `image:` lines -------------------------------------------------

def declared_image_pinned(service, floating_tags) -> Finding:
    """IMG-01 for a declared service: its `image:` names an exact version or a digest."""
    if not service.image:
        if service.build:
            return not_applicable(f"service {service.name!r} is built (`build:` without "
                                  "`image:`); IMG-01 judges the image it runs")
        return undecided(f"service {service.name!r} declares neither image nor build")
    finding = images.pinned_reference(service.image, floating_tags)
    return Finding(finding.outcome, f"declared {finding.evidence}" if finding.evidence else "",
                   finding.message)


# -- SEC-03 -------------------------------------------------------------------------------

def secret_files_private(files, min_bytes: int) -> Finding:
    """SEC-03: every named secret file exists, is a regular file, is mode 600 or stricter,
    holds at least `min_bytes`, is no placeholder and is not tracked by git."""
    if not files:
        return not_applicable("neither the compose files nor the policy name a secret file")
    findings = [_secret_file(f, min_bytes) for f in files]
    combined = worst(findings)
    if combined.outcome == "failed":
        bad = [f.message for f in findings if f.outcome == "failed"]
        return failed(f"every secret file should exist and be a regular file, mode 600 or stricter, "
                      f"at least {min_bytes} bytes, no placeholder and not tracked by git "
                      f"({len(bad)} of {len(files)} are not)", combined.evidence)
    return combined


def _secret_file(f, min_bytes: int) -> Finding:
    where = f.shown
    if not f.exists:
        other = f" (nor {f.also_looked_for.name})" if f.also_looked_for else ""
        return failed(f"secret {f.name!r} should exist", f"{where}{other}: missing")
    if f.problem and f.mode is None:
        return undecided(f"{where}: {f.problem}", where)
    if not f.regular:
        return failed(f"secret {f.name!r} should be a regular file", f"{where}: not a regular file")
    problems = []
    if f.mode & 0o077:
        problems.append(f"mode {f.mode:03o} (group/other bits set; should be 600 or stricter)")
    if f.size is not None and f.size < min_bytes:
        problems.append(f"{f.size} bytes (min {min_bytes})")
    if f.placeholder:
        problems.append("a known placeholder value")
    if f.tracked:
        problems.append("tracked by git")
    if problems:
        return failed(f"secret file {where} should be private and strong",
                      f"{where}: {', '.join(problems)}")
    if f.problem:
        return undecided(f"{where}: {f.problem}", f"{where}: mode {f.mode:03o}")
    return passed(f"{where}: mode {f.mode:03o}, {f.size} bytes, untracked")
