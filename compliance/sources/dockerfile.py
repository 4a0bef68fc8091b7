"""What a `build:` service's Dockerfile says of the image it builds: the USER and the
HEALTHCHECK of the stage compose builds (`build.target`, else the last one).

An instruction the stage does not write is inherited from the stage it is built
`FROM` (a multi-stage file); an external base image's own USER and HEALTHCHECK
cannot be known before it is pulled. Parsed by dockerfile-parse (ARG and ENV
substituted as the builder would), never by hand.
"""

import io
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from dockerfile_parse import DockerfileParser

from compliance.model import Location


class DockerfileError(Exception):
    """The Dockerfile cannot be read; the message names it."""


@dataclass(frozen=True)
class Stage:
    """The facts the audit takes from one build stage, each with its line."""

    user: tuple[str, Location] | None = None
    healthcheck: tuple[tuple[str, ...], Location] | None = None


def healthcheck_test(value: str) -> tuple[str, ...]:
    """A HEALTHCHECK instruction's value as the engine stores the test: `NONE`, the exec
    form as `CMD, arg...`, the shell form as `CMD-SHELL, command`; options dropped."""
    words = value.split(None, 1)
    while words and words[0].startswith("--"):
        words = words[1].split(None, 1) if len(words) > 1 else []
    if not words or words[0].upper() == "NONE":
        return ("NONE",)
    command = words[1].strip() if len(words) > 1 else ""
    if command.startswith("["):
        try:
            return ("CMD", *map(str, json.loads(command)))
        except (json.JSONDecodeError, TypeError):
            pass
    return ("CMD-SHELL", command)


def read(path: Path, shown: str, target: str | None = None) -> Stage:
    """The stage compose builds from the Dockerfile at `path` (`shown` names it in locations)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DockerfileError(f"{shown}: cannot read the Dockerfile: {exc.strerror}") from None
    try:
        structure = DockerfileParser(fileobj=io.BytesIO(raw)).structure
    except Exception as exc:  # dockerfile-parse raises plain exceptions for what it cannot read
        raise DockerfileError(f"{shown}: cannot parse the Dockerfile: {exc}") from None
    stages: list[tuple[str, str, list[dict]]] = []  # (name, base, instructions)
    for instruction in structure:
        if instruction["instruction"] == "FROM":
            words = shlex.split(instruction["value"]) if instruction["value"] else [""]
            words = [w for w in words if not w.startswith("--")] or [""]
            name = words[2].lower() if len(words) > 2 and words[1].lower() == "as" else ""
            stages.append((name, words[0].lower(), []))
        elif stages:
            stages[-1][2].append(instruction)
    if not stages:
        raise DockerfileError(f"{shown}: no FROM instruction")
    names = [name for name, _, _ in stages]
    index = names.index(target.lower()) if target and target.lower() in names else len(stages) - 1
    return _stage(stages, index, shown)


def _stage(stages, index: int, shown: str) -> Stage:
    """One stage's USER and HEALTHCHECK (the last of each), else its base stage's."""
    _, base, instructions = stages[index]
    user = healthcheck = None
    for instruction in instructions:
        where = Location(shown, instruction["startline"] + 1)
        if instruction["instruction"] == "USER":
            user = (instruction["value"].strip(), where)
        elif instruction["instruction"] == "HEALTHCHECK":
            healthcheck = (healthcheck_test(instruction["value"]), where)
    earlier = [i for i, (name, _, _) in enumerate(stages[:index]) if name and name == base]
    if earlier and (user is None or healthcheck is None):
        inherited = _stage(stages, earlier[-1], shown)
        user = user or inherited.user
        healthcheck = healthcheck or inherited.healthcheck
    return Stage(user, healthcheck)
