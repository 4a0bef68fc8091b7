"""The control catalog: the one source of truth for what each control is.

IDs are stable (auditors cite them; never renumber). Test markers, the
severity/area markers, the reports and the checklist all read from here.
A control enters the catalog together with its test: at collection every
catalog control must have one (see plugin.py).
"""

from dataclasses import dataclass

SEVERITIES = ("low", "medium", "high", "critical")
CIS_VERSION = "CIS Docker Benchmark v1.6.0"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    severity: str
    checklist: str
    cis: str
    rationale: str
    remediation: str
    stack_level: bool = False
    live: bool = False  # judged by live traffic probes (NET-04's flows, NET-05's TLS)
    # the declaration can settle it: `--static-only` judges it on the declared services (the
    # contract's "Declared configuration"; NET-05 by its DSN half, HRD-02 but its live test)
    static: bool = False
    # the declaration's keys that decide it, in the order a declared result's location is
    # looked for (the first one written; else the service's own line): the service's compose
    # keys (or its Dockerfile's `Dockerfile USER`); for a stack control, top-level sections
    declared_keys: tuple[str, ...] = ()
    # the kind of live observation its live test reads (compliance/sources/probes KINDS)
    probe: str = ""

    @property
    def area(self) -> str:
        """The marker area: `IMG-01` -> `img`."""
        return self.id.split("-")[0].lower()


_SECURITY = "Security constraints applied"
_SECRETS = "Secrets managed via Docker secrets"
_NETWORK = "Network isolation configured"
_LIMITS = "Resource limits set"
_HEALTH = "Health checks enabled"

