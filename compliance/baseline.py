"""`passq-compliance baseline`: a waiver file that accepts today's failures, for adoption.

A team that adopts the suite on a stack that fails many controls needs a gate
that passes today and fails on anything new. The baseline is that: one waiver
per failed (control, service) of a finished run, each signed by an owner and
ending on a date, so every accepted failure stays visible in every report and
comes back when its waiver expires.

It reads the frozen record (compliance.json), never runs the audit again: the
waivers are exactly what the report shows, and the record holds no secret
value (every report goes through one redaction step), so neither does a
reason copied from it. The output is checked with the suite's own waiver
validator before it is printed. What a waiver may not cover is left out and
said on stderr: an error (it could not be evaluated: never waived), a team's
own check (not a catalog control), a failure already waived.
"""

import argparse
import json
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import yaml

from compliance import controls, waivers
from compliance.report import terminal
from compliance.report.json_report import SCHEMA

USAGE_ERROR = 4  # pytest's and the suite's exit status for bad input


class _Dumper(yaml.SafeDumper):
    """Writes each waiver's date in full, never as an alias of the first one (`*id001`)."""

    def ignore_aliases(self, data):
        return True


class BaselineError(Exception):
    """The record or an option is unusable; the message names the file or option."""


def load_record(path: Path) -> dict:
    """compliance.json of a run that audited something (a failed run's record waives nothing)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{path}: not a compliance.json record: {exc}") from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        raise BaselineError(f"{path}: not a compliance.json record (schema is not {SCHEMA!r})")
    if record.get("failure"):
        raise BaselineError(f"{path}: the run audited nothing ({record['failure']}): "
                            "there is no finding to accept")
    results = record.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise BaselineError(f"{path}: results: expected a list of results")
    return record


def reason(result: dict) -> str:
    """`baseline: <what should hold>` and where it is declared, on one line."""
    text = result.get("message") or result.get("evidence") or result.get("title") or "failed"
    location = result.get("location") or {}
    if location.get("file"):
        text += f" ({location['file']}:{location['line']})" if location.get("line") else \
            f" ({location['file']})"
    return "baseline: " + " ".join(str(text).split())


def entries(records: list[dict], owner: str, expires: date) -> tuple[list[dict], list[str]]:
    """One waiver per failed (control, service) of all the records (the static gate's and the
    live audit's fail many of the same), in catalog order; and what was left out, why."""
    first: dict[tuple, dict] = {}
    left_out = []
    for result in (result for record in records for result in record["results"]):
        control = controls.CATALOG.get(result.get("control"))
        project = result.get("project")
        where = terminal.lead(result.get("control"), result.get("service"), project)
        if result.get("outcome") == "error":
            left_out.append(f"{where}: an error is never waived; it could not be evaluated")
        elif result.get("outcome") == "waived":
            left_out.append(f"{where}: already waived")
        elif result.get("outcome") != "failed":
            continue
        elif control is None:
            left_out.append(f"{where}: not a catalog control (a team's own check): fix it")
        else:
            service = None if control.stack_level else result.get("service")
            first.setdefault((control.id, service, project), result)
    order = list(controls.CATALOG)
    out = []
    for control_id, service, project in sorted(first, key=lambda key: (order.index(key[0]), key[1] or "",
                                                                       key[2] or "")):
        result = first[(control_id, service, project)]
        entry = {"control": control_id}
        if service:
            entry["service"] = service
        if project:
            entry["project"] = project
        out.append({**entry, "reason": reason(result), "approved_by": owner, "expires": expires})
    return out, list(dict.fromkeys(left_out))  # once each, not once per container


def render(paths: list[Path], records: list[dict], items: list[dict], today: date) -> str:
    head = "".join(f"# Baseline from {path} ({record.get('judged') or record.get('stack')}, started "
                   f"{record.get('started_at')})\n" for path, record in zip(paths, records, strict=True))
    head += (f"# made {today}: {len(items)} waiver(s), one per failed control and service. "
             "Fix each, then delete it.\n")
    if not items:
        return head + "[]\n"
    return head + yaml.dump(items, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


def checked(text: str) -> str:
    """The waiver file as the suite will read it: its own validator must accept it."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        waivers.load(handle.name)
    return text


def expiry(args, today: date) -> date:
    option = "--expires" if args.expires else "--days"
    try:
        expires = date.fromisoformat(args.expires) if args.expires else today + timedelta(days=args.days)
    except ValueError:
        raise BaselineError(f"--expires: expected a date YYYY-MM-DD, got {args.expires!r}") from None
    except OverflowError:
        raise BaselineError(f"--days: {args.days} days from today is past the last date") from None
    if expires <= today:
        raise BaselineError(f"{option}: {expires} is not after today ({today}): the waivers "
                            "would never apply")
    return expires


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise BaselineError(f"{self.prog}: {message} (see --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="passq-compliance baseline",
                description="Print a waiver file accepting every failed control of a finished run.")
    p.add_argument("reports", type=Path, nargs="+", metavar="REPORT",
                   help="a finished run's compliance.json (several: one waiver file for all)")
    p.add_argument("--owner", required=True, help="who approves the waivers (approved_by)")
    until = p.add_mutually_exclusive_group(required=True)
    until.add_argument("--expires", help="the last day the waivers apply, YYYY-MM-DD")
    until.add_argument("--days", type=int, help="the waivers apply for this many days from today")
    return p


def main(argv: list[str], today: date | None = None) -> int:
    today = today or date.today()
    try:
        args = parser().parse_args(argv)
        if not args.owner.strip():
            raise BaselineError("--owner: expected a name or address")
        records = [load_record(path) for path in args.reports]
        items, left_out = entries(records, args.owner.strip(), expiry(args, today))
        text = checked(render(args.reports, records, items, today))
    except (BaselineError, waivers.WaiverError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_ERROR
    sys.stdout.write(text)
    for note in left_out:
        print(f"baseline: left out {note}", file=sys.stderr)
    print(f"baseline: {len(items)} waiver(s) until {items[0]['expires'] if items else '-'} "
          f"from {', '.join(map(str, args.reports))}", file=sys.stderr)
    return 0
