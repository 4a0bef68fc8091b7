"""Declared-config checks: the running stack is what the compose files declare (CMP-01),
and the secret files they name are safe (SEC-03).

CMP-01 is the difference of two Settings of one service: the declared one
(compliance/sources/declared.py shapes it as the engine would be given it) and
the running container's inspect data, each setting spelled the same way for
both. A setting the service does not declare is compared with what compose
would then run: the default (read_only false, no capabilities, no limits, ...),
or for `user` the image's own USER. Settings that fall back to the engine's or
image's defaults in ways compose does not fix (a healthcheck inherited from the
image, the IPC mode) are compared only when declared. Environment values are
never compared or shown.
"""

from collections.abc import Mapping

from compliance.checks import network, resources
from compliance.checks.confinement import DEFAULT_CAPABILITIES
from compliance.checks.facts import tmpfs_mounts
from compliance.checks.hardening import NNP, capability, no_new_privileges_setting, security_option
from compliance.model import Stack, Subject
from compliance.outcomes import Finding, failed, not_applicable, passed, undecided, worst

HOST_NAMESPACE_MODES = ("PidMode", "IpcMode", "NetworkMode")
# Podman's spellings of what compose asked for (docs/engines.md): `cap_drop: [ALL]` as the
# list of default capabilities, `no-new-privileges` without `:true` and `:false` as no entry,
# the default pid mode as "private", a pids limit of its own where none is declared, its own
# default options on every tmpfs and, on a read-only container, tmpfs mounts of its own at
# /run and /var/tmp (`read_only_tmpfs`).
PODMAN_TMPFS_OPTIONS = frozenset({"nodev", "nosuid", "rprivate", "rw", "tmpcopyup"})
PODMAN_READ_ONLY_TMPFS = ("/run", "/var/tmp")
PODMAN_PIDS_LIMIT = 2048  # containers.conf's pids_limit, given to a container without one
_HEALTH_FIELDS = (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                  ("start_interval", "StartInterval"))


# -- CMP-01 -------------------------------------------------------------------------------

def matches_declared(container: Subject, declared: Stack | None) -> Finding:
    """CMP-01: every declared hardening setting has the same value in the running container."""
    if declared is None:
        return not_applicable("no --compose-file given: there is no declared config to compare")
    service = next((s for s in declared.containers if s.service == container.service), None)
    if service is None:
        return failed(f"should be declared in the compose files ({declared.source})",
                      f"service {container.service!r} is not declared")
    want, have = settings(service, service), settings(container, service)
    if "user" not in want:  # compose leaves the user to the image: the running image's own USER
        image_user = (container.image.get("Config") or {}).get("User") or ""
        want = {"user (image default)": _q(image_user), **want}
        have = {"user (image default)": _q(container.config.get("User") or ""), **have}
    diffs = [f"{name}: declared {value}, running {have[name]}" for name, value in want.items()
             if value != have[name]]
    if diffs:
        return failed("should run exactly as declared (recreate it from the compose files)",
                      "; ".join(diffs))
    return passed(f"{len(want)} declared settings match: "
                  f"{', '.join(dict.fromkeys(name.split('.')[0] for name in want))}")


def settings(subject: Subject, declared: Subject) -> dict[str, str]:
    """The compared settings of `subject` (declared or running), as display strings; which
    optional ones are compared is what `declared` writes. Both sides are read by this one
    function, so a setting is spelled the same way on both."""
    hc, config = subject.host_config, subject.config
    out = {}
    if declared.config.get("User"):  # `user:`, or its Dockerfile's USER
        out["user"] = _q(config.get("User") or "")
    out["read_only"] = _bool(hc.get("ReadonlyRootfs"))
    out["privileged"] = _bool(hc.get("Privileged"))
    podman = subject.engine is not None and subject.engine.podman
    out["security_opt"] = _list(_security_opts(hc, declared, podman))
    out["cap_add"] = _list(capability(c) for c in hc.get("CapAdd") or ())
    dropped = {capability(c) for c in hc.get("CapDrop") or ()}
    if podman and dropped >= DEFAULT_CAPABILITIES:
        dropped = {"ALL", *(dropped - DEFAULT_CAPABILITIES)}
    out["cap_drop"] = _list(dropped)
    out["tmpfs"] = _tmpfs(subject, declared, podman)
    out["memory"] = resources.size(hc["Memory"]) if hc.get("Memory") else "none"
    cpus = resources.cpus(hc.get("NanoCpus") or 0, hc.get("CpuQuota") or 0, hc.get("CpuPeriod") or 0)
    out["cpus"] = f"{round(cpus, 6):g}" if cpus else "none"
    pids = hc.get("PidsLimit")
    if podman and pids == PODMAN_PIDS_LIMIT and not declared.host_config.get("PidsLimit"):
        pids = None  # Podman's default where none is declared: what compose runs there
    out["pids_limit"] = str(int(pids)) if pids and int(pids) > 0 else "none"
    pid = hc.get("PidMode") or ""
    out["pid"] = _q("" if podman and pid == "private" else pid)
    if declared.host_config.get("IpcMode"):
        out["ipc"] = _q(hc.get("IpcMode") or "")
    if not declared.networks and declared.host_config.get("NetworkMode"):  # `network_mode:`
        out["network_mode"] = _q(_network_mode(hc.get("NetworkMode") or "", declared))
    else:
        out["ports"] = _list(_ports(subject))
        out["networks"] = _list(subject.networks.values())
    if declared.config.get("Healthcheck"):
        out.update(_healthcheck(config.get("Healthcheck") or {}, declared.config.get("Healthcheck") or {}))
    return out


