"""Hardening checks: what the container may do beyond its own process (HRD-01..04).

HRD-05/06 (what the kernel confines) are in confinement.py, HRD-07 (host paths and
devices) in host_paths.py, HRD-08 (the processes) in processes.py.
"""

import posixpath

from compliance.checks.facts import decided, lookup, mounts, shown, tmpfs_mounts
from compliance.model import SWARM_TASK, Subject
from compliance.outcomes import Finding, failed, not_applicable, passed, undecided, worst
from compliance.policy import ServicePolicy

NNP = "no-new-privileges"
# The spellings of Go's strconv.ParseBool, which the engine applies to `no-new-privileges:<value>`.
_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
# HostConfig key -> the namespace it shares when set to "host"
HOST_NAMESPACES = {"PidMode": "PID", "IpcMode": "IPC", "UTSMode": "UTS", "UsernsMode": "user",
                   "NetworkMode": "network"}


def security_option(option: str) -> tuple[str, str]:
    """One `SecurityOpt` entry as the engine parses it: split at the first `=`, else at the
    first `:` (the deprecated spelling), into key and value (`seccomp:unconfined` ->
    `("seccomp", "unconfined")`); a bare flag has the value ""."""
    sep = "=" if "=" in option else ":"
    key, _, value = option.partition(sep)
    return key, value


def no_new_privileges_setting(option: str) -> bool | None:
    """What one `SecurityOpt` entry says about no-new-privileges: True, False, or None
    when it is about something else. Parsed as the engine parses it, because
    `no-new-privileges:false` contains the flag's name but switches it off. ValueError
    for a value the engine would not accept."""
    if option == NNP:
        return True
    key, value = security_option(option)
    if key != NNP:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"unparseable security option {option!r}")


def engine_default(container: Subject, name: str) -> bool:
    """Whether the container's engine applies security option `name` to every container
    (`docker info` SecurityOptions: `name=no-new-privileges`, `name=seccomp,profile=default`)."""
    return any(entry.split(",", 1)[0] == f"name={name}" for entry in container.engine_security or ())


def kernel_evidence(container: Subject, field: str, value) -> str:
    """A kernel fact as evidence, naming the view that read it."""
    return f"kernel {field}={value} ({container.inside.source('status')})"


def _configured_no_new_privileges(container: Subject) -> Finding:
    """HRD-01 as configured: the container's own entries (the engine applies them in order,
    so the last one that names the flag decides), else the engine's default."""
    options = lookup(container.attrs, "HostConfig.SecurityOpt") or ()
    try:
        settings = [(o, no_new_privileges_setting(o)) for o in options]
    except ValueError as exc:
        return undecided(str(exc))
    named = [(o, s) for o, s in settings if s is not None]
    security_opt = container.term("HostConfig.SecurityOpt")
    if named:
        evidence = shown(security_opt, [o for o, _ in named])
        if not named[-1][1]:
            return failed(f"should set security_opt {NNP}:true, not switch it off", evidence)
        return passed(evidence)
    if engine_default(container, NNP):
        return passed(f"{security_opt} has no {NNP} entry; the engine's default sets it "
                      f"(docker info SecurityOptions name={NNP})")
    if container.kind == SWARM_TASK:
        return failed(f"should run with {NNP}: docker stack deploy ignores security_opt, so set "
                      f"it as the node's engine default (dockerd --{NNP})",
                      f"{security_opt} has no {NNP} entry, and node {container.node}'s "
                      f"docker info SecurityOptions lists no name={NNP}",
                      f"Set `\"{NNP}\": true` in /etc/docker/daemon.json on node {container.node} "
                      f"(dockerd --{NNP}) and restart its engine: a swarm service cannot set "
                      f"security_opt.")
    if container.engine_security is None:
        return failed(f"should declare security_opt {NNP}:true (the engine it will run on, and "
                      "its defaults, cannot be seen before deployment)",
                      f"{security_opt} has no {NNP} entry")
    return failed(f"should set security_opt {NNP}:true",
                  f"{security_opt} has no {NNP} entry, and docker info SecurityOptions "
                  f"lists no name={NNP} (no engine default)")


