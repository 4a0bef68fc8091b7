"""The one redaction step every output goes through.

Checks never put a value into evidence on purpose; this is the net under
that rule. It learns the stack's candidate secrets (environment values,
credential-like labels and arguments, DSN passwords) and replaces each
occurrence with a marker, longest first so no fragment survives. Short
values of non-credential variables (`1`, `true`, `C.UTF-8`) are left alone:
replacing them everywhere would destroy the evidence, and they are no secrets.
"""

import itertools
import re
import shlex
from collections.abc import Iterable

MARK = "[REDACTED]"
SECRETS_DIR = "/run/secrets/"
MIN_ANY = 8  # any env value this long is treated as possibly secret
MIN_CREDENTIAL = 3  # a credential-named value this long is always redacted
_DSN_PASSWORD = re.compile(r"://[^:/?#@\s]*:([^@/?#\s]+)@")
_ASSIGNMENT = re.compile(r"^-{0,2}([A-Za-z_][A-Za-z0-9_.-]*)[=:](.+)$")
_FLAG = re.compile(r"^-{1,2}([A-Za-z_][A-Za-z0-9_.-]*)$")


def looks_like_credential(name: str, patterns: Iterable[str]) -> bool:
    """Case-insensitive: `db_password`, `DB_PASSWORD` and `dbPassword` all match PASSWORD."""
    upper = name.upper()
    return any(p in upper for p in patterns)


def dsn_passwords(text: str) -> list[str]:
    return _DSN_PASSWORD.findall(text)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()):
        unique = {s for s in secrets if s}
        self._secrets = sorted(unique, key=len, reverse=True)

    def __call__(self, text):
        if not isinstance(text, str) or not self._secrets:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MARK)
        return text

    @classmethod
    def for_containers(cls, containers, patterns) -> "Redactor":
        return cls(candidates(containers, patterns))

    def learn(self, more: Iterable[str]) -> "Redactor":
        """A redactor that also knows `more`."""
        return Redactor([*self._secrets, *more])


def candidates(containers, patterns) -> list[str]:
    """Candidate secrets in every container's env, args, labels and healthcheck (anything
    with a Docker-style `config`: inspected containers, or services of a compose model)."""
    found: list[str] = []
    for container in containers:
        config = container.config
        pairs = [item.split("=", 1) for item in config.get("Env") or () if "=" in item]
        pairs += list((config.get("Labels") or {}).items())
        args = list(config.get("Cmd") or ()) + list(config.get("Entrypoint") or ())
        pairs += [m.groups() for m in map(_ASSIGNMENT.match, args) if m]
        for name, value in pairs:
            found += dsn_passwords(value)
            if value.startswith(SECRETS_DIR):
                continue  # a reference to a secret file, not a secret
            credential = looks_like_credential(name, patterns)
            if (credential and len(value) >= MIN_CREDENTIAL) or (
                    len(value) >= MIN_ANY and not name.startswith("com.docker.")):
                found.append(value)
        for arg in args:
            found += dsn_passwords(arg)
        healthchecks = [(c.get("Healthcheck") or {}).get("Test") or ()
                        for c in (config, (getattr(container, "image", None) or {}).get("Config") or {})]
        found += command_secrets([*args, *(a for test in healthchecks for a in test[1:])],
                                 patterns)
    return found


def command_secrets(args: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """Credential values a command line carries beyond `NAME=value` arguments: inside shell
    strings (`sh -c '...'`, a healthcheck's CMD-SHELL), a `--password VALUE` pair, a
    `Token: VALUE` header, a DSN's password. Only credential-named values: a command's
    other words are evidence (a healthcheck's URL), not secrets."""
    patterns = tuple(patterns)
    words: list[str] = []
    for arg in args:
        words.append(arg)
        if any(c.isspace() for c in arg):
            try:
                words += shlex.split(arg)
            except ValueError:  # unbalanced quotes: still look at each word
                words += arg.split()
    found = [p for word in words for p in dsn_passwords(word)]
    pairs = [m.groups() for m in map(_ASSIGNMENT.match, words) if m]
    pairs += [(m.group(1), value) for word, value in itertools.pairwise(words)
              if (m := _FLAG.match(word))]
    for name, value in pairs:
        if looks_like_credential(name, patterns) and not value.startswith(SECRETS_DIR):
            found += [v for v in (value, value.strip()) if len(v.strip()) >= MIN_CREDENTIAL]
    return found
