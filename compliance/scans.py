"""The vulnerability scans of one run: each running image matched to its Trivy report once.

What the reports show of IMG-02's evidence, taken when the audit ends and kept
in its record, so no report reads the reports directory again.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from compliance import trivy


@dataclass(frozen=True)
class ImageScan:
    """One running image (by ID), the services running it, and its report if any."""

    image_id: str
    references: tuple[str, ...]
    services: tuple[str, ...]
    match: trivy.Match | None
    assessment: trivy.Assessment | None

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


def _image_scans(reports: trivy.Reports, containers: Iterable, now: datetime) -> list[ImageScan]:
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


def take(reports: trivy.Reports, containers: Iterable, now: datetime | None = None,
         max_age_days: int | None = None) -> Scans:
    """Match the images of `containers` to `reports` (the policy's max age marks staleness)."""
    now = now or datetime.now(UTC)
    return Scans(tuple(_image_scans(reports, containers, now)), _source(reports), now, max_age_days)


def _source(reports: trivy.Reports) -> str:
    if reports.missing:
        return reports.missing
    text = (f"Trivy reports from {reports.directory}: {len(reports.reports)} read, "
            f"{len(reports.broken)} unusable")
    if reports.ignore is not None:
        text += f"; {reports.ignore.path.name}: {len(reports.ignore.rules)} entries"
    if reports.error:
        text += f"; {reports.error}"
    return "; ".join((text, *reports.notes))