@decided
def no_new_privileges(container: Subject) -> Finding:
    """HRD-01: no-new-privileges is on. Where the kernel's view of the main process is
    readable it is the proof and decides; otherwise the configuration (and the engine's
    default) does."""
    configured = _configured_no_new_privileges(container)
    kernel = container.kernel
    if kernel is None or kernel.no_new_privs is None:
        return configured
    evidence = f"{kernel_evidence(container, 'NoNewPrivs', int(kernel.no_new_privs))}; {configured.evidence}"
    if not kernel.no_new_privs:
        how = f"; {configured.message}" if configured.outcome == "failed" else ""
        return failed(f"should run with {NNP} (the kernel says the main process has it off){how}",
                      evidence, configured.remediation)
    return passed(evidence)


def _boolean(container: Subject, path: str, wanted: bool, message: str) -> Finding:
    """A boolean setting that must have one value; anything but a boolean cannot decide."""
    value = lookup(container.attrs, path)
    evidence = shown(container.term(path), value)
    if not isinstance(value, bool):
        return undecided(f"{container.term(path)} is not a boolean", evidence)
    return passed(evidence) if value is wanted else failed(message, evidence)


@decided
def read_only_rootfs(container: Subject) -> Finding:
    """HRD-02 (configuration): the root filesystem is mounted read-only."""
    return _boolean(container, "HostConfig.ReadonlyRootfs", True,
                    "should mount the root filesystem read-only (read_only: true)")


def _tmpfs_paths(container: Subject) -> dict[str, str]:
    """Every tmpfs mount point -> where the engine reports it (`--tmpfs` vs `--mount`), in
    the container's terms."""
    return {path: container.term("HostConfig.Tmpfs" if options is not None else "Mounts[] tmpfs")
            for path, options in tmpfs_mounts(container.attrs).items()}


def _other_mount(container: Subject, path: str) -> str:
    """How a non-tmpfs path is mounted, for the evidence ("bind mount", "not a mount")."""
    for mount in mounts(container.attrs):
        if posixpath.normpath(mount.get("Destination", "")) == path:
            return f"{mount.get('Type', 'unknown')} mount, not tmpfs"
    return "not a mount (on the root filesystem)"


@decided
def writable_paths_tmpfs(container: Subject, policy: ServicePolicy) -> Finding:
    """HRD-03: every path the policy lists as writable for the service is a tmpfs mount.
    Where the engine host shows the main process's mount table, the kernel decides (a
    tmpfs mounted at that very path); otherwise the configuration does."""
    if not policy.writable_paths:
        return not_applicable(f"the policy lists no writable paths for service {container.service}")
    inside = container.inside
    kernel = inside is not None and inside.mounts is not None
    tmpfs = _tmpfs_paths(container)
    findings = []
    for path in map(posixpath.normpath, policy.writable_paths):
        if kernel:
            mount = inside.mount_at(path)
            leads = inside.resolved.get(path, path)
            shown_path = path if leads == path else f"{path} (-> {leads})"
            seen = f"{shown_path}: kernel mountinfo {mount or 'no mount at this path'}"
            findings.append(passed(seen) if mount and mount.fstype == "tmpfs"
                            else failed(f"should mount {path} as tmpfs", seen))
        elif path in tmpfs:
            findings.append(passed(f"{path}: tmpfs ({tmpfs[path]})"))
        else:
            findings.append(failed(f"should mount {path} as tmpfs",
                                   f"{path}: {_other_mount(container, path)}"))
    finding = worst(findings)
    if kernel:
        return Finding(finding.outcome, f"{finding.evidence} ({inside.source('mountinfo')})",
                       finding.message, remediation=finding.remediation)
    return finding


def capability(name: str) -> str:
    """`cap_net_admin`, `CAP_NET_ADMIN` and `NET_ADMIN` are one capability."""
    name = name.strip().upper()
    return name.removeprefix("CAP_")


