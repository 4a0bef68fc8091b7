"""The declared services as Subjects: each compose service's settings in the shape the
engine's inspect data gives them once compose has created its container.

So one check judges a declared service and a running container alike: compose's
`read_only: true` is `HostConfig.ReadonlyRootfs=true` here as it is in `docker
inspect`. Only what the declaration fixes is filled in; what depends on the image
or the engine (its own USER and HEALTHCHECK, the engine's defaults, the real
uid) is left empty for the checks to call undecidable. A `build:` service's
Dockerfile gives the image's USER and HEALTHCHECK and the images it is built on
(compliance/sources/dockerfile.py).

Environment values are taken as written (`${VAR}` kept: compose_files.Model), and
every compose key keeps its `file:line` in the Subject's `origin` (the one file
that wrote the winning value: an included file, the file a service extends, the
last override), which is how a declared result names the line to fix. A service
behind a profile is judged like any other; its test id names the profile.
Nothing here judges.
"""

import posixpath
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from compliance import controls
from compliance.model import DECLARED, Location, Stack, Subject, freeze
from compliance.policy import parse_size
from compliance.sources import dockerfile
from compliance.sources.compose_files import Model, display_path

SECRETS_DIR = "/run/secrets"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)  # a build context URL
# What a declared service calls the settings the checks read by inspect path: the compose
# keys that set them (Subject.term), so its evidence reads `read_only=false`, not
# `HostConfig.ReadonlyRootfs=false`.
TERMS = MappingProxyType({
    "HostConfig.ReadonlyRootfs": "read_only", "HostConfig.Privileged": "privileged",
    "HostConfig.SecurityOpt": "security_opt", "HostConfig.CapAdd": "cap_add",
    "HostConfig.CapDrop": "cap_drop", "HostConfig.Tmpfs": "tmpfs", "HostConfig.Memory": "memory",
    "HostConfig.NanoCpus": "cpus", "HostConfig.CpuQuota": "cpu_quota",
    "HostConfig.CpuPeriod": "cpu_period", "HostConfig.CpuShares": "cpu_shares",
    "HostConfig.PidsLimit": "pids_limit", "HostConfig.RestartPolicy": "restart",
    "HostConfig.PidMode": "pid", "HostConfig.IpcMode": "ipc", "HostConfig.UTSMode": "uts",
    "HostConfig.UsernsMode": "userns_mode", "HostConfig.NetworkMode": "network_mode",
    "HostConfig.CgroupParent": "cgroup_parent", "HostConfig.Devices": "devices",
    "HostConfig.PortBindings": "ports", "Config.User": "user", "Config.Healthcheck": "healthcheck",
    "image Config.Healthcheck": "Dockerfile HEALTHCHECK", "Mounts[] tmpfs": "volumes (tmpfs)",
})


class DeclaredError(Exception):
    """A declared service cannot be read (its Dockerfile); the message names the file."""


def location(subject, control_id: str) -> Location | None:
    """Where a declared result points: the line of the first key that decides the control
    (its catalog `declared_keys`) the declaration writes, else the service's own line (the
    first file's for the stack). A stack control's keys are top-level sections, a service
    control's the service's keys: each is looked for only where it can be written."""
    control = controls.describe(control_id)
    return subject.locate(control.declared_keys
                          if control.stack_level == isinstance(subject, Stack) else ())


def stack(model: Model) -> Stack:
    """Every declared service as a Subject, and the declared networks, in one Stack."""
    first = _first_line(model)
    subjects = tuple(subject(name, model) for name in sorted(model.services))
    written = {**(model.written.get("networks") or {}), **model.networks}
    networks = {key: freeze({"Name": (spec or {}).get("name", key),
                             "Internal": bool((spec or {}).get("internal")),
                             "External": bool((spec or {}).get("external"))})
                for key, spec in written.items()}
    origin = {section: where for section in ("networks", "secrets", "services")
              if (where := model.locate((section,)))}
    return Stack(model.name, subjects, MappingProxyType(networks), "", "",
                 origin=MappingProxyType(origin), location=first,
                 source=f"{model.describe()}, {model.profiles}", project=model.project)


def subject(name: str, model: Model) -> Subject:
    """One declared service as a Subject; `DeclaredError` names the service (or its
    Dockerfile) when a value cannot be read."""
    try:
        return _subject(name, model)
    except (ValueError, TypeError) as exc:
        raise DeclaredError(f"service {name!r} in {model.describe()}: {exc}") from None