CATALOG: dict[str, Control] = {
    c.id: c
    for c in (
        Control(
            "IMG-01", "Image reference is pinned", "high",
            "All images use pinned versions", "",
            "A floating tag (none, latest, stable) changes what runs without a change "
            "anyone reviewed; a pinned tag or digest makes the release reproducible.",
            "Reference the image by an exact version tag or by digest (image@sha256:...).",
            static=True, declared_keys=("image", "build"),
        ),
        Control(
            "IMG-02", "Image has a clean, fresh vulnerability scan", "high",
            "Vulnerability scan completed", "4.4",
            "Only a recent scan of exactly the running image (its ID or digest, not just "
            "its tag) shows that no known CRITICAL or HIGH vulnerability ships with it.",
            "Scan the running image (`trivy image --format json --output reports/trivy/NAME.json "
            "IMAGE`), rebuild on patched packages until no forbidden finding remains, rescan "
            "within the policy's maximum age; accept a finding only in .trivyignore with exp:.",
        ),
        Control(
            "IMG-03", "Image is not older than the update schedule allows", "low",
            "Vulnerability scan completed", "4.4",
            "Base images get monthly patch updates; an image built longer ago than the "
            "schedule allows runs packages that missed at least one of them.",
            "Rebuild the image on the current patch release of its base and redeploy.",
        ),
        Control(
            "IMG-04", "Image build history holds no secrets and no unverified remote ADD", "medium",
            _SECRETS, "4.9, 4.10",
            "Build arguments and ENV values are stored in the image's history for anyone who "
            "can pull it; ADD of a URL fetches content nobody verified.",
            "Pass build secrets with `RUN --mount=type=secret`, not ARG or ENV; fetch remote "
            "files with a checksum-verified download (or COPY them) instead of ADD <url>.",
        ),
        Control(
            "IMG-05", "No setuid/setgid files beyond the policy's allow-list", "low",
            _SECURITY, "4.8",
            "A setuid or setgid program is a way from the container's user to root (or "
            "another group) inside the container.",
            "Remove the setuid/setgid bits in the image build (`find / -xdev -perm /6000 -type f "
            "-exec chmod a-s {} +`), or list the needed paths in `setuid_allowed`.",
        ),
        Control(
            "USR-01", "Container runs as a non-root user", "high",
            "Containers run as non-root users", "4.1",
            "A process running as root inside the container is root on the host's "
            "kernel objects it can reach; a container escape then starts as root.",
            "Set `user:` in compose (e.g. \"1001:1001\") or USER in the Dockerfile, and "
            "make the image's files usable by that user.",
            static=True, declared_keys=("user", "Dockerfile USER", "build"),
        ),
        Control(
            "HRD-01", "no-new-privileges is set", "high",
            _SECURITY, "5.26",
            "Without no-new-privileges a setuid binary in the image can raise the "
            "process's privileges.",
            "Add `security_opt: [\"no-new-privileges:true\"]` to the service.",
            static=True, declared_keys=("security_opt",),
        ),
        Control(
            "HRD-02", "Root filesystem is read-only", "high",
            _SECURITY, "5.13",
            "A writable root filesystem lets an attacker change binaries and "
            "configuration of the running service.",
            "Set `read_only: true` and mount writable paths as tmpfs.",
            static=True, declared_keys=("read_only",), probe="writes",
        ),
        Control(
            "HRD-03", "Writable paths are tmpfs mounts", "medium",
            "Security constraints applied (tmpfs)", "",
            "Paths the service must write to are in-memory tmpfs mounts, so nothing "
            "written survives a restart and the root filesystem can stay read-only.",
            "List each writable path under `tmpfs:` in compose.",
            static=True, declared_keys=("tmpfs", "volumes"),
        ),
        Control(
            "HRD-04", "Not privileged, no added capabilities, no host namespaces", "high",
            _SECURITY, "5.4, 5.5, 5.10, 5.16, 5.17, 5.21, 5.25, 5.31, 5.32",
            "Privileged mode, extra capabilities, host PID/IPC/UTS/user/network namespaces, a "
            "cgroup parent outside the engine's tree and the docker socket each hand the "
            "container control over the host.",
            "Remove `privileged`, `cap_add`, `pid: host`, `ipc: host`, `uts: host`, "
            "`userns_mode: host`, `network_mode: host`, `cgroup_parent` and any docker.sock mount.",
            static=True, declared_keys=("privileged", "cap_add", "pid", "ipc", "uts", "userns_mode",
                                        "network_mode", "cgroup_parent", "volumes"),
        ),
        Control(
            "HRD-05", "Security profiles are not disabled (seccomp, AppArmor, SELinux)", "high",
            _SECURITY, "5.2, 5.3, 5.22",
            "The seccomp filter, the AppArmor profile and the SELinux label confine what the "
            "process may ask of the kernel; switching one off widens the attack surface of "
            "the host kernel the container shares.",
            "Remove `seccomp=unconfined`, `apparmor=unconfined` and `label=disable` from "
            "`security_opt` (and `privileged`, which disables them all).",
            static=True, declared_keys=("security_opt", "privileged"),
        ),
        Control(
            "HRD-06", "Capabilities are dropped to what the service needs", "medium",
            _SECURITY, "5.4",
            "The engine's default capability set (CHOWN, DAC_OVERRIDE, NET_RAW, SETUID, ...) is "
            "more than most services need; every capability kept is one an exploit can use.",
            "Set `cap_drop: [ALL]` and add back in `cap_add` only what the service needs "
            "(listed in the policy's `cap_add_allowed`).",
            # cap_add, when written, widens the set
            static=True, declared_keys=("cap_add", "cap_drop", "privileged"),
        ),
        Control(
            "HRD-07", "No sensitive host paths, host devices or shared mount propagation", "high",
            _SECURITY, "5.6, 5.18, 5.20",
            "A bind mount of the host's system directories, a host device or a mount that "
            "propagates back to the host lets the container change or read the host itself.",
            "Remove binds of /, /boot, /dev, /etc, /lib, /proc, /sys and /usr (mount single "
            "files read-only where needed), remove `devices:` the policy does not allow, and "
            "do not use shared or rshared propagation.",
            static=True, declared_keys=("volumes", "devices"),
        ),
        Control(
            "HRD-08", "No remote-login daemon runs in the container", "medium",
            _SECURITY, "5.7",
            "An sshd or telnetd inside a container is a second way in that bypasses the "
            "engine's access control and is rarely patched with the service.",
            "Remove the daemon from the image; use `docker exec` for maintenance.",
        ),
        Control(
            "RES-01", "Memory limit is set and within policy", "medium",
            _LIMITS, "5.11",
            "Without a memory limit one container can exhaust the host's memory and "
            "take every other service down.",
            "Set `deploy.resources.limits.memory` (or `mem_limit`) within the policy maximum.",
            static=True, declared_keys=("deploy.resources.limits.memory", "mem_limit", "deploy"),
        ),
        Control(
            "RES-02", "CPU limit is set and within policy", "medium",
            _LIMITS, "5.12",
            "Without a hard CPU limit one container can starve the others; CPU shares "
            "are only a weight and limit nothing on an idle host.",
            "Set `deploy.resources.limits.cpus` (or `cpus`) within the policy maximum.",
            static=True,
            declared_keys=("deploy.resources.limits.cpus", "cpus", "cpu_quota", "deploy"),
        ),
        Control(
            "RES-03", "PIDs limit is set", "low",
            _LIMITS, "5.29",
            "A PIDs limit stops a fork bomb inside the container from exhausting the "
            "host's process table.",
            "Set `pids_limit` (or `deploy.resources.limits.pids`).",
            static=True, declared_keys=("deploy.resources.limits.pids", "pids_limit", "deploy"),
        ),
        Control(
            "RES-04", "Restart policy is bounded", "low",
            _LIMITS, "5.15",
            "A container that restarts forever turns a crash into a loop that keeps using "
            "the host's CPU, memory and logs, and hides the failure.",
            "Use `restart: \"on-failure:N\"` with N at most the policy's `restart_max_retries` "
            "(or `restart: \"no\"`).",
            static=True, declared_keys=("restart", "deploy.restart_policy"),
        ),
        Control(
            "HLT-01", "A healthcheck is defined", "medium",
            _HEALTH, "4.6",
            "Without a healthcheck the engine and the operators cannot tell a hung "
            "service from a working one.",
            "Add a `healthcheck:` that exercises the service (not just the process).",
            static=True, declared_keys=("healthcheck", "Dockerfile HEALTHCHECK", "build"),
        ),
        Control(
            "HLT-02", "The container is running and healthy", "high",
            _HEALTH, "5.27",
            "A stopped, restarting or unhealthy container is a service that is not "
            "delivering what the checklist assumes.",
            "Fix the service until its healthcheck passes; start every declared service.",
        ),
        Control(
            "NET-01", "Published ports bind to allowed host addresses only", "high",
            "Ports bound to localhost only", "5.14",
            "A port published on 0.0.0.0 is reachable from every network the host is "
            "on, past the reverse proxy and its TLS.",
            "Publish as \"127.0.0.1:HOST:CONTAINER\"; never use network_mode: host.",
            static=True, declared_keys=("ports", "network_mode"),
        ),
        Control(
            "NET-02", "Attached only to the networks the policy allows", "high",
            _NETWORK, "",  # controls.md's table gives no CIS number, though the rule covers 5.30
            "Each extra network a container joins is a path an attacker can use to "
            "reach services it should never talk to; the engine's default bridge is one flat "
            "network shared with every container started without a network.",
            "Attach the service only to the networks the policy lists for it, never to the "
            "default `bridge`.",
            static=True, declared_keys=("networks", "network_mode"),
        ),
        Control(
            "NET-03", "Internal networks are internal", "high",
            _NETWORK, "",
            "An internal network has no route out of the host; the database and "
            "backend networks must not reach the internet or be reached from it.",
            "Declare the network with `internal: true` in compose.",
            stack_level=True, static=True, declared_keys=("networks",),
        ),
        Control(
            "NET-04", "Denied flows are unreachable, allowed flows work", "high",
            _NETWORK, "",
            "Network isolation is proven, not assumed: from inside each source container a "
            "denied connection (e.g. frontend to the database) must fail, and an allowed "
            "one must work, so a block is the network's doing and not a broken probe.",
            "Attach each service only to the networks its allowed flows need; keep the "
            "database on an internal network the frontend does not join.",
            stack_level=True, live=True, probe="flows",
        ),
        Control(
            "NET-05", "Database connections use TLS", "high",
            _NETWORK, "",
            "Credentials and data cross the database network in clear text unless the "
            "server offers TLS and every client insists on it.",
            "Enable ssl in PostgreSQL (server certificate and key) and use "
            "sslmode=require, verify-ca or verify-full in every client DSN.",
            stack_level=True, live=True, probe="tls",
            static=True, declared_keys=("services",),  # by its clients' DSNs
        ),
        Control(
            "NET-06", "No privileged host ports unless the policy allows them", "medium",
            _NETWORK, "5.8",
            "Host ports below 1024 are the host's privileged services (ssh, http, https); a "
            "container taking one either impersonates such a service or needed privileges "
            "it should not have.",
            "Publish on a host port of 1024 or above, or list the port in the service's "
            "`privileged_ports_allowed` (a public proxy's 443).",
            static=True, declared_keys=("ports", "network_mode"),
        ),
        Control(
            "SEC-01", "Required Docker secrets are mounted", "high",
            _SECRETS, "",
            "Credentials come from Docker secrets files, not from the environment or "
            "the image.",
            "Declare the secret in compose and list it under the service's `secrets:`.",
            static=True, declared_keys=("secrets",),
        ),
        Control(
            "SEC-02", "No plaintext secrets in the environment", "critical",
            _SECRETS, "4.10",
            "Environment variables are visible to anyone who can inspect the container "
            "and leak into logs and crash reports.",
            "Move the value into a Docker secret and pass its path (e.g. DB_PASSWORD_FILE="
            "/run/secrets/postgres_password).",
            static=True, declared_keys=("environment", "env_file"),
        ),
        Control(
            "SEC-03", "Secret files are private and strong", "high",
            "Secrets generation (permissions 600)", "",
            "A secret file others can read, a short or placeholder value, or one "
            "committed to git is a credential already given away.",
            "Create each missing secret from random bytes (`openssl rand -base64 48 > "
            "secrets/NAME && chmod 600 secrets/NAME`), keep secret files out of git "
            "(.gitignore), and chmod 600 the rest.",
            stack_level=True, static=True, declared_keys=("secrets",),
        ),
        Control(
            "CMP-01", "Running container matches its declared compose config", "medium",
            "(all items: what was declared is what runs)", "",
            "Every other control is only as good as the promise that the reviewed "
            "compose files are what runs; a stack started from an older file or changed "
            "by hand breaks that promise silently.",
            "Recreate the service from the reviewed files (`docker compose up -d "
            "--force-recreate SERVICE`) and make every change in the compose files.",
        ),
    )
}

