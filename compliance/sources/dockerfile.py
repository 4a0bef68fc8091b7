"""What a `build:` service's Dockerfile says of the image it builds: the images it is
built on, and the USER and HEALTHCHECK of the stage compose builds (`build.target`,
else the last one).

The builder builds that stage and every stage it needs: the stage its FROM names
and the stages its `COPY --from=` (or `RUN --mount=from=`) copies from, and theirs
in turn. Each FROM of those that names an image (not an earlier stage, not
`scratch`), and each `COPY --from=` or `RUN --mount=from=` naming no stage, is a
base of the image. ARGs are substituted as
the builder substitutes them: a FROM sees the ARGs written before the first FROM,
a stage the ARGs it declares; compose's `build.args` override their defaults.

An instruction the target stage does not write is inherited from the stage it is
built FROM; an external base image's own USER and HEALTHCHECK cannot be known
before it is pulled. dockerfile-parse splits the file into instructions.
"""

import io
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from compliance.model import Base, Location

# `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:+alt}`, `${NAME+alt}`
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?:(:?[-+])([^}]*))?\}|(\w+))")


class DockerfileError(Exception):
    """The Dockerfile cannot be read; the message names it."""


@dataclass(frozen=True)
class Stage:
    """The facts the audit takes from the built stage, each with its line."""

    user: tuple[str, Location] | None = None
    healthcheck: tuple[tuple[str, ...], Location] | None = None
    bases: tuple[Base, ...] | None = None  # None where no Dockerfile was read


@dataclass
class _Stage:
    """One stage as written: its name (lower case, "" if none), its FROM, its instructions."""

    name: str
    base: str  # the FROM's image or stage, ARGs substituted
    written: str  # as written
    line: int
    instructions: list = field(default_factory=list)
    args: dict = field(default_factory=dict)  # the ARGs it declares, with their values
    parent: int | None = None  # the index of the earlier stage its FROM names


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


def substitute(text: str, args: Mapping[str, str | None]) -> str:
    """`text` with its ARG references replaced as the builder replaces them; "" when a
    reference the text needs has no value (an ARG without default or build argument)."""
    missing = False

    def value(match: re.Match) -> str:
        nonlocal missing
        name, operator, word = match.group(1) or match.group(4), match.group(2), match.group(3)
        current = args.get(name)
        unset = current is None or (current == "" and (operator or "").startswith(":"))
        if not operator:
            missing = missing or current is None
            return current or ""
        if operator.endswith("-"):
            return word if unset else current
        return "" if unset else word

    replaced = _VARIABLE.sub(value, text)
    return "" if missing else replaced