def _subject(name: str, model: Model) -> Subject:
    config = model.services[name].config
    origin = {".".join(map(str, path)): where for path, where in model.written_keys(name).items()}
    built = _dockerfile(config)
    image_config: dict = {}
    if built.user:
        image_config["User"] = built.user[0]
        origin["Dockerfile USER"] = built.user[1]
    if built.healthcheck:
        image_config["Healthcheck"] = {"Test": list(built.healthcheck[0])}
        origin["Dockerfile HEALTHCHECK"] = built.healthcheck[1]
    networks = _networks(config, model)
    attrs = {
        "Id": f"declared:{name}",
        "Name": f"/{name}",
        "Image": config.get("image") or "",
        "Config": {
            "Image": config.get("image") or "",
            "User": str(config["user"]) if config.get("user") is not None else image_config.get("User", ""),
            "Env": [f"{k}={v}" for k, v in sorted(model.written_environment(name).items())],
            "Healthcheck": _healthcheck(config.get("healthcheck")),
            "Labels": {},
        },
        "HostConfig": _host_config(config, networks),
        "Mounts": [*_volumes(config), *_secrets(config, model)],
        "AppArmorProfile": "",
        "State": {"Status": "declared", "Running": False},
        "NetworkSettings": {"Networks": {engine: {} for engine in networks}, "Ports": {}},
    }
    return Subject(
        service=name, name=name, attrs=freeze(attrs), image=freeze({"Config": image_config}),
        networks=MappingProxyType(networks), process=None,
        test_id=test_id(name, config.get("profiles"), model.project), engine_security=None,
        kind=DECLARED, origin=MappingProxyType(origin), terms=TERMS, bases=built.bases,
        location=model.service_location(name) or model.locate(("include",)) or _first_line(model),
        project=model.project)


def test_id(name: str, profiles, project: str | None = None) -> str:
    """A declared service's test id: its name, and the profiles it is behind, if any
    (`debug(profile=debug)`): judged like any other, but marked so, in every report. One of
    several projects leads with the project's name (`api:db`), so `-k api` picks a project."""
    own = f"{name}(profile={'|'.join(map(str, profiles))})" if profiles else name
    return f"{project}:{own}" if project else own


def _first_line(model: Model) -> Location:
    """Where a result no key decides points when nothing nearer is known: the first file."""
    return Location(model.sources[0].path if model.sources else display_path(model.files[0]), 1)


def _dockerfile(config: Mapping) -> dockerfile.Stage:
    build = config.get("build")
    if not isinstance(build, Mapping) or not build.get("context") or build.get("dockerfile_inline"):
        return dockerfile.Stage()
    if _REMOTE.match(str(build["context"])):
        return dockerfile.Stage()  # a git or https context: nothing here to read
    path = Path(build["context"]) / (build.get("dockerfile") or "Dockerfile")
    try:
        return dockerfile.read(path, display_path(path), build.get("target"), build.get("args"))
    except dockerfile.DockerfileError as exc:
        raise DeclaredError(str(exc)) from None


def _healthcheck(declared: Mapping | None) -> dict | None:
    """`healthcheck:` as Config.Healthcheck (durations in nanoseconds), None if absent."""
    if not declared:
        return None
    if declared.get("disable"):
        return {"Test": ["NONE"]}
    test = declared.get("test")
    test = ["CMD-SHELL", test] if isinstance(test, str) else list(test or [])
    out = {"Test": test}
    for key, field in (("interval", "Interval"), ("timeout", "Timeout"),
                       ("start_period", "StartPeriod"), ("start_interval", "StartInterval")):
        if declared.get(key) is not None:
            out[field] = parse_duration(declared[key])
    if declared.get("retries") is not None:
        out["Retries"] = int(declared["retries"])
    return out


def _limits(config: Mapping) -> Mapping:
    return ((config.get("deploy") or {}).get("resources") or {}).get("limits") or {}


