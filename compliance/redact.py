"""The one redaction step every output goes through.

Checks never put a value into evidence on purpose; this is the net under
that rule, for the free text an output quotes (a healthcheck's output, a
command line, an exception). It learns the secrets the suite can see: the
values of credential-named variables, labels and arguments, inline DSN
passwords, and the contents of secret files (compose `secrets:` sources,
files bound under /run/secrets/, the policy's secrets directory). Every
occurrence becomes a marker, longest first so no fragment survives, in every
output alike. Values that are not secrets (`DB_TYPE=postgres`) are not
learned: a service, image or file that shares such a word stays readable.

Names are never hidden. What compose and the engine show openly (service,
container, network, volume and image names, file paths, test ids, control
ids) is public: a secret's occurrence that lies inside an occurrence of such
a name stays, so `DB_PASSWD=gitea` does not turn service `gitea` into a
marker in every report. Such a credential is no secret (anyone who can list
the containers reads it); SEC-02 fails it for exactly that reason.
"""

import bisect
import itertools
import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from compliance import imageref

MARK = "[REDACTED]"
SECRETS_DIR = "/run/secrets/"
MIN_CREDENTIAL = 3  # a credential value this long is redacted ("1", "no" are no secrets)
WHOLE_WORD_BELOW = 8  # a shorter secret is redacted as a whole word only: "dbx" in "dbx_data" stays
MAX_SECRET_FILE = 64 * 1024  # bytes of a secret file the redactor learns
_WORD = "A-Za-z0-9_"
_DSN_PASSWORD = re.compile(r"://[^:/?#@\s]*:([^@/?#\s]+)@")
_ASSIGNMENT = re.compile(r"^-{0,2}([A-Za-z_][A-Za-z0-9_.-]*)[=:](.+)$")
_FLAG = re.compile(r"^-{1,2}([A-Za-z_][A-Za-z0-9_.-]*)$")


def looks_like_credential(name: str, patterns: Iterable[str]) -> bool:
    """Case-insensitive: `db_password`, `DB_PASSWORD` and `dbPassword` all match PASSWORD."""
    upper = name.upper()
    return any(p in upper for p in patterns)


def dsn_passwords(text: str) -> list[str]:
    return _DSN_PASSWORD.findall(text)


def _pattern(secret: str) -> str:
    escaped = re.escape(secret)
    return escaped if len(secret) >= WHOLE_WORD_BELOW else f"(?<![{_WORD}]){escaped}(?![{_WORD}])"


def _starting_anywhere(alternatives: list[str]) -> re.Pattern:
    """Every position where one of `alternatives` (longest first) starts, overlaps
    included: group 1 is the longest that starts there."""
    return re.compile("(?=(" + "|".join(alternatives) + "))")


class Redactor:
    def __init__(self, secrets: Iterable[str] = (), public: Iterable[str] = ()):
        unique = {s for s in secrets if len(s.strip()) >= MIN_CREDENTIAL}
        self._secrets = sorted(unique, key=len, reverse=True)
        self._public = sorted({p for p in public if p}, key=len, reverse=True)
        patterns = list(map(_pattern, self._secrets))
        self._match = re.compile("|".join(patterns)) if unique else None
        self._every = _starting_anywhere(patterns) if unique else None
        # only a name holding a secret can protect one: the others need no looking for
        holding = [re.escape(p) for p in self._public if self._match and self._match.search(p)]
        self._names = _starting_anywhere(holding) if holding else None

    def __call__(self, text):
        if not isinstance(text, str) or self._match is None or not self._match.search(text):
            return text
        inside_a_name = self._inside_a_name(text)
        spans = [m.span(1) for m in self._every.finditer(text)]
        out, at = [], 0
        for start, end in _merged([s for s in spans if not inside_a_name(*s)]):
            out += [text[at:start], MARK]
            at = end
        return "".join([*out, text[at:]])

    def _inside_a_name(self, text: str):
        """A test: does the span lie inside an occurrence of a public name in `text`?"""
        if self._names is None:
            return lambda start, end: False
        starts, reach = [], []  # name starts, ascending; how far the names so far reach
        for found in self._names.finditer(text):
            starts.append(found.start(1))
            reach.append(max(found.end(1), reach[-1] if reach else 0))

        def inside(start: int, end: int) -> bool:
            i = bisect.bisect_right(starts, start) - 1
            return i >= 0 and reach[i] >= end
        return inside

    @classmethod
    def for_containers(cls, containers, patterns) -> "Redactor":
        return cls(candidates(containers, patterns))

    def learn(self, more: Iterable[str]) -> "Redactor":
        """A redactor that also knows `more`."""
        return Redactor([*self._secrets, *more], self._public)

    def protect(self, names: Iterable[str]) -> "Redactor":
        """A redactor that also leaves `names` readable (see the module's docstring)."""
        return Redactor(self._secrets, [*self._public, *(str(n) for n in names)])


def _merged(spans: list[tuple[int, int]]):
    """Overlapping or touching (start, end) spans, in order, as one each."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def open_names(subject) -> list[tuple[str, str]]:
    """(what it is, name) for everything compose and the engine show openly about one
    container or declared service: its service, container, image, network and volume
    names, its mounts' paths, its test id and node. None of it is ever a secret."""
    image = subject.image_ref
    try:
        repository = imageref.parse(image).repository
    except ValueError:  # no image (a build-only service), or one IMG-01 reports
        repository = ""
    found = [("the service name", subject.service), ("the container name", subject.name),
             ("the container name", subject.test_id), ("the image name", image),
             ("the image name", repository), ("the image name", repository.rsplit("/", 1)[-1])]
    found += [("the network name", str(n)) for pair in subject.networks.items() for n in pair]
    for mount in subject.attrs.get("Mounts") or ():
        found += [("the volume name", mount.get("Name") or ""),
                  ("a mount path", mount.get("Source") or ""),
                  ("a mount path", mount.get("Destination") or "")]
    found.append(("the node name", getattr(subject, "node", "") or ""))
    return [(what, name) for what, name in found if name]


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
            if looks_like_credential(name, patterns):
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


def file_secrets(paths: Iterable[Path]) -> list[str]:
    """What secret files hold, as the redactor must know it: whole, stripped, each line, and
    with its white space folded (evidence quotes free text on one line). Unreadable files
    are skipped: SEC-03 reports them; a file nobody can read leaks nothing."""
    found: list[str] = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_SECRET_FILE).decode("utf-8", "replace")
        except OSError:
            continue
        found += [text, text.strip(), " ".join(text.split()),
                  *(line.strip() for line in text.splitlines())]
    return found


def stack_names(stack) -> list[str]:
    """Every name a stack shows openly: its own, its networks', each subject's, and the
    names of their variables (evidence names variables, never values)."""
    names = [stack.name]
    names += [str(n) for key, spec in stack.networks.items() for n in (key, spec.get("Name")) if n]
    names += [name for subject in stack.containers for name in subject.env]
    return names + [name for subject in stack.containers for _, name in open_names(subject)]
