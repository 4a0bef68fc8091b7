"""The projects of a monorepo, judged in one static run: `--project [NAME=]PATH[,PATH...]`.

Each PATH is a compose file, or a folder standing for the files `docker compose` itself
would pick there: the first of compose.yaml, compose.yml, docker-compose.yml and
docker-compose.yaml, then the first of the same names with `.override` (compose-go's
DefaultFileNames and DefaultOverrideFileNames, in its order). Unlike compose, a folder
without one is an error, not a reason to look in its parents: in a monorepo that would
judge the root's project under a sub-project's name. NAME defaults to the first path's
folder as given, relative to the current one ("." for the current one itself).

Every project is rendered by compose (compose_files.load, two processes each), all at
once from a pool: the renderings wait on processes, not on Python, so ten projects cost
about the time of the slowest, not ten times one. Each load error names its project.
"""

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from compliance.sources import compose_files
from compliance.sources.compose_files import ComposeError, Model

FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_NAMES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")
OPTION = "--project"
# What a project's name may not hold: it leads the test ids (`test_x[api:db]`), where `:`
# separates it from the service and brackets end the id; `,` separates a spec's paths.
UNFIT = re.compile(r"[\s:,\[\]]")


class Project(NamedTuple):
    """One project as the user named it: its name and its compose files, in merge order."""

    name: str
    files: tuple[Path, ...]


def picked(folder: Path) -> tuple[Path, ...]:
    """The compose files `docker compose` run in `folder` would read: the first file of
    FILE_NAMES there, and the first override; () when the folder has none."""
    first = next((folder / n for n in FILE_NAMES if (folder / n).is_file()), None)
    if first is None:
        return ()
    override = next((folder / n for n in OVERRIDE_NAMES if (folder / n).is_file()), None)
    return (first, override) if override else (first,)


def parse(spec: str) -> Project:
    """One `--project` value; a ComposeError (one line, naming the value) when a path is
    missing or a folder holds no compose file."""
    name, sep, paths = spec.partition("=") if "=" in spec.split(",", 1)[0] else ("", "", spec)
    given = [p.strip() for p in paths.split(",")]
    if (sep and not name.strip()) or not all(given):
        raise ComposeError(f"{OPTION} {spec!r}: expected [NAME=]PATH[,PATH...]")
    files: list[Path] = []
    for path in map(Path, given):
        if path.is_dir():
            found = picked(path)
            if not found:
                raise ComposeError(f"{OPTION} {spec}: no compose file in {path}/ (looked for "
                                   f"{', '.join(FILE_NAMES)})")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ComposeError(f"{OPTION} {spec}: {path}: no such file or folder")
    first = Path(given[0])
    folder = first if first.is_dir() else first.parent
    name = name.strip() or compose_files.display_path(folder)
    if UNFIT.search(name):
        raise ComposeError(f"{OPTION} {spec}: the project name {name!r} cannot lead a test id "
                           f"(no space, ':', ',', '[' or ']'): name it (NAME=PATH)")
    return Project(name, tuple(files))


def parse_all(specs) -> list[Project]:
    """Every `--project` value, in the order given; names must be unique."""
    projects = [parse(spec) for spec in specs]
    seen: dict[str, Project] = {}
    for project in projects:
        if project.name in seen:
            raise ComposeError(f"{OPTION}: two projects are named {project.name!r}: name them "
                               f"apart (NAME=PATH)")
        seen[project.name] = project
    return projects


def load_all(projects, command: list[str] | None = None) -> list[Model]:
    """The model of every project, rendered concurrently; in the order given. The first
    project (in that order) that fails to render raises, its name leading the message."""
    if not projects:
        return []
    command = command or compose_files.compose_command()  # resolved once, not per project

    def load(project: Project) -> Model:
        try:
            return compose_files.load(project.files, command, project=project.name)
        except ComposeError as exc:
            raise ComposeError(f"project {project.name}: {exc}") from None

    workers = min(len(projects), max(2, os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(load, project) for project in projects]
        return [future.result() for future in futures]


def provenance(models) -> list[dict]:
    """The metadata's `projects` (compliance/record.py): each project's name and the files
    compose read for it, with their SHA-256, in the order given."""
    return [{"name": model.project, "compose_files": [{"path": f.path, "sha256": f.sha256}
                                                      for f in model.sources]}
            for model in models]


def misuse(specs, compose_files_given, static_only: bool) -> str | None:
    """Why `--project` cannot be used as given (one line saying what to do), or None."""
    if not specs:
        return None
    if compose_files_given:
        return (f"{OPTION} and --compose-file do not mix: name every project with {OPTION} "
                f"[NAME=]PATH[,PATH...] (a PATH may be a compose file), or judge one project "
                f"with --compose-file alone")
    if not static_only:
        return (f"{OPTION} judges compose files without an engine: add --static-only (a live "
                f"audit judges one running stack: --stack NAME --compose-file PATH)")
    return None
