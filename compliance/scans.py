"""Vulnerability scans as data: Trivy's reports and `.trivyignore` as read, matched to
running images and counted, and the run's scans of its images.

Pure: compliance/sources/trivy.py reads the files (and runs trivy for --scan); the
checks (IMG-02, IMG-03) and the reports judge and render what is here. The
run's `Scans` are taken once when the audit ends and kept in its record, so
no report reads the reports directory again.

A report belongs to a running image when it names the image's ID or one of
its repo digests. Only a report that names neither (an older Trivy, an SBOM
scan) falls back to the image reference (`ArtifactName`, `RepoTags`); a report
that names another image under the same reference is a report of another
image (the tag moved), never a match.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from compliance import imageref

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")  # as the seed prints them
UNKNOWN = "UNKNOWN"
IMAGE_ARTIFACT = "container_image"
_RANK = {s: i for i, s in enumerate((*SEVERITIES, UNKNOWN))}


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


def report_name(reference: str) -> str:
    """The file a scan of `reference` is written to: `passq-fixture/busybox:1.35` ->
    `passq-fixture_busybox_1.35.json`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", reference).strip("._") + ".json"





@dataclass(frozen=True)
class ImageScan:
    """One running image (by ID), the services running it, and its report if any."""

    image_id: str
    references: tuple[str, ...]
    services: tuple[str, ...]
    match: Match | None
    assessment: Assessment | None

    @property
    def name(self) -> str:
        return ", ".join(self.references) or self.image_id[:19]

    def status(self) -> str:
        if self.match is None:
            return "no reports directory"
        if self.match.broken:
            return "unusable report: " + "; ".join(b.path.name for b in self.match.broken)
        if self.match.report is None:
            return "no report"
        return ""


def _image_scans(reports: Reports, containers: Iterable, now: datetime) -> list[ImageScan]:
    """Group the stack's containers by image and match each image's report once."""
    grouped: dict[str, tuple[dict, list, list]] = {}
    for container in containers:
        image = dict(container.image) or {"Id": container.attrs.get("Image", "")}
        entry = grouped.setdefault(image.get("Id") or "", (image, [], []))
        reference = container.image_ref or image.get("Id") or ""
        if reference not in entry[1]:
            entry[1].append(reference)
        if container.service not in entry[2]:
            entry[2].append(container.service)
    scans = []
    for image_id, (image, references, services) in sorted(grouped.items(),
                                                          key=lambda item: sorted(item[1][1])):
        match = None if reports.missing else reports.match(image, references[0])
        assessment = (reports.assess(match.report, now) if match and match.report
                      and not match.broken else None)
        scans.append(ImageScan(image_id, tuple(sorted(references)), tuple(sorted(services)),
                               match, assessment))
    return scans


@dataclass(frozen=True)
class Scans:
    """Every running image's scan, how the reports were found, and when this was judged."""

    images: tuple[ImageScan, ...]
    source: str
    taken_at: datetime
    max_age_days: int | None = None


def take(reports: Reports, containers: Iterable, now: datetime | None = None,
         max_age_days: int | None = None) -> Scans:
    """Match the images of `containers` to `reports` (the policy's max age marks staleness)."""
    now = now or datetime.now(UTC)
    return Scans(tuple(_image_scans(reports, containers, now)), _source(reports), now, max_age_days)


def _source(reports: Reports) -> str:
    if reports.missing:
        return reports.missing
    text = (f"Trivy reports from {reports.directory}: {len(reports.reports)} read, "
            f"{len(reports.broken)} unusable")
    if reports.ignore is not None:
        text += f"; {reports.ignore.path.name}: {len(reports.ignore.rules)} entries"
    if reports.error:
        text += f"; {reports.error}"
    return "; ".join((text, *reports.notes))
