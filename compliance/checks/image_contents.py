"""Image content checks: what the image carries in its history and its files (IMG-04, IMG-05).

The history is `CreatedBy` of each entry (oldest first) as the engine records
it. The classic builder writes `/bin/sh -c #(nop)  ENV K=v` for instructions
and `|2 K=v K2=w /bin/sh -c cmd` for a RUN with build arguments; BuildKit
writes the instruction itself (`ENV K=v`, `RUN |1 K=v /bin/sh -c cmd`, `ADD
https://... /x`) followed by `# buildkit`. Values are tested and never shown:
evidence names the history entry, the instruction and the variable.
"""

import re

from compliance.checks.secrets import secret_reference
from compliance.model import Subject
from compliance.outcomes import Finding, failed, passed, undecided
from compliance.policy import Policy, ServicePolicy
from compliance.redact import looks_like_credential

_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s+")
_BUILD_ARGS = re.compile(r"^(?:RUN\s+)?\|(\d+)\s+")
_ASSIGNMENT = re.compile(r"(?<!\S)([A-Za-z_][A-Za-z0-9_]*)=(\S*)")
_REMOTE = re.compile(r"^https?://", re.IGNORECASE)


def _instruction(created_by: str) -> str:
    """The instruction text of one history entry, without the builders' wrapping."""
    text = _NOP.sub("", created_by.strip())
    return text.removesuffix("# buildkit").strip()


def _build_arguments(text: str) -> list[tuple[str, str]]:
    """The `|N K=v ...` prefix of a RUN: its N assignments (a value holding a space cannot
    be told from the command that follows; the name before it still is)."""
    match = _BUILD_ARGS.match(text)
    if not match:
        return []
    return _ASSIGNMENT.findall(text[match.end():])[:int(match.group(1))]


def _credentials(assignments, patterns) -> list[str]:
    """Names of credential-named assignments with a literal value (a path into
    /run/secrets/ names a secret file; it is not the secret)."""
    return [name for name, value in assignments
            if value and not secret_reference(value) and looks_like_credential(name, patterns)]


def _problems(index: int, created_by: str, patterns) -> list[str]:
    text = _instruction(created_by)
    # The classic builder writes a RUN as its command alone (`|1 K=v /bin/sh -c ...`).
    keyword = "RUN" if _BUILD_ARGS.match(text) or text.startswith("/bin/sh -c ") else (
        text.split(" ", 1)[0].upper())
    where = f"history[{index}] {keyword}"
    if keyword in ("ENV", "ARG"):  # the builder writes `ENV K v` as `ENV K=v` too
        named = _credentials(_ASSIGNMENT.findall(text), patterns)
        return [f"{where}: {'build argument' if keyword == 'ARG' else 'variable'} {n}" for n in named]
    if keyword == "ADD":
        words = text.split()[1:]
        verified = any(w.startswith("--checksum=") for w in words)
        remote = [w for w in words if _REMOTE.match(w)]
        return [f"{where}: remote {w.split(':', 1)[0]}:// source without --checksum"
                for w in remote[:1] if not verified]
    return [f"{where}: build argument {n}" for n in _credentials(_build_arguments(text), patterns)]


def history_clean(container: Subject, policy: Policy) -> Finding:
    """IMG-04: no history entry sets a credential-named ENV or build argument to a literal
    value (the policy's `credential_env_patterns`), and none ADDs an unverified remote source."""
    history = container.image_history
    if history is None:
        return undecided("the image's history could not be read from the engine")
    problems = [p for i, entry in enumerate(history)
                for p in _problems(i, entry, policy.credential_env_patterns)]
    if problems:
        return failed("should pass build secrets as secret mounts, not ARG or ENV, and fetch "
                      "remote files verified, not with ADD <url>",
                      f"{'; '.join(problems)} (history oldest first; values not shown)")
    return passed(f"{len(history)} history entries: no credential-named ENV or build argument "
                  "with a value, no unverified remote ADD")


def setid_allowed(container: Subject, policy: ServicePolicy) -> Finding:
    """IMG-05: no regular file of the image has the setuid or setgid bit, outside the
    policy's `setuid_allowed` paths."""
    files = container.setid_files
    if files is None:
        return undecided("the image's layers could not be read from the engine")
    extra = [f for f in files if f.path not in policy.setuid_allowed]
    if extra:
        return failed("should remove the setuid/setgid bits (or list the paths in setuid_allowed)",
                      f"setuid/setgid files: {', '.join(map(str, extra))}")
    allowed = f" ({len(files)} allowed by the policy: {', '.join(f.path for f in files)})" if files else ""
    return passed(f"no setuid/setgid file outside the allow-list{allowed}")
