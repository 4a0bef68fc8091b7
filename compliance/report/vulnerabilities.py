"""The per-image vulnerability summary of the reports (IMG-02's scans, as the seed prints them).

Both render the run's Scans (compliance/scans.py): `summary_lines` gives the
seed's lines (`passq-backend: 0 CRITICAL, 0 HIGH, 2 MEDIUM, 5 LOW`);
`html_fragment` a self-contained HTML section (counts per severity, top
findings with their fixed versions, ignored findings) for compliance.html.
Every value in the HTML is escaped.
"""

from html import escape

from compliance.scans import SEVERITIES, ImageScan, Scans, age_days, summary_line

TOP = 10  # findings listed per image


def summary_lines(scans: Scans) -> list[str]:
    """One line per running image, as the seed prints them; images without a usable
    report say why instead of counting."""
    lines = []
    for scan in scans.images:
        if scan.assessment is not None:
            lines.append(summary_line(scan.name, scan.assessment.counts))
        else:
            lines.append(f"{scan.name}: {scan.status()}")
    return lines


def html_fragment(scans: Scans) -> str:
    """A `<section>` summarizing every running image's scan; all values escaped.

    With the policy's vulnerabilities.max_age_days, an older report's scan time is
    marked stale.
    """
    now, max_age_days = scans.taken_at, scans.max_age_days
    head = ["Image", "Services", "Report", "Scanner", "Matched by", "Scanned", *SEVERITIES,
            "Ignored"]
    rows = []
    for scan in scans.images:
        report = scan.match.report if scan.match and scan.assessment else None
        if report is None:
            cells = [_td(scan.name), _td(", ".join(scan.services)),
                     f'<td colspan="{len(head) - 2}" class="vuln-missing">{escape(scan.status())}</td>']
        else:
            counts = scan.assessment.counts
            age = age_days(report.created_at, now) if report.created_at else None
            scanned = (f"{report.created_at:%Y-%m-%d %H:%M} UTC ({age:.1f} days ago)"
                       if age is not None else "unknown (no CreatedAt)")
            stale = age is None or (max_age_days is not None and age > max_age_days)
            if stale and max_age_days is not None:
                scanned += f"; stale, over {max_age_days} days"
            cells = [_td(scan.name), _td(", ".join(scan.services)), _td(report.path.name),
                     _td(report.producer or "not named in the report"), _td(scan.match.how),
                     _td(scanned, "vuln-stale" if stale else ""),
                     *(_td(counts[s], f"sev-{s.lower()}" if counts[s] else "") for s in SEVERITIES),
                     _td(len(scan.assessment.ignored))]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    parts = [
        '<section class="vulnerabilities">',
        "<h2>Vulnerability scans</h2>",
        f"<p>{escape(scans.source)}</p>",
        '<table class="vuln-summary"><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead>",
        "<tbody>" + "".join(rows) + "</tbody></table>",
    ]
    for scan in scans.images:
        if scan.assessment is not None and (scan.assessment.findings or scan.assessment.ignored):
            parts.append(_details(scan))
    parts.append("</section>")
    return "\n".join(parts)


def _details(scan: ImageScan) -> str:
    a = scan.assessment
    line = summary_line(scan.name, a.counts)
    out = [f"<details><summary>{escape(line)}</summary>"]
    if a.findings:
        top = a.findings[:TOP]
        out.append('<table class="vuln-findings"><thead><tr>' + "".join(
            f"<th>{h}</th>" for h in ("Severity", "Vulnerability", "Package", "Installed", "Fixed in",
                                       "Title")) + "</tr></thead><tbody>")
        for v in top:
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


def _td(value, css: str = "") -> str:
    cls = f' class="{escape(css)}"' if css else ""
    return f"<td{cls}>{escape(str(value))}</td>"
