"""Trivy's JSON reports and `.trivyignore`: read once, matched to running images, counted.

The reports are Trivy's own `trivy image --format json` output (SchemaVersion
2): `ArtifactName`, `ArtifactType`, `CreatedAt`, `Metadata.{ImageID,
RepoDigests, RepoTags}` and `Results[].Vulnerabilities[]`. Every `*.json` of
the reports directory is read once per run. A file that cannot be read is
never skipped: it stays in the set as a BrokenReport, and every image it might
concern gets an error, never a pass.

A report belongs to a running image when it names the image's ID or one of
its repo digests. Only a report that names neither (an older Trivy, an SBOM
scan) falls back to the image reference (`ArtifactName`, `RepoTags`); a report
that names another image under the same reference is a report of another
image (the tag moved), never a match.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from compliance import imageref

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")  # as the seed prints them
UNKNOWN = "UNKNOWN"
SCHEMA_VERSION = 2
IMAGE_ARTIFACT = "container_image"
IGNORE_FILE = ".trivyignore"
SCAN_TIMEOUT_S = 600
_RANK = {s: i for i, s in enumerate((*SEVERITIES, UNKNOWN))}
_EXP = re.compile(r"^exp:(\d{4}-\d{2}-\d{2})$")


class ReportError(Exception):
    """A report or ignore file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Vulnerability:
    """One finding of one package, as Trivy lists it."""

    id: str
    severity: str
    pkg: str
    installed: str = ""
    fixed: str = ""
    title: str = ""
    target: str = ""

    @property
    def rank(self) -> tuple:
        return _RANK.get(self.severity, len(_RANK)), self.id, self.pkg

    def __str__(self) -> str:
        fix = f"fixed in {self.fixed}" if self.fixed else "no fixed version"
        return f"{self.severity} {self.id} in {self.pkg} {self.installed} ({fix})".replace("  ", " ")


@dataclass(frozen=True)
class Report:
    """One readable Trivy report."""

    path: Path
    artifact_name: str
    artifact_type: str
    image_id: str | None
    repo_digests: tuple[str, ...]
    repo_tags: tuple[str, ...]
    created_at: datetime | None
    vulnerabilities: tuple[Vulnerability, ...]
    producer: str = ""  # "Trivy 0.57.1" where the report names its scanner (Trivy.Version)

    @property
    def identified(self) -> bool:
        """Does the report name the exact image it scanned (ID or repo digest)?"""
        return bool(self.image_id or self.repo_digests)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(r for r in (self.artifact_name, *self.repo_tags) if r)

    @property
    def is_image(self) -> bool:
        return self.artifact_type in ("", IMAGE_ARTIFACT)


@dataclass(frozen=True)
class BrokenReport:
    """A file of the reports directory that could not be used, and what it might concern."""

    path: Path
    problem: str
    image_id: str | None = None
    repo_digests: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    def concerns(self, image_id: str | None, digests: Iterable[str], reference: str) -> bool:
        """Might this file be the report of that image? When unidentifiable: yes."""
        if not (self.image_id or self.repo_digests or self.references):
            return True
        if self.image_id and self.image_id == image_id:
            return True
        if _digests(self.repo_digests) & _digests(digests):
            return True
        ref = normalize_reference(reference)
        return ref is not None and ref in {normalize_reference(r) for r in self.references}


@dataclass(frozen=True)
class IgnoreRule:
    id: str
    expires: date | None
    line: int

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= datetime.combine(self.expires, time(), UTC)

    def __str__(self) -> str:
        return f"{self.id} exp:{self.expires.isoformat()}" if self.expires else self.id


@dataclass(frozen=True)
class IgnoreFile:
    path: Path
    rules: tuple[IgnoreRule, ...]

    def rules_for(self, vulnerability_id: str) -> tuple[IgnoreRule, ...]:
        return tuple(r for r in self.rules if r.id == vulnerability_id)


@dataclass(frozen=True)
class Assessment:
    """A report read against `.trivyignore` at one moment."""

    findings: tuple[Vulnerability, ...]  # not ignored, worst first
    ignored: tuple[tuple[Vulnerability, IgnoreRule], ...]
    expired: tuple[tuple[Vulnerability, IgnoreRule], ...]  # counted: their entry expired

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys((*SEVERITIES, UNKNOWN), 0)
        for v in self.findings:
            out[v.severity if v.severity in out else UNKNOWN] += 1
        return out


