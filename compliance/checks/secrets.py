"""Secret checks: credentials come from Docker secrets, not the environment (SEC-01..02).

Evidence names variables and paths only. An environment value is never
read into a message: the names decide, and the values are only tested.
"""

import posixpath
import re

from compliance import controls
from compliance.checks.facts import mounts
from compliance.model import SWARM_TASK, Subject
from compliance.outcomes import Finding, failed, not_applicable, passed, remedies
from compliance.policy import Policy, ServicePolicy
from compliance.redact import SECRETS_DIR, dsn_passwords, looks_like_credential, open_names

# A value that is one compose interpolation (`${API_TOKEN}`, `${API_TOKEN:-x}`, `$API_TOKEN`),
# as the compose files write it: set when the stack is deployed, from the deploying shell.
INTERPOLATED = re.compile(r"\$\{[^{}]+\}|\$[A-Za-z_]\w*")
DSN_REMEDY = ("Take the password out of the DSN: give the client its password from a secret file "
              "(its `*_FILE` setting, or libpq's PGPASSFILE) and keep user, host and database in "
              "the URL.")
GUESSABLE_REMEDY = ("Replace the credential with a new random value (e.g. `openssl rand -base64 32`), "
                    "change it where it is checked, and pass it as a Docker secret: a value equal to "
                    "a name anyone can list is no secret.")


def required_secrets_mounted(container: Subject, policy: ServicePolicy) -> Finding:
    """SEC-01: each secret the policy requires is mounted at /run/secrets/<name> (compose
    binds a secret as a Mounts[] entry at that destination)."""
    if not policy.secrets:
        return not_applicable(f"the policy requires no secrets for service {container.service}")
    mounted = {posixpath.normpath(m.get("Destination", "")): m.get("Type", "unknown")
               for m in mounts(container.attrs)}
    targets = {name: posixpath.join(SECRETS_DIR, name) for name in policy.secrets}
    missing = [name for name, target in targets.items() if target not in mounted]
    evidence = "; ".join(f"{target}: {mounted[target] + ' mount' if target in mounted else 'not mounted'}"
                         for target in targets.values())
    if missing:
        return failed(f"should mount the secrets {', '.join(missing)} under {SECRETS_DIR}", evidence)
    return passed(evidence)


def required_secrets_readable(container: Subject, policy: ServicePolicy) -> Finding:
    """SEC-01, seen from inside: each required secret is a regular file the main process
    may read. Compose binds a file secret with its host owner and mode, so a root-owned
    0600 file is unreadable by a service running as 1001 while every inspect fact looks
    right. Without a view of the container's files this half cannot be judged: skipped."""
    if not policy.secrets:
        return not_applicable(f"the policy requires no secrets for service {container.service}")
    inside = container.inside
    kernel, seen = container.kernel, inside.secrets if inside else None
    if kernel is None or seen is None:
        why = "it is declared, not running (the live audit looks inside)" if container.declared else \
            "it is not running" if not container.state.get("Running") else (
            "no view of its files: its engine's host could not be looked at (a tcp:// engine "
            "with --no-live, no probe image there, or no permission to read /proc/<pid>/root)")
        return not_applicable(f"cannot look inside the container: {why}")
    who = f"main process uid {kernel.ids.fs_uid} gid {kernel.ids.fs_gid}"  # what file access checks
    unreadable, shown, remedy = [], [], []
    for name in policy.secrets:
        entry = seen.get(name)
        shown.append(f"{SECRETS_DIR}{name}: {entry or 'absent inside the container'}")
        if entry is None or entry.kind != "file" or not kernel.can_read(entry):
            unreadable.append(name)
            remedy.append(_unreadable_remedy(container, name, entry))
    facts = f"{'; '.join(shown)}; {who} (seen from the {inside.view}, /proc/<pid>/root)"
    if unreadable:
        return failed(f"should mount each secret as a regular file the service's user can read "
                      f"(not readable: {', '.join(unreadable)})", facts,
                      " ".join(dict.fromkeys(remedy)))
    return passed(facts)