def _capabilities(container: Subject, allowed) -> Finding:
    """Added capabilities beyond the allow-list; compared normalized, as the engine stores
    `cap_add: [NET_ADMIN]` as `CAP_NET_ADMIN`."""
    added = lookup(container.attrs, "HostConfig.CapAdd") or ()
    evidence = shown(container.term("HostConfig.CapAdd"), added or None)
    extra = sorted({capability(c) for c in added} - {capability(c) for c in allowed})
    if extra:
        return failed(f"should add no capability outside the policy's allow-list "
                      f"(added: {', '.join(extra)})", evidence)
    return passed(evidence)


def _host_namespaces(container: Subject) -> Finding:
    """PID, IPC, UTS, user or network namespace shared with the host (`container:<id>` is
    not the host); the kernel's word too where the engine host was looked at, since an
    engine may misreport a mode (Podman 4.3 says IpcMode=shareable for ipc: host). Where
    it may have and the kernel's word is missing (the container is not running), the IPC
    namespace is undecided, never passed."""
    inside, engine = container.inside, container.engine
    modes = {key: lookup(container.attrs, f"HostConfig.{key}") for key in HOST_NAMESPACES}
    evidence = ", ".join(shown(container.term(f"HostConfig.{key}"), value) for key, value in modes.items())
    kernel = {"ipc": "IpcMode", "uts": "UTSMode"}
    read = inside is not None and inside.host_namespaces is not None
    if engine is not None and engine.podman and modes["IpcMode"] == "shareable" and not read:
        return undecided(f"cannot tell whether the container shares the host's IPC namespace: "
                         f"{engine.name} reports IpcMode=shareable for ipc: host too, and the "
                         "kernel's namespaces can be read only while the container runs", evidence)
    by_kernel = {kernel[k] for k in (inside.host_namespaces or ()) if k in kernel} if inside else set()
    if by_kernel - {k for k, v in modes.items() if v == "host"}:
        evidence += (f"; kernel: /proc/<pid>/ns/{{{','.join(sorted(inside.host_namespaces))}}} "
                     f"are the host's ({inside.view})")
    shared = [key for key, value in modes.items() if value == "host" or key in by_kernel]
    if shared:
        names = ", ".join(HOST_NAMESPACES[k] for k in shared)
        return failed(f"should not share the host's {names} namespace", evidence)
    return passed(evidence)


def _cgroup_parent(container: Subject) -> Finding:
    """CIS 5.25: a `cgroup_parent` moves the container out of the engine's cgroup tree, and
    with it out of the limits the engine manages."""
    parent = lookup(container.attrs, "HostConfig.CgroupParent")
    evidence = shown(container.term("HostConfig.CgroupParent"), parent)
    if parent:
        return failed("should not set cgroup_parent (the container leaves the engine's cgroup tree)",
                      evidence)
    return passed(evidence)


def _exposes_socket(source: str) -> bool:
    """The socket itself, or a directory it lies in (`/var/run`, `/run`, `/`)."""
    source = posixpath.normpath(source) if source else ""
    return bool(source) and any(sock == source or sock.startswith(source.rstrip("/") + "/")
                                for sock in DOCKER_SOCKETS)


def _docker_socket(attrs) -> Finding:
    """The engine's socket, through a mount (`Mounts[]`) or a bind (`HostConfig.Binds`)."""
    sources = [m.get("Source", "") for m in mounts(attrs)]
    sources += [bind.split(":", 1)[0] for bind in lookup(attrs, "HostConfig.Binds") or ()]
    exposed = sorted({s for s in sources if _exposes_socket(s)})
    if exposed:
        return failed("should not mount the docker socket",
                      f"docker socket mounted from {', '.join(exposed)}")
    return passed("no docker socket mounted")


@decided
def no_host_privileges(container: Subject, policy: ServicePolicy) -> Finding:
    """HRD-04: not privileged, no capability beyond the allow-list, no host PID/IPC/UTS/user/
    network namespace, no cgroup parent, no docker socket. Each is a way to control the host
    from the container."""
    return worst([_boolean(container, "HostConfig.Privileged", False, "should not run privileged"),
                  _capabilities(container, policy.cap_add_allowed), _host_namespaces(container),
                  _cgroup_parent(container), _docker_socket(container.attrs)])
