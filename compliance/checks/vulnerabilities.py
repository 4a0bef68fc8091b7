"""Vulnerability checks: a clean, fresh scan of the running image (IMG-02), image age (IMG-03)."""

from collections.abc import Sequence
from datetime import UTC, datetime

from compliance import scans
from compliance.outcomes import Finding, failed, passed, undecided

TOP = 5  # forbidden findings named in the evidence


def scan_clean(container, reports: scans.Reports, max_age_days: int, forbid: Sequence[str],
               now: datetime | None = None) -> Finding:
    """IMG-02: the running image has a Trivy report, fresh, with no unignored forbidden finding."""
    now = now or datetime.now(UTC)
    name = container.image_ref or container.attrs.get("Image", "")
    image = dict(container.image) or {"Id": container.attrs.get("Image")}
    image_id = image.get("Id") or ""
    subject = f"image={name} ({image_id[:19]})" if image_id else f"image={name}"
    if reports.error:
        return undecided(reports.error, subject)
    if reports.missing:
        return failed(_scan_it(name, reports), f"{subject}: {reports.missing}")
    match = reports.match(image, name)
    if match.broken:
        files = "; ".join(f"{b.problem}" for b in match.broken)
        return undecided(f"unusable Trivy report that may be this image's: {files}", subject)
    if match.report is None:
        keys = "image ID, repo digest" if image.get("RepoDigests") else "image ID"
        evidence = (f"{subject}: none of the {len(reports.reports)} report(s) in {reports.directory} "
                    f"matches its {keys} or reference")
        if match.other_images:
            evidence += "; " + "; ".join(
                f"{r.path.name} scanned {r.image_id or ', '.join(r.repo_digests)} under the same "
                f"reference: another image" for r in match.other_images)
        return failed(_scan_it(name, reports), _with_notes(evidence, reports))

    report = match.report
    assessment = reports.assess(report, now)
    problems = []
    if report.created_at is None:
        scanned = "no CreatedAt"
        problems.append("the report should carry CreatedAt so its age can be shown")
    else:
        age = scans.age_days(report.created_at, now)
        scanned = f"CreatedAt {report.created_at:%Y-%m-%dT%H:%M:%SZ}, {age:.1f} days old"
        if age > max_age_days:
            problems.append(f"the report should be at most {max_age_days} days old (it is {age:.1f})")
    evidence = [f"{scans.summary_line(name, assessment.counts)} (report {report.path.name}, "
                f"matched by {match.how}; {scanned})"]
    forbidden = [v for v in assessment.findings if v.severity in set(forbid)]
    if forbidden:
        problems.append(f"should have no unignored {'/'.join(forbid)} vulnerability "
                        f"({len(forbidden)} found)")
        more = f" (+{len(forbidden) - TOP} more)" if len(forbidden) > TOP else ""
        evidence.append("forbidden: " + ", ".join(str(v) for v in forbidden[:TOP]) + more)
    if assessment.counts[scans.UNKNOWN]:
        evidence.append(f"{assessment.counts[scans.UNKNOWN]} UNKNOWN")
    if assessment.ignored:
        evidence.append("ignored by .trivyignore: " + ", ".join(
            f"{v.severity} {v.id} in {v.pkg} ({rule})" for v, rule in assessment.ignored))
    if assessment.expired:
        evidence.append("expired .trivyignore entries no longer apply: " + ", ".join(
            f"{rule}" for _, rule in assessment.expired))
    if match.superseded:
        evidence.append("older reports of the same image: " + ", ".join(
            r.path.name for r in match.superseded))
    text = _with_notes("; ".join(evidence), reports)
    if problems:
        return failed("; ".join(problems), text)
    return passed(text)


def image_fresh(container, max_age_days: int, now: datetime | None = None) -> Finding:
    """IMG-03: the image was built (`Created`) within the update schedule's maximum age."""
    now = now or datetime.now(UTC)
    name = container.image_ref or container.attrs.get("Image", "")
    if not container.image:
        return undecided("the container's image is gone from the engine: its Created date is unknown",
                         f"image={name}")
    created_text = container.image.get("Created")
    created = scans.parse_time(created_text)
    if created is None or created.year <= 1:
        return undecided(f"the image inspect has no usable Created date ({created_text!r})",
                         f"image={name}")
    age = scans.age_days(created, now)
    evidence = (f"image={name} Created={created:%Y-%m-%dT%H:%M:%SZ} ({age:.0f} days old; "
                f"policy images.max_age_days={max_age_days})")
    if age > max_age_days:
        return failed(f"should be rebuilt on patched packages at least every {max_age_days} days",
                      evidence)
    return passed(evidence)


def _scan_it(name: str, reports: scans.Reports) -> str:
    """The failure of an image nobody scanned: what to run to produce its report."""
    directory = reports.directory or "reports/trivy"
    return (f"should have a Trivy report of the running image: scan it with `trivy image "
            f"--format json --output {directory}/{scans.report_name(name)} {name}`")


def _with_notes(evidence: str, reports: scans.Reports) -> str:
    return "; ".join((evidence, *reports.notes))