def read(path: Path, displayed: str, target: str | None = None,
         build_args: Mapping[str, str | None] | None = None) -> Stage:
    """The stage compose builds from the Dockerfile at `path` (`displayed` names it in
    locations), built with compose's `build.args`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DockerfileError(f"{displayed}: cannot read the Dockerfile: {exc.strerror}") from None
    try:
        structure = DockerfileParser(fileobj=io.BytesIO(raw)).structure
    except Exception as exc:  # dockerfile-parse raises plain exceptions for what it cannot read
        raise DockerfileError(f"{displayed}: cannot parse the Dockerfile: {exc}") from None
    given = {key: value for key, value in (build_args or {}).items() if value is not None}
    stages = _stages(structure, given, displayed)
    if not stages:
        raise DockerfileError(f"{displayed}: no FROM instruction")
    names = [stage.name for stage in stages]
    if target and target.lower() not in names:
        raise DockerfileError(f"{displayed}: no stage named {target!r} (the service's build.target)")
    index = names.index(target.lower()) if target else len(stages) - 1
    user, healthcheck = _inherited(stages, index, displayed)
    return Stage(user, healthcheck, _bases(stages, index, displayed))


def _stages(structure: list[dict], build_args: Mapping[str, str], displayed: str) -> list[_Stage]:
    """The stages in file order, each FROM resolved with the ARGs written before the
    first FROM."""
    stages: list[_Stage] = []
    global_args: dict[str, str | None] = {}
    for instruction in structure:
        kind, value = instruction["instruction"], instruction["value"] or ""
        if kind == "FROM":
            words = [w for w in value.split() if not w.startswith("--")] or [""]
            name = words[2].lower() if len(words) > 2 and words[1].lower() == "as" else ""
            base = substitute(words[0], global_args)
            earlier = [i for i, stage in enumerate(stages) if stage.name and stage.name == base.lower()]
            stages.append(_Stage(name, base, words[0], instruction["startline"] + 1,
                                 parent=earlier[-1] if earlier else None))
        elif kind == "ARG":
            scope = stages[-1].args if stages else global_args
            try:
                words = shlex.split(value)
            except ValueError as exc:  # an unbalanced quote
                raise DockerfileError(f"{displayed}:{instruction['startline'] + 1}: cannot parse "
                                      f"the ARG: {exc}") from None
            for word in words:
                key, given, default = word.partition("=")
                if key in build_args:
                    scope[key] = build_args[key]
                elif given:
                    scope[key] = substitute(default, scope)
                else:
                    scope[key] = global_args.get(key) if stages else None
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def _copied_from(stage: _Stage) -> list[tuple[str, str, str, int]]:
    """(instruction, as written, ARGs substituted, line) of each source the stage copies
    from: `COPY --from=X` and `RUN --mount=...,from=X`."""
    sources = []
    for instruction in stage.instructions:
        kind = instruction["instruction"]
        if kind not in ("COPY", "RUN"):
            continue
        for word in (instruction["value"] or "").split():
            if not word.startswith("--"):
                break
            option, _, value = word.partition("=")
            fields = dict(f.partition("=")[::2] for f in value.split(",")) if kind == "RUN" else {}
            if kind == "COPY" and option.lower() == "--from":
                written, said = value, "COPY --from"
            elif option.lower() == "--mount" and fields.get("from"):
                written, said = fields["from"], "RUN --mount from"
            else:
                continue
            sources.append((said, written, substitute(written, stage.args),
                            instruction["startline"] + 1))
    return sources


def _bases(stages: list[_Stage], index: int, displayed: str) -> tuple[Base, ...]:
    """Every image the built stage is built on: the FROM and `COPY --from=` images of it
    and of every stage it needs, in file order."""
    names = {stage.name: i for i, stage in enumerate(stages) if stage.name}
    needed, todo, bases = set(), [index], []
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        stage = stages[i]
        if stage.parent is not None:
            todo.append(stage.parent)
        elif stage.base.lower() != "scratch":
            bases.append(Base(stage.written, stage.base, Location(displayed, stage.line)))
        for instruction, written, source, line in _copied_from(stage):
            if source.lower() in names:
                todo.append(names[source.lower()])
            elif source.isdigit() and int(source) < i:
                todo.append(int(source))
            else:
                bases.append(Base(written, source, Location(displayed, line), instruction))
    return tuple(sorted(bases, key=lambda base: base.location.line))


def _inherited(stages: list[_Stage], index: int, displayed: str):
    """One stage's USER and HEALTHCHECK (the last of each), else its parent stage's."""
    stage = stages[index]
    user = healthcheck = None
    for instruction in stage.instructions:
        where = Location(displayed, instruction["startline"] + 1)
        if instruction["instruction"] == "USER":
            user = (instruction["value"].strip(), where)
        elif instruction["instruction"] == "HEALTHCHECK":
            healthcheck = (healthcheck_test(instruction["value"]), where)
    if stage.parent is not None and (user is None or healthcheck is None):
        parent_user, parent_healthcheck = _inherited(stages, stage.parent, displayed)
        user = user or parent_user
        healthcheck = healthcheck or parent_healthcheck
    return user, healthcheck
