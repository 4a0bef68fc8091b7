"""The per-image vulnerability summary of the reports (IMG-02's scans, as the seed prints them).

`summary_lines` gives the seed's lines (`passq-backend: 0 CRITICAL, 0 HIGH,
2 MEDIUM, 5 LOW`); `html_fragment` a self-contained HTML section (counts per
severity, top findings with their fixed versions, ignored findings) for
compliance.html. Every value in the HTML is escaped.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from compliance import trivy

TOP = 10  # findings listed per image


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


def image_scans(reports: trivy.Reports, containers: Iterable, now: datetime | None = None
                ) -> list[ImageScan]:
    """Group the stack's containers by image and match each image's report once."""
    now = now or datetime.now(UTC)
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


def summary_lines(reports: trivy.Reports, containers: Iterable, now: datetime | None = None
                  ) -> list[str]:
    """One line per running image, as the seed prints them; images without a usable
    report say why instead of counting."""
    lines = []
    for scan in image_scans(reports, containers, now):
        if scan.assessment is not None:
            lines.append(trivy.summary_line(scan.name, scan.assessment.counts))
        else:
            lines.append(f"{scan.name}: {scan.status()}")
    return lines


def html_fragment(reports: trivy.Reports, containers: Iterable, now: datetime | None = None,
                  max_age_days: int | None = None) -> str:
    """A `<section>` summarizing every running image's scan; all values escaped.

    With `max_age_days` (the policy's vulnerabilities.max_age_days), an older
    report's scan time is marked stale.
    """
    now = now or datetime.now(UTC)
    scans = image_scans(reports, containers, now)
    head = ["Image", "Services", "Report", "Scanner", "Matched by", "Scanned", *trivy.SEVERITIES,
            "Ignored"]
    rows = []
    for scan in scans:
        report = scan.match.report if scan.match and scan.assessment else None
        if report is None:
            cells = [_td(scan.name), _td(", ".join(scan.services)),
                     f'<td colspan="{len(head) - 2}" class="vuln-missing">{escape(scan.status())}</td>']
        else:
            counts = scan.assessment.counts
            age = trivy.age_days(report.created_at, now) if report.created_at else None
            scanned = (f"{report.created_at:%Y-%m-%d %H:%M} UTC ({age:.1f} days ago)"
                       if age is not None else "unknown (no CreatedAt)")
            stale = age is None or (max_age_days is not None and age > max_age_days)
            if stale and max_age_days is not None:
                scanned += f"; stale, over {max_age_days} days"
            cells = [_td(scan.name), _td(", ".join(scan.services)), _td(report.path.name),
                     _td(report.producer or "not named in the report"), _td(scan.match.how),
                     _td(scanned, "vuln-stale" if stale else ""),
                     *(_td(counts[s], f"sev-{s.lower()}" if counts[s] else "") for s in trivy.SEVERITIES),
                     _td(len(scan.assessment.ignored))]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    parts = [
        '<section class="vulnerabilities">',
        "<h2>Vulnerability scans</h2>",
        f"<p>{escape(_source(reports))}</p>",
        '<table class="vuln-summary"><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead>",
        "<tbody>" + "".join(rows) + "</tbody></table>",
    ]
    for scan in scans:
        if scan.assessment is not None and (scan.assessment.findings or scan.assessment.ignored):
            parts.append(_details(scan))
    parts.append("</section>")
    return "\n".join(parts)


def _details(scan: ImageScan) -> str:
    a = scan.assessment
    line = trivy.summary_line(scan.name, a.counts)
    out = [f"<details><summary>{escape(line)}</summary>"]
    if a.findings:
        shown = a.findings[:TOP]
        out.append('<table class="vuln-findings"><thead><tr>' + "".join(
            f"<th>{h}</th>" for h in ("Severity", "Vulnerability", "Package", "Installed", "Fixed in",
                                       "Title")) + "</tr></thead><tbody>")
        for v in shown:
            out.append("<tr>" + _td(v.severity, f"sev-{v.severity.lower()}") + _td(v.id) + _td(v.pkg)
                       + _td(v.installed) + _td(v.fixed or "no fix yet") + _td(v.title) + "</tr>")
        out.append("</tbody></table>")
        if len(a.findings) > TOP:
            out.append(f"<p>and {len(a.findings) - TOP} more</p>")
    if a.ignored:
        out.append("<p>Ignored by .trivyignore:</p><ul>" + "".join(
            f"<li>{escape(f'{v.severity} {v.id} in {v.pkg} ({rule})')}</li>" for v, rule in a.ignored)
            + "</ul>")
    if a.expired:
        out.append("<p>Expired .trivyignore entries (counted again):</p><ul>" + "".join(
            f"<li>{escape(str(rule))}</li>" for _, rule in a.expired) + "</ul>")
    out.append("</details>")
    return "".join(out)


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


def _td(value, css: str = "") -> str:
    cls = f' class="{escape(css)}"' if css else ""
    return f"<td{cls}>{escape(str(value))}</td>"
