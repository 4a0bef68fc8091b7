"""Trivy's JSON reports and `.trivyignore`, read once (and, with --scan, produced).

The reports are Trivy's own `trivy image --format json` output (SchemaVersion
2): `ArtifactName`, `ArtifactType`, `CreatedAt`, `Metadata.{ImageID,
RepoDigests, RepoTags}` and `Results[].Vulnerabilities[]`. Every `*.json` of
the reports directory is read once per run. A file that cannot be read is
never skipped: it stays in the set as a BrokenReport, and every image it might
concern gets an error, never a pass.

What is read becomes the data of compliance/scans.py, which matches reports
to running images and counts them.

`.trivyignore` (Trivy's format): one vulnerability ID per line, `#` starts a
comment, an optional `exp:YYYY-MM-DD` ends the entry at the start of that day
(UTC), as Trivy does. An ignored finding is kept and shown as ignored; a
finding whose entry expired counts again and says so.
"""

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

from compliance.scans import (
    SEVERITIES,
    UNKNOWN,
    BrokenReport,
    IgnoreFile,
    IgnoreRule,
    Report,
    Reports,
    Vulnerability,
    parse_time,
    report_name,
)

SCHEMA_VERSION = 2
IGNORE_FILE = ".trivyignore"
SCAN_TIMEOUT_S = 600
_EXP = re.compile(r"^exp:(\d{4}-\d{2}-\d{2})$")


class ReportError(Exception):
    """A report or ignore file that cannot be used; the message names the file."""


# -- reading -------------------------------------------------------------------


def load(directory: str | Path | None, ignore_file: str | Path | None = None) -> Reports:
    """Read every `*.json` of `directory` once, and its `.trivyignore` (or `ignore_file`)."""
    if directory is None:
        return Reports(None, missing="no Trivy reports directory: pass --trivy-reports DIR or set "
                                     "vulnerabilities.reports in the policy")
    directory = Path(directory)
    if not directory.is_dir():
        state = "is not a directory" if directory.exists() else "does not exist"
        return Reports(directory, missing=f"the Trivy reports directory {directory} {state}")
    reports, broken = [], []
    for path in sorted(directory.glob("*.json")):
        try:
            reports.append(read_report(path))
        except ReportError as exc:
            broken.append(_broken(path, str(exc)))
    ignore, error = None, None
    ignore_path = Path(ignore_file) if ignore_file else directory / IGNORE_FILE
    if ignore_file or ignore_path.exists():
        try:
            ignore = read_ignore(ignore_path)
        except ReportError as exc:
            error = str(exc)
    return Reports(directory, tuple(reports), tuple(broken), ignore, error=error)


def read_report(path: Path) -> Report:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno}, column "
                          f"{exc.colno})") from None
    return parse_report(data, path)


def parse_report(data, path: Path) -> Report:
    """Validate one decoded report against the parts of Trivy's schema the suite relies on."""

    def fail(where: str, problem: str):
        return ReportError(f"{path}: {where}: {problem}")

    if not isinstance(data, dict):
        raise fail("(top level)", f"expected a Trivy report object, got {type(data).__name__}")
    if data.get("SchemaVersion") != SCHEMA_VERSION:
        raise fail("SchemaVersion", f"expected {SCHEMA_VERSION} (Trivy's JSON report), got "
                                    f"{data.get('SchemaVersion')!r}")
    metadata = data.get("Metadata") or {}
    if not isinstance(metadata, dict):
        raise fail("Metadata", "expected an object")
    created = data.get("CreatedAt")
    created_at = None
    if created is not None:
        created_at = parse_time(created)
        if created_at is None:
            raise fail("CreatedAt", f"not an RFC 3339 time: {created!r}")
    vulnerabilities = []
    results = data.get("Results")
    results = [] if results is None else results  # Trivy omits an empty list
    if not isinstance(results, list):
        raise fail("Results", "expected a list")
    for i, result in enumerate(results):
        if not isinstance(result, dict):
            raise fail(f"Results[{i}]", "expected an object")
        items = result.get("Vulnerabilities")
        items = [] if items is None else items
        if not isinstance(items, list):
            raise fail(f"Results[{i}].Vulnerabilities", "expected a list")
        for j, item in enumerate(items):
            where = f"Results[{i}].Vulnerabilities[{j}]"
            if not isinstance(item, dict):
                raise fail(where, "expected an object")
            for key in ("VulnerabilityID", "PkgName", "Severity"):
                if not isinstance(item.get(key), str) or not item[key]:
                    raise fail(f"{where}.{key}", "missing or not a string")
            severity = item["Severity"].upper()
            vulnerabilities.append(Vulnerability(
                id=item["VulnerabilityID"],
                severity=severity if severity in (*SEVERITIES, UNKNOWN) else UNKNOWN,
                pkg=item["PkgName"],
                installed=_text(item.get("InstalledVersion")),
                fixed=_text(item.get("FixedVersion")),
                title=_text(item.get("Title")),
                target=_text(result.get("Target")),
            ))
    return Report(
        path=path,
        artifact_name=_text(data.get("ArtifactName")),
        artifact_type=_text(data.get("ArtifactType")),
        image_id=_text(metadata.get("ImageID")) or None,
        repo_digests=_strings(metadata.get("RepoDigests"), fail, "Metadata.RepoDigests"),
        repo_tags=_strings(metadata.get("RepoTags"), fail, "Metadata.RepoTags"),
        created_at=created_at,
        vulnerabilities=tuple(vulnerabilities),
        producer=_producer(data.get("Trivy")),
    )