@dataclass(frozen=True)
class Match:
    """The report of one running image, how it was found, and what else is relevant."""

    report: Report | None
    how: str = ""  # "image ID", "repo digest" or "reference (...)"
    superseded: tuple[Report, ...] = ()  # further, older reports of the same image
    other_images: tuple[Report, ...] = ()  # same reference, another image: not a match
    broken: tuple[BrokenReport, ...] = ()  # unreadable files that might be this image's


@dataclass(frozen=True)
class Reports:
    """Everything read from one reports directory in one run."""

    directory: Path | None
    reports: tuple[Report, ...] = ()
    broken: tuple[BrokenReport, ...] = ()
    ignore: IgnoreFile | None = None
    missing: str | None = None  # no usable directory: every image fails IMG-02
    error: str | None = None  # e.g. an invalid .trivyignore: every image errors
    notes: tuple[str, ...] = ()  # e.g. what --scan did

    def match(self, image: Mapping, reference: str) -> Match:
        """Find the report of a running image (`docker image inspect` dict + its reference)."""
        image_id = image.get("Id") or None
        digests = _digests(image.get("RepoDigests") or ())
        ref = normalize_reference(reference)
        by_identity, by_reference, other_images = [], [], []
        for report in self.reports:
            if not report.is_image:
                continue
            same_ref = ref is not None and ref in {normalize_reference(r) for r in report.references}
            if image_id and report.image_id == image_id:
                by_identity.append((report, "image ID"))
            elif digests & _digests(report.repo_digests):
                by_identity.append((report, "repo digest"))
            elif report.identified:
                if same_ref:
                    other_images.append(report)
            elif same_ref:
                by_reference.append((report, "reference (the report names no image ID or digest)"))
        broken = tuple(b for b in self.broken if b.concerns(image_id, image.get("RepoDigests") or (),
                                                            reference))
        found = by_identity or by_reference
        if not found:
            return Match(None, other_images=tuple(other_images), broken=broken)
        found.sort(key=lambda pair: _created_key(pair[0]), reverse=True)
        (report, how), rest = found[0], found[1:]
        return Match(report, how, tuple(r for r, _ in rest), tuple(other_images), broken)

    def assess(self, report: Report, now: datetime) -> Assessment:
        return assess(report, self.ignore, now)


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
                severity=severity if severity in _RANK else UNKNOWN,
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


# -- matching and counting -------------------------------------------------------


def normalize_reference(reference: str) -> str | None:
    """`nginx` -> `nginx:latest`, `docker.io/library/nginx:1` -> `nginx:1`; None if invalid."""
    try:
        ref = imageref.parse(reference)
    except ValueError:
        return None
    if ref.is_image_id:
        return ref.repository
    registry = ref.registry
    repository = ref.repository
    if registry in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        registry = None
        repository = repository.removeprefix("library/")
    name = f"{registry}/{repository}" if registry else repository
    if ref.digest:
        return f"{name}@{ref.digest}"
    return f"{name}:{ref.tag or 'latest'}"


def _digests(repo_digests: Iterable[str]) -> set[str]:
    """`repo@sha256:abc` -> `sha256:abc`: a manifest digest names the content, whatever the repo."""
    return {d.rsplit("@", 1)[1] for d in repo_digests if "@" in d}


def assess(report: Report, ignore: IgnoreFile | None, now: datetime) -> Assessment:
    findings, ignored, expired = [], [], []
    for vulnerability in sorted(report.vulnerabilities, key=lambda v: v.rank):
        rules = ignore.rules_for(vulnerability.id) if ignore else ()
        active = [r for r in rules if not r.expired(now)]
        if active:
            ignored.append((vulnerability, active[0]))
            continue
        findings.append(vulnerability)
        if rules:
            expired.append((vulnerability, rules[0]))
    return Assessment(tuple(findings), tuple(ignored), tuple(expired))


def summary_line(name: str, counts: Mapping[str, int]) -> str:
    """The seed's line: `passq-backend: 0 CRITICAL, 0 HIGH, 2 MEDIUM, 5 LOW`."""
    return f"{name}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITIES)


def age_days(created_at: datetime, now: datetime) -> float:
    return (now - created_at).total_seconds() / 86400


def parse_time(value) -> datetime | None:
    """An RFC 3339 time as Trivy and Docker write it (nanoseconds, `Z`); None if not one."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _created_key(report: Report) -> datetime:
    return report.created_at or datetime.min.replace(tzinfo=UTC)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _strings(value, fail, where) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(where, "expected a list of strings")
    return tuple(value)


# -- producing reports (--scan) ---------------------------------------------------


def report_name(reference: str) -> str:
    """The file a scan of `reference` is written to: `passq-fixture/busybox:1.35` ->
    `passq-fixture_busybox_1.35.json`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", reference).strip("._") + ".json"


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
