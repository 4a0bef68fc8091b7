"""Secret checks: credentials come from Docker secrets, not the environment (SEC-01..02).

Evidence names variables and paths only. An environment value is never
read into a message: the names decide, and the values are only tested.
"""

import posixpath

from compliance.checks.facts import mounts
from compliance.model import Subject
from compliance.outcomes import Finding, failed, not_applicable, passed
from compliance.policy import Policy, ServicePolicy
from compliance.redact import SECRETS_DIR, dsn_passwords, looks_like_credential


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
    unreadable, shown = [], []
    for name in policy.secrets:
        entry = seen.get(name)
        shown.append(f"{SECRETS_DIR}{name}: {entry or 'absent inside the container'}")
        if entry is None or entry.kind != "file" or not kernel.can_read(entry):
            unreadable.append(name)
    facts = f"{'; '.join(shown)}; {who} (seen from the {inside.view}, /proc/<pid>/root)"
    if unreadable:
        return failed(f"should mount each secret as a regular file the service's user can read "
                      f"(not readable: {', '.join(unreadable)})", facts)
    return passed(facts)


def secret_reference(value: str) -> bool:
    """A path into /run/secrets/ names a secret file; it is not the secret."""
    return posixpath.normpath(value).startswith(SECRETS_DIR)


def no_plaintext_secrets(container: Subject, policy: Policy) -> Finding:
    """SEC-02: no credential-named variable (matched case-insensitively against the
    policy's patterns) holds a literal value, and no value holds a DSN with an inline
    password. `*_FILE` variables pointing into /run/secrets/ are how it should be done."""
    literal, dsn, referenced = [], [], []
    for name, value in container.env.items():
        if dsn_passwords(value):
            dsn.append(name)
        elif value and secret_reference(value):
            referenced.append(name)
        elif value and looks_like_credential(name, policy.credential_env_patterns):
            literal.append(name)
    problems = []
    if literal:
        problems.append(f"credential-named variables with a literal value: {', '.join(literal)}")
    if dsn:
        problems.append(f"DSN with an inline password in: {', '.join(dsn)}")
    if problems:
        return failed("should pass credentials as Docker secrets (NAME_FILE=/run/secrets/...), "
                      "not as environment values", "; ".join(problems))
    via = f"; via {SECRETS_DIR}: {', '.join(referenced)}" if referenced else ""
    return passed(f"no credential-named variable holds a literal value "
                  f"({len(container.env)} variables checked){via}")