def _q(value) -> str:
    return repr(str(value))


def _bool(value) -> str:
    return "true" if value else "false"


def _list(items) -> str:
    return "[" + ", ".join(sorted(set(items))) + "]"


def _security_opt(option) -> str:
    """`no-new-privileges=true` and `no-new-privileges:true` say the same, and so do the bare
    `no-new-privileges` and every spelling of true the engine accepts (`=1`, `:True`)."""
    try:
        setting = no_new_privileges_setting(str(option))
    except ValueError:
        setting = None
    if setting is not None:
        return f"{NNP}:{str(setting).lower()}"
    key, value = security_option(str(option))
    return f"{key}:{value}" if value else key


def _security_opts(hc: Mapping, declared: Subject, podman: bool = False) -> set[str]:
    """The security options; the engine adds `label=disable` to a container that shares a
    host namespace, so that one is no drift unless declared."""
    options = {_security_opt(o) for o in hc.get("SecurityOpt") or ()}
    written = {_security_opt(o) for o in declared.host_config.get("SecurityOpt") or ()}
    if podman and not any(o.split(":")[0] == NNP for o in options):
        options |= {f"{NNP}:false"} & written  # Podman records no `no-new-privileges:false`
    if "label:disable" not in written and "host" in (hc.get(k) for k in HOST_NAMESPACE_MODES):
        options.discard("label:disable")
    return options


def _tmpfs(subject: Subject, declared: Subject | None = None, podman: bool = False) -> str:
    """Every tmpfs mount (`tmpfs:` and `volumes:` of type tmpfs), options sorted; without
    Podman's own additions where it runs the container."""
    added = PODMAN_TMPFS_OPTIONS if podman else frozenset()

    def spelled(options: str | None) -> str | None:
        return None if options is None else ",".join(
            sorted(o for o in options.split(",") if o and o not in added))

    mounts = {p: spelled(o) for p, o in tmpfs_mounts(subject.attrs).items()}
    if podman and declared is not None:
        written = {p: spelled(o) for p, o in tmpfs_mounts(declared.attrs).items()}
        if subject.host_config.get("ReadonlyRootfs"):
            mounts = {p: o for p, o in mounts.items()
                      if p in written or p not in PODMAN_READ_ONLY_TMPFS or o}
        for path, options in written.items():  # Podman mounts where a symlink leads (/var/run: /run)
            moved = [p for p, o in mounts.items() if p not in written and o == options and options]
            if path not in mounts and len(moved) == 1:
                mounts[path] = mounts.pop(moved[0])
            elif path not in mounts and _kernel_tmpfs(subject, path):
                mounts[path] = options  # the kernel shows the tmpfs; its options, nobody

    def one(path: str, options: str | None) -> str:
        if options is None:
            return f"{path}:(mount)"
        return f"{path}:{options}" if options else path

    return _list(one(path, options) for path, options in mounts.items())


def _kernel_tmpfs(subject: Subject, path: str) -> bool:
    """Whether the kernel's mount table of the main process has a tmpfs at `path` (Podman
    4.3's inspect leaves out a tmpfs below its own /run, such as /var/run/postgresql)."""
    mount = subject.inside.mount_at(path) if subject.inside else None
    return mount is not None and mount.fstype == "tmpfs"


def _network_mode(running: str, declared: Subject) -> str:
    """compose runs `service:x` as `container:<id of x's container>`."""
    mode = declared.host_config.get("NetworkMode") or ""
    if mode.startswith(("service:", "container:")) and running.startswith("container:"):
        return mode
    return running


def _ports(subject: Subject):
    """The published ports as declared: a swarm task's are its service's (`Endpoint.Ports`,
    the routing mesh's included, which no container inspect shows), else `PortBindings`."""
    published = network.bindings(subject)
    source = "Endpoint.Ports" if any(b.source == "Endpoint.Ports" for b in published) \
        else "HostConfig.PortBindings"
    for b in published:
        if b.source == source:
            host = f"[{b.host_ip}]" if ":" in b.host_ip else b.host_ip
            yield f"{host or '*'}:{b.host_port or '(any)'}->{b.port}"