# The seed's security checklist (controls.md, last section), in its order. An
# item is ticked only when each control under it passed (or was waived) in the
# run and none failed or errored: a deselected or only-skipped control proves nothing, and
# an item whose evaluations were all skipped (or that has none) shows as not evaluated.
CHECKLIST: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("All images use pinned versions", ("IMG-01",)),
    ("Containers run as non-root users", ("USR-01",)),
    (_SECURITY, ("HRD-01", "HRD-02", "HRD-03", "HRD-04", "HRD-05", "HRD-06", "HRD-07", "HRD-08",
                  "IMG-05")),
    (_SECRETS, ("SEC-01", "SEC-02", "SEC-03", "IMG-04")),
    ("Vulnerability scan completed", ("IMG-02", "IMG-03")),
    (_NETWORK, ("NET-01", "NET-02", "NET-03", "NET-04", "NET-05", "NET-06")),
    (_LIMITS, ("RES-01", "RES-02", "RES-03", "RES-04")),
    (_HEALTH, ("HLT-01", "HLT-02")),
)


# The team's own testinfra checks (compliance/hosts.py): in every report and the gate, never
# in the catalog, the checklist or the contract.
OWN = Control(
    "OWN", "The team's own check", "high", "", "",
    "A check the team wrote for its own stack (a testinfra test of a container).",
    "Make the team's own test pass; its message says what it expected.",
)


