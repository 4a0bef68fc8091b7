"""Load, validate and match the waiver file (interface.md, "Waiver file").

A waiver is a signed-off exception: a named person accepted one control's
failure, for one service or for every service, until a date. It is validated
on load like the policy, because a typo must neither waive a control nobody
approved nor drop an approved exception: an unknown key, a missing reason,
approver or expiry date, a bad date or an unknown control ID is an error
naming the file, line and key.

A waiver only ever turns a real failure into `waived` (`settle`, as each result is recorded):
an error is never waived, an expired waiver does not apply, and a waiver whose
control now passes is stale and reported as such.
"""

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import yaml

from compliance import controls, yamlfile
from compliance.yamlfile import key_name, kind

REQUIRED = ("control", "reason", "approved_by", "expires")
KEYS = (*REQUIRED, "service", "project")
# A waiver's status in one evaluation: it waived a failure, it had expired,
# the control passed (stale), or the evaluation was no failure it may waive.
STATUSES = ("applied", "expired", "stale", "ignored")


class _Loader(yaml.SafeLoader):
    """Reads dates as text, so `date` judges them and a 2027-02-30 is a waiver error
    with file:line: key, not PyYAML's bare ValueError."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


class WaiverError(Exception):
    """The waiver file is unusable; the message names file, line and key."""


@dataclass(frozen=True)
class Waiver:
    control: str
    service: str | None  # None: every service
    reason: str
    approved_by: str
    expires: date
    line: int
    project: str | None = None  # None: every project of a monorepo (--project)

    @property
    def scope(self) -> str:
        where = f" in project {self.project}" if self.project else ""
        return (f"{self.control} for {self.service}{where}" if self.service
                else f"{self.control} (every service{where})")

    def covers(self, control: str, service: str | None, project: str | None = None) -> bool:
        return self.control == control and self.service in (None, service) and self.project in (None, project)

    def expired(self, today: date) -> bool:
        """A waiver is valid through its expiry date and expired the day after."""
        return today > self.expires

    def entry(self, status: str) -> dict:
        """The waiver as a result carries it (compliance.json's `waiver`)."""
        named = {"project": self.project} if self.project else {}
        return {"control": self.control, "service": self.service, **named, "reason": self.reason,
                "approved_by": self.approved_by, "expires": self.expires.isoformat(),
                "status": status}


@dataclass(frozen=True)
class WaiverFile:
    path: str
    sha256: str
    waivers: tuple[Waiver, ...] = ()

    def match(self, control: str, service: str | None, today: date,
              project: str | None = None) -> Waiver | None:
        """The waiver for one evaluation: a valid one before an expired one, a service's
        own waiver before one for every service, a project's own before one for every
        project."""
        candidates = [w for w in self.waivers if w.covers(control, service, project)]
        return min(candidates, key=lambda w: (w.expired(today), w.service is None, w.project is None),
                   default=None)


def load(path: str | Path) -> WaiverFile:
    """Read and validate a waiver file (a YAML list; an empty file waives nothing)."""
    source = yamlfile.read(path, "waivers", WaiverError, loader=_Loader)
    return WaiverFile(source.path, source.sha256, _Reader(source).waivers(source.data))


def settle(result, waiver: Waiver | None, today: date):
    """The result under its waiver (the file's match for its control and service).

    A valid waiver turns a failure into `waived` (status `applied`); where the control
    passed it is `stale`, and an error or a skip it never covers (`ignored`). An expired
    waiver waives nothing (`expired`), and a failure under it says so.
    """
    if waiver is None:
        return result
    if waiver.expired(today):
        expired = replace(result, waiver=waiver.entry("expired"))
        if result.outcome != "failed":
            return expired
        return replace(expired, message=f"{result.message} (waiver expired on {waiver.expires})".strip())
    if result.outcome == "failed":
        return replace(result, outcome="waived", waiver=waiver.entry("applied"))
    return replace(result, waiver=waiver.entry("stale" if result.outcome == "passed" else "ignored"))


def is_stale(result) -> bool:
    """A waived control that passed: the waiver should be removed."""
    return bool(result.waiver and result.waiver["status"] == "stale")


def unused(waiver_file: WaiverFile | None, results, today: date) -> list[dict]:
    """Every waiver that waived no failure in this run, with why."""
    if waiver_file is None:
        return []
    out = []
    for waiver in waiver_file.waivers:
        statuses = {r.waiver["status"] for r in results
                    if r.waiver and (r.waiver["control"], r.waiver["service"], r.waiver.get("project"))
                    == (waiver.control, waiver.service, waiver.project)}
        if "applied" in statuses:
            continue
        if "stale" in statuses:
            why = "stale: the control passed where it was waived; remove the waiver"
        elif waiver.expired(today):
            why = f"expired on {waiver.expires}"
        else:
            why = "matched no failure in this run"
        out.append({**waiver.entry("unused"), "line": waiver.line, "why": why})
    return out


class _Reader:
    """Validates the decoded YAML, entry by entry, naming file:line: key."""

    def __init__(self, source: yamlfile.YamlFile):
        self.source = source
        self.lines = source.lines

    def error(self, path: tuple, problem: str, key: str | None = None) -> WaiverError:
        """`path` is (entry index, key); the line is the key's, else the entry's."""
        where = self.source.where(path)
        key = key or (key_name(path[-1]) if len(path) > 1 else "(waiver)" if path else "(top level)")
        return WaiverError(f"{where}: {key}: {problem}")

    def waivers(self, data) -> tuple[Waiver, ...]:
        if data is None:
            return ()
        if not isinstance(data, list):
            raise self.error((), f"expected a list of waivers, got {kind(data)}")
        seen: dict[tuple, int] = {}
        out = []
        for index, entry in enumerate(data):
            waiver = self.waiver(entry, (index,))
            first = seen.setdefault((waiver.control, waiver.service, waiver.project), waiver.line)
            if first != waiver.line:
                raise self.error((index,), f"duplicate waiver for {waiver.scope} "
                                           f"(first at line {first})")
            out.append(waiver)
        return tuple(out)

    def waiver(self, entry, path) -> Waiver:
        if not isinstance(entry, dict):
            raise self.error(path, f"expected a mapping, got {kind(entry)}")
        for key in entry:
            if key not in KEYS:
                raise self.error((*path, key), f"unknown key (allowed: {', '.join(sorted(KEYS))})")
        for key in REQUIRED:
            if key not in entry:
                raise self.error(path, "missing (every waiver needs control, reason, "
                                       "approved_by and expires)", key)
        text = {key: self.string(entry[key], (*path, key))
                for key in ("control", "reason", "approved_by")}
        control = controls.CATALOG.get(text["control"])
        if control is None:
            raise self.error((*path, "control"), f"unknown control {text['control']!r} "
                                                 f"(known: {', '.join(controls.CATALOG)})")
        service = None
        if entry.get("service") is not None:
            service = self.string(entry["service"], (*path, "service"))
            if control.stack_level:
                raise self.error((*path, "service"), f"{control.id} is evaluated once per "
                                                     "stack: omit `service`")
        project = None
        if entry.get("project") is not None:
            project = self.string(entry["project"], (*path, "project"))
        return Waiver(control.id, service, text["reason"], text["approved_by"],
                      self.date(entry["expires"], (*path, "expires")), self.lines[path], project)

    def string(self, value, path) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(path, f"expected a non-empty string, got {kind(value)}")
        return value.strip()

    def date(self, value, path) -> date:
        try:
            return date.fromisoformat(value if isinstance(value, str) else "")
        except ValueError:
            raise self.error(path, f"expected a date YYYY-MM-DD, got {kind(value)}") from None
