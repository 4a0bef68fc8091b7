"""Facts about the secret files on this machine, for SEC-03.

Which files: with compose files given, exactly the file-backed entries of
their `secrets:` section, resolved as compose resolves them (against the
project directory): the audited project's own files, never whatever lies in
the folder the suite runs in. Without a compose file, every secret the policy
requires of a service, looked up in the policy's `secrets.dir` (relative to
the directory pytest runs in) as `<dir>/<name>.txt` (the naming of PassQ's
seed document) or else `<dir>/<name>`.

A secret's content is read only to measure it and to compare it with the
known placeholders; it is never kept, returned, logged or printed: the facts
hold sizes and verdicts only.
"""

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from compliance.sources.compose_files import display_path

# Compared case-insensitively with the whole content, surrounding whitespace stripped.
PLACEHOLDERS = frozenset({
    "changeme", "change-me", "change_me", "changeit", "change-this", "changethis", "replaceme",
    "replace-me", "replace_me", "password", "passwd", "password1", "password123", "secret",
    "secret123", "mysecret", "supersecret", "example", "test", "testing", "default", "admin",
    "root", "dummy", "placeholder", "todo", "fixme", "xxx", "123456", "12345678", "letmein",
    "qwerty", "your-secret-here", "your_secret_here", "<secret>", "${secret}",
})
MAX_READ = 64 * 1024  # a secret file larger than this is measured, not compared


@dataclass(frozen=True)
class SecretFile:
    """What SEC-03 needs to know about one secret file (never its content)."""

    name: str  # the secret's name
    path: Path
    source: str  # "compose" or "policy"
    exists: bool = False
    regular: bool = False
    mode: int | None = None  # permission bits
    size: int | None = None  # bytes, surrounding whitespace stripped
    placeholder: bool | None = None
    tracked: bool | None = None  # tracked by git (None: unknown)
    ignored: bool = False  # an absent file git ignores (a checkout without its secrets)
    problem: str = ""  # why a property could not be read
    also_looked_for: Path | None = None

    @property
    def displayed(self) -> str:
        """Its path as reports name it."""
        return display_path(self.path)


def named_files(model, policy, base: Path) -> list[tuple[str, Path, str, Path | None]]:
    """(secret name, path, source, alternative path looked for) for every secret file
    the declared model names, or without a model the policy's secrets directory."""
    if model is not None:
        return [(name, Path(os.path.abspath(path)), "compose", None)
                for name, path in model.secret_files().items()]
    if policy is None or not policy.secrets_dir:
        return []
    directory = Path(os.path.abspath(base / policy.secrets_dir))
    names = set(policy.defaults.secrets)
    for service in policy.services.values():
        names.update(service.secrets)
    found = []
    for name in sorted(names):
        with_txt, bare = directory / f"{name}.txt", directory / name
        chosen, other = (bare, with_txt) if (os.path.lexists(bare) and not
                                              os.path.lexists(with_txt)) else (with_txt, bare)
        found.append((name, chosen, "policy", other))
    return found


def inspect(name: str, path: Path, source: str = "compose",
            also_looked_for: Path | None = None) -> SecretFile:
    """Stat, measure and classify one secret file."""
    facts = {"name": name, "path": path, "source": source, "also_looked_for": also_looked_for}
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return SecretFile(**facts, ignored=git_ignored(path))
    except OSError as exc:
        return SecretFile(**facts, exists=os.path.lexists(path), problem=f"cannot stat: {exc.strerror}")
    facts.update(exists=True, regular=stat.S_ISREG(info.st_mode), mode=stat.S_IMODE(info.st_mode))
    if not facts["regular"]:
        return SecretFile(**facts)
    problem = ""
    try:
        with open(path, "rb") as handle:
            content = handle.read(MAX_READ + 1)
        stripped = content.strip()
        facts["size"] = info.st_size if len(content) > MAX_READ else len(stripped)
        facts["placeholder"] = len(content) <= MAX_READ and _is_placeholder(stripped)
        del content, stripped
    except OSError as exc:
        problem = f"cannot read: {exc.strerror}"
    tracked, git_problem = git_tracked(path)
    facts["tracked"] = tracked
    return SecretFile(**facts, problem="; ".join(p for p in (problem, git_problem) if p))


def _is_placeholder(stripped: bytes) -> bool:
    try:
        text = stripped.decode("utf-8").lower()
    except UnicodeDecodeError:
        return False
    if text in PLACEHOLDERS:
        return True
    return len(text) > 0 and len(set(text)) == 1  # "xxxxxxxx...", "00000000..."


def git_tracked(path: Path) -> tuple[bool | None, str]:
    """(tracked, problem): is the file in the index of the git repository it lies in?
    A file outside any repository is not tracked."""
    try:
        done = subprocess.run(
            ["git", "-c", "safe.directory=*", "-C", str(path.parent), "ls-files",
             "--error-unmatch", "--", path.name],
            capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return None, "git is not installed, so git tracking cannot be checked"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"git ls-files failed: {exc}"
    if done.returncode == 0:
        return True, ""
    if done.returncode == 1 or "did not match any file" in done.stderr:
        return False, ""
    if "not a git repository" in done.stderr.lower():
        return False, ""
    return None, f"git ls-files failed: {done.stderr.strip().splitlines()[-1][:200] if done.stderr else ''}"


def git_ignored(path: Path) -> bool:
    """Does the git repository the path lies in ignore it (`git check-ignore`, asked from
    its nearest existing folder, since a checkout lacks the whole ignored `secrets/`)?
    No git, or no repository: not ignored."""
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        done = subprocess.run(
            ["git", "-c", "safe.directory=*", "-C", str(folder), "check-ignore", "-q", "--",
             str(path.relative_to(folder))],
            capture_output=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def collect(model, policy, base: Path) -> list[SecretFile] | None:
    """Facts for every named secret file; None when nothing names any."""
    named = named_files(model, policy, base)
    if not named:
        return None
    return [inspect(name, path, source, other) for name, path, source, other in named]