def _healthcheck(running: Mapping, declared: Mapping) -> dict[str, str]:
    """The healthcheck's test (where declared), and each timing the declaration sets."""
    test = tuple(declared.get("Test") or ())
    out = {"healthcheck.test": _test(running.get("Test"))} if test else {}
    if test == ("NONE",):
        return out
    for key, field in _HEALTH_FIELDS:
        if declared.get(field) is not None:
            out[f"healthcheck.{key}"] = f"{running[field] / 1e9:g}s" if running.get(field) else "none"
    if declared.get("Retries") is not None:
        out["healthcheck.retries"] = str(running.get("Retries") or 0)
    return out


def _test(test) -> str:
    return "[" + ", ".join(str(t) for t in test) + "]" if test else "none"


# -- SEC-03 -------------------------------------------------------------------------------

def secret_files_private(files, min_bytes: int, stack: Stack | None = None) -> Finding:
    """SEC-03: every named secret file exists, is a regular file, is mode 600 or stricter,
    holds at least `min_bytes`, is no placeholder and is not tracked by git. On a swarm
    stack each secret the compose files declare also exists in the swarm, as `docker stack
    deploy` names it (`<stack>_<name>`; its value is never read). Judged on the declared
    files alone (no stack, or the declared one), a file that is absent and git-ignored is
    a checkout without its secrets, as a pull request's CI has: skipped, not failed."""
    if not files:
        return not_applicable("neither the compose files nor the policy name a secret file")
    static = stack is None or stack.declared
    findings = [_secret_file(f, min_bytes, static) for f in files]
    if stack is not None and stack.swarm_secrets is not None:
        findings += [_in_swarm(f"{stack.name}_{f.name}", stack) for f in files if f.source == "compose"]
    combined = worst(findings)
    if combined.outcome == "failed":
        bad = [f.message for f in findings if f.outcome == "failed"]
        return failed(f"should keep every secret file a regular file, mode 600 or stricter, "
                      f"at least {min_bytes} bytes, no placeholder and not tracked by git "
                      f"({len(bad)} of {len(files)} are not)", combined.evidence, combined.remediation)
    return combined


def _in_swarm(name: str, stack: Stack) -> Finding:
    if name in stack.swarm_secrets:
        return passed(f"swarm secret {name}: exists")
    return failed(f"should create secret {name} in the swarm (docker stack deploy)",
                  f"swarm secret {name}: not in the swarm of stack {stack.name}",
                  f"Deploy with `docker stack deploy -c COMPOSE_FILE {stack.name}` from the compose "
                  f"files that declare the secret, or create it: `docker secret create {name} FILE`.")


def _generate(where: str) -> str:
    return f"`openssl rand -base64 48 > {where} && chmod 600 {where}`"


def _secret_file(f, min_bytes: int, static: bool = False) -> Finding:
    where = f.displayed
    if not f.exists:
        other = f" (nor {f.also_looked_for.name})" if f.also_looked_for else ""
        if static and f.ignored:
            return not_applicable(f"secret {f.name!r} is not in this checkout: {where} is absent "
                                  f"and ignored by git (it is made where the stack is deployed)")
        return failed(f"secret {f.name!r} should exist", f"{where}{other}: missing",
                      f"Create each missing secret file, e.g. {_generate(where)}, and list it in "
                      f".gitignore.")
    if f.problem and f.mode is None:
        return undecided(f"{where}: {f.problem}", where)
    if not f.regular:
        return failed(f"secret {f.name!r} should be a regular file", f"{where}: not a regular file",
                      f"Replace {where} with a regular file holding the secret, e.g. {_generate(where)}.")
    problems, remedy = [], []
    if f.mode & 0o077:
        problems.append(f"mode {f.mode:03o} (group/other bits set; should be 600 or stricter)")
        remedy.append(f"Make it private: `chmod 600 {where}`.")
    if f.size is not None and f.size < min_bytes:
        problems.append(f"{f.size} bytes (min {min_bytes})")
    if f.placeholder:
        problems.append("a known placeholder value")
    if (f.size is not None and f.size < min_bytes) or f.placeholder:
        remedy.append(f"Replace the value with a random one, e.g. {_generate(where)}, and change it "
                      f"where it is used.")
    if f.tracked:
        problems.append("tracked by git")
        remedy.append(f"Take it out of git (`git rm --cached {where}`, list it in .gitignore) and "
                      f"rotate the secret: its value stays in the history.")
    if problems:
        return failed(f"secret file {where} should be private and strong",
                      f"{where}: {', '.join(problems)}", " ".join(remedy))
    if f.problem:
        return undecided(f"{where}: {f.problem}", f"{where}: mode {f.mode:03o}")
    return passed(f"{where}: mode {f.mode:03o}, {f.size} bytes, untracked")