def _host_config(config: Mapping, networks: Mapping) -> dict:
    limits = _limits(config)
    memory = limits.get("memory") or config.get("mem_limit")
    cpus = limits.get("cpus") or config.get("cpus")
    pids = limits.get("pids") or config.get("pids_limit")
    return {
        "ReadonlyRootfs": bool(config.get("read_only")),
        "Privileged": bool(config.get("privileged")),
        "SecurityOpt": [str(o) for o in config.get("security_opt") or ()] or None,
        "CapAdd": [str(c) for c in config.get("cap_add") or ()] or None,
        "CapDrop": [str(c) for c in config.get("cap_drop") or ()] or None,
        "Tmpfs": _tmpfs(config.get("tmpfs")),
        "Memory": parse_size(memory) if memory else 0,
        "NanoCpus": int(float(cpus) * 1e9) if cpus else 0,
        "CpuQuota": int(config.get("cpu_quota") or 0),
        "CpuPeriod": int(config.get("cpu_period") or 0),
        "CpuShares": int(config.get("cpu_shares") or 0),
        "PidsLimit": int(pids) if pids else None,
        "RestartPolicy": _restart(config),
        "PidMode": config.get("pid") or "",
        "IpcMode": config.get("ipc") or "",
        "UTSMode": config.get("uts") or "",
        "UsernsMode": config.get("userns_mode") or "",
        "NetworkMode": config.get("network_mode") or next(iter(networks), ""),
        "CgroupParent": config.get("cgroup_parent") or "",
        "Devices": [_device(d) for d in config.get("devices") or ()],
        "PortBindings": _ports(config.get("ports") or ()),
        "Binds": None,
    }


def _tmpfs(declared) -> dict:
    items = [declared] if isinstance(declared, str) else declared or ()
    return {path: options for path, _, options in (str(i).partition(":") for i in items)}


def _restart(config: Mapping) -> dict:
    """`restart:` as RestartPolicy; without it, compose takes `deploy.restart_policy`."""
    restart = config.get("restart")
    if restart:
        name, _, count = str(restart).partition(":")
        return {"Name": name, "MaximumRetryCount": int(count) if count.isdigit() else 0}
    policy = (config.get("deploy") or {}).get("restart_policy") or {}
    condition = policy.get("condition")
    if condition in ("on-failure", "on_failure"):
        return {"Name": "on-failure", "MaximumRetryCount": int(policy.get("max_attempts") or 0)}
    if condition == "any":
        return {"Name": "always", "MaximumRetryCount": 0}
    return {"Name": "no", "MaximumRetryCount": 0}


def _device(device) -> dict:
    if isinstance(device, Mapping):
        source, target = device.get("source", ""), device.get("target") or device.get("source", "")
        return {"PathOnHost": source, "PathInContainer": target,
                "CgroupPermissions": device.get("permissions") or "rwm"}
    parts = str(device).split(":")
    return {"PathOnHost": parts[0], "PathInContainer": parts[1] if len(parts) > 1 else parts[0],
            "CgroupPermissions": parts[2] if len(parts) > 2 else "rwm"}


def _ports(ports) -> dict:
    bindings: dict[str, list] = {}
    for port in ports:
        if isinstance(port, Mapping):
            key = f"{port.get('target')}/{port.get('protocol') or 'tcp'}"
            bindings.setdefault(key, []).append({"HostIp": port.get("host_ip") or "",
                                                 "HostPort": str(port.get("published") or "")})
    return bindings


def _volumes(config: Mapping) -> list[dict]:
    mounts = []
    for volume in config.get("volumes") or ():
        if not isinstance(volume, Mapping):
            continue
        kind = volume.get("type") or "volume"
        mount = {"Type": kind, "Destination": volume.get("target") or "",
                 "RW": not volume.get("read_only"),
                 "Propagation": (volume.get("bind") or {}).get("propagation") or ""}
        if kind == "bind":
            mount["Source"] = volume.get("source") or ""
        elif kind == "volume":
            mount.update(Name=volume.get("source") or "", Source="")
        mounts.append(mount)
    return mounts


def _secrets(config: Mapping, model: Model) -> list[dict]:
    """Each `secrets:` entry as the bind compose makes of it at /run/secrets/<target>."""
    mounts = []
    for entry in config.get("secrets") or ():
        source = entry.get("source") if isinstance(entry, Mapping) else str(entry)
        target = (entry.get("target") if isinstance(entry, Mapping) else None) or source
        spec = model.secrets.get(source) or {}
        mounts.append({"Type": "bind", "Source": str(spec.get("file") or ""),
                       "Destination": posixpath.join(SECRETS_DIR, target), "RW": False,
                       "Propagation": ""})
    return mounts


def _networks(config: Mapping, model: Model) -> dict[str, str]:
    """Engine network name -> compose network name, as compose would attach the service."""
    if config.get("network_mode"):
        return {}
    out = {}
    for key in config.get("networks") or {"default": None}:
        network = model.networks.get(key) or {}
        out[network.get("name") or f"{model.name}_{key}"] = key
    return out


def parse_duration(text) -> int:
    """A Go/compose duration (`1m30s`, `500ms`, or seconds as a number) in nanoseconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return int(text * 1e9)
    text = str(text).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return int(sum(float(n) * _NS[u] for n, u in parts))