def _producer(trivy) -> str:
    """`Trivy <Version>` from the report's `Trivy` object (newer Trivy releases write it)."""
    version = _text(trivy.get("Version")) if isinstance(trivy, dict) else ""
    return f"Trivy {version}" if version else ""


def read_ignore(path: Path) -> IgnoreFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_ignore(text, path)


def parse_ignore(text: str, path: Path) -> IgnoreFile:
    """Trivy's `.trivyignore`: `ID [exp:YYYY-MM-DD]` per line, `#` comments."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        expires = None
        for option in fields[1:]:
            match = _EXP.match(option)
            if not match:
                raise ReportError(f"{path}:{number}: unknown option {option!r} (expected "
                                  "exp:YYYY-MM-DD)")
            try:
                expires = date.fromisoformat(match.group(1))
            except ValueError:
                raise ReportError(f"{path}:{number}: invalid date in {option!r}") from None
        rules.append(IgnoreRule(fields[0], expires, number))
    return IgnoreFile(path, tuple(rules))


def _broken(path: Path, problem: str) -> BrokenReport:
    """Keep whatever identity an unusable report still shows, to know what it concerns."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return BrokenReport(path, problem)
    if not isinstance(data, dict):
        return BrokenReport(path, problem)
    metadata = data.get("Metadata") if isinstance(data.get("Metadata"), dict) else {}

    def strings(value) -> tuple[str, ...]:
        return tuple(v for v in value if isinstance(v, str) and v) if isinstance(value, list) else ()

    image_id = metadata.get("ImageID")
    return BrokenReport(path, problem, image_id if isinstance(image_id, str) and image_id else None,
                        strings(metadata.get("RepoDigests")),
                        strings([data.get("ArtifactName"), *strings(metadata.get("RepoTags"))]))


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _strings(value, fail, where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(where, "expected a list of strings")
    return tuple(value)


# -- producing reports (--scan) ---------------------------------------------------


def scan_command(image_id: str, output: Path, trivy: str = "trivy") -> list[str]:
    """`trivy image` for one local image, offline: never a download at test time."""
    return [trivy, "image", "--format", "json", "--output", str(output),
            "--scanners", "vuln", "--image-src", "docker",
            "--skip-db-update", "--skip-java-db-update", "--offline-scan", "--quiet",
            image_id]


def scan(images: Mapping[str, str], directory: Path, docker_host: str | None = None,
         run: Callable = subprocess.run, which: Callable = shutil.which) -> tuple[list[str], list]:
    """Scan each image (ID -> reference) into `directory`.

    Returns notes and BrokenReports (one per image trivy could not scan, so that
    image's IMG-02 is an error). Without a trivy binary nothing runs: a note says so.
    """
    binary = which("trivy")
    if binary is None:
        return ["--scan given but no trivy binary on PATH: read the existing reports"], []
    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    notes, broken = [f"--scan: {len(images)} image(s) scanned with {binary}"], []
    for image_id, reference in sorted(images.items(), key=lambda item: item[1]):
        output = directory / report_name(reference)
        command = scan_command(image_id, output, binary)
        try:
            done = run(command, capture_output=True, text=True, timeout=SCAN_TIMEOUT_S, env=env)
            problem = None if done.returncode == 0 else _scan_problem(done.stderr or done.stdout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = str(exc)
        if problem:
            broken.append(BrokenReport(output, f"trivy could not scan {reference} ({image_id}) "
                                               f"offline: {problem}", image_id=image_id))
    return notes, broken


def _scan_problem(output: str) -> str:
    tail = " ".join(output.strip().splitlines()[-2:])[-300:] or "no output"
    if re.search(r"\bDB\b|database|first run|skip-db-update", output, re.IGNORECASE):
        tail += (" -- trivy needs its vulnerability DB in its cache beforehand (`trivy image "
                 "--download-db-only` where a registry is reachable); the suite never downloads")
    return tail


def collect(directory: str | Path | None, images: Mapping[str, str], do_scan: bool = False,
            docker_host: str | None = None, **scan_kwargs) -> Reports:
    """The run's reports: scanned first when asked (and trivy exists), then read once."""
    notes, scan_broken = [], []
    if do_scan and directory is not None:
        notes, scan_broken = scan(images, Path(directory), docker_host, **scan_kwargs)
    reports = load(directory)
    if not (notes or scan_broken):
        return reports
    failed = {b.image_id for b in scan_broken}
    kept = tuple(r for r in reports.reports if r.image_id not in failed)  # no stale stand-in
    return Reports(reports.directory, kept, (*reports.broken, *scan_broken), reports.ignore,
                   reports.missing, reports.error, (*reports.notes, *notes))