def _unreadable_remedy(container: Subject, name: str, entry) -> str:
    """What makes one secret readable, by why it is not: not mounted at all, mounted as no
    regular file (compose binds a directory where the host file is missing), or owned by
    another user: a swarm secret takes `uid`/`mode` in the service's entry; a compose file
    secret is bound with its host file's owner and mode (compose ignores `uid`, `gid` and
    `mode` for it), so the host file must be given to the service's user."""
    if entry is None:
        return controls.CATALOG["SEC-01"].remediation
    target = posixpath.join(SECRETS_DIR, name)
    source = next((m.get("Source") for m in mounts(container.attrs)
                   if posixpath.normpath(m.get("Destination", "")) == target and m.get("Source")),
                  f"the host file of secret {name}")
    if entry.kind != "file":
        return (f"Point secret {name}'s `file:` at an existing regular file ({source}; compose "
                f"binds a directory where the host file is missing) and recreate the service.")
    ids = container.kernel.ids
    if container.kind == SWARM_TASK:
        return (f"Set `uid: \"{ids.fs_uid}\"`, `gid: \"{ids.fs_gid}\"` and `mode: 0400` in "
                f"the service's long-syntax `secrets:` entry for {name}.")
    return (f"Give {source} to the service's user on the host: `chown {ids.fs_uid}:{ids.fs_gid} "
            f"{source} && chmod 400 {source}` (compose ignores `uid`, `gid` and `mode` for file "
            f"secrets), then recreate the service.")


def _open_values(container: Subject, patterns) -> dict[str, str]:
    """What anyone who can list the containers or read the compose file sees, case-folded,
    each with what it is ("the service name"): the open names, then the values of the
    variables that are not credentials ("the value of DB_USER")."""
    known: dict[str, str] = {}
    for what, name in open_names(container):
        known.setdefault(name.casefold(), what)
    for name, value in container.env.items():
        if value.strip() and not looks_like_credential(name, patterns) and not dsn_passwords(value):
            known.setdefault(value.strip().casefold(), f"the value of {name}")
    return known


def secret_reference(value: str) -> bool:
    """A path into /run/secrets/ names a secret file; it is not the secret."""
    return posixpath.normpath(value).startswith(SECRETS_DIR)


def no_plaintext_secrets(container: Subject, policy: Policy) -> Finding:
    """SEC-02: no credential-named variable (matched case-insensitively against the
    policy's patterns) holds a literal value, and no value holds a DSN with an inline
    password. `*_FILE` variables pointing into /run/secrets/ are how it should be done.
    A credential equal to a name or value written openly (the service's name, its
    image's, another variable's value) fails for that reason too: reports never hide
    names (compliance/redact.py), so only this finding says it is no secret."""
    patterns = policy.credential_env_patterns
    literal, deployed, dsn, referenced, guessable = [], [], [], [], []
    known = _open_values(container, patterns)
    for name, value in container.env.items():
        if dsn_passwords(value):
            dsn.append(name)
        elif value and secret_reference(value):
            referenced.append(name)
            continue
        elif value and looks_like_credential(name, patterns):
            (deployed if INTERPOLATED.fullmatch(value.strip()) else literal).append(name)
        else:
            continue
        for credential in dsn_passwords(value) or [value]:
            if credential.strip().casefold() in known:
                guessable.append(f"{name}: the value equals {known[credential.strip().casefold()]}")
    findings = []
    if literal:
        findings.append(failed("should pass credentials as Docker secrets (NAME_FILE=/run/secrets/...), "
                               "not as environment values",
                               f"credential-named variables with a literal value: {', '.join(literal)}",
                               controls.CATALOG["SEC-02"].remediation))
    if deployed:
        findings.append(failed("should pass credentials as Docker secrets (NAME_FILE=/run/secrets/...), "
                               "not as environment values",
                               "credential-named variables set from the deploying shell's variables "
                               f"(${{...}}), which puts their values in the container's environment: "
                               f"{', '.join(deployed)}", controls.CATALOG["SEC-02"].remediation))
    if dsn:
        findings.append(failed("should pass credentials as Docker secrets (NAME_FILE=/run/secrets/...), "
                               "not as environment values",
                               f"DSN with an inline password in: {', '.join(dsn)}", DSN_REMEDY))
    if guessable:
        findings.append(failed("should hold credentials no one can guess, not a name or value "
                               "written openly", "; ".join(guessable), GUESSABLE_REMEDY))
    if findings:
        return failed("; ".join(dict.fromkeys(f.message for f in findings)),
                      "; ".join(f.evidence for f in findings), remedies(findings))
    via = f"; via {SECRETS_DIR}: {', '.join(referenced)}" if referenced else ""
    return passed(f"no credential-named variable holds a literal value "
                  f"({len(container.env)} variables checked){via}")