def describe(control_id: str) -> Control:
    """The catalog control, or OWN for the team's own checks."""
    return CATALOG.get(control_id) or OWN


def markdown() -> str:
    """The catalog as a Markdown table, for docs that must not drift from it."""
    rows = ["| ID | Title | Severity | Checklist item | CIS | Scope |", "|---|---|---|---|---|---|"]
    for c in CATALOG.values():
        scope = ("stack" if c.stack_level else "container") + (", live" if c.live else "") + (
            ", static" if c.static else "")
        rows.append(f"| {c.id} | {c.title} | {c.severity} | {c.checklist} | {c.cis or '—'} | {scope} |")
    return "\n".join(rows)


def reference() -> str:
    """docs/controls.md: the table, the checklist, then each control's why and fix (a test
    keeps the committed file equal to this, so the doc a clone carries never drifts)."""
    parts = ["# Controls", "",
             "Generated from the catalog (`compliance/controls.py`) by "
             "`python -m compliance.controls > docs/controls.md`; do not edit by hand.", "",
             f"CIS references are to the {CIS_VERSION}. Scope: evaluated once per container, "
             "or once per stack; `live` controls need the running stack; `static` controls are "
             "also judged by the pull-request gate (`--static-only`) on the compose files. "
             "Fix is the general remedy; where a control fails for more than one reason, each "
             "result names the remedy for its own reason (`remediation` in every report).", "",
             markdown(), "", "## PassQ's checklist", "",
             "An item is ticked only when every control under it passed or was waived, and "
             "none failed or errored.", ""]
    parts += [f"- {item}: {', '.join(ids)}" for item, ids in CHECKLIST]
    for c in CATALOG.values():
        judged = "also by the static gate" if c.static else "on the running stack only"
        parts += ["", f"## {c.id}: {c.title}", "",
                  f"Severity {c.severity}; {'once per stack' if c.stack_level else 'per container'}, "
                  f"{judged}.", "", f"Why: {c.rationale}", "", f"Fix: {c.remediation}"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
