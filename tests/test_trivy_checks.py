"""IMG-02 and IMG-03 over fake containers and the generated fixture reports, and the
report's per-image vulnerability summary (HTML fragment, seed lines). No engine."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from compliance import scans
from compliance.checks import vulnerabilities
from compliance.model import Subject, freeze
from compliance.report import vulnerabilities as report
from compliance.sources import trivy
from tests.test_trivy import BOOKWORM, FAKE_IMAGES, IMAGE_ID, NOW, make_fixtures

FORBID = ("CRITICAL", "HIGH")


def container(service="backend", reference=BOOKWORM, image=None) -> Subject:
    image = FAKE_IMAGES[0] if image is None else image
    attrs = {"Id": "c" * 64, "Name": f"/passq-staging-{service}-1", "Image": image.get("Id", IMAGE_ID),
             "Config": {"Image": reference, "Env": ["PATH=/usr/bin"]}}
    return Subject(service=service, name=attrs["Name"][1:], attrs=freeze(attrs), image=freeze(image),
                     networks=MappingProxyType({}), process=None, test_id=service)


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    return make_fixtures(tmp_path_factory.mktemp("trivy"), "cases")


def img02(cases, case, **kwargs):
    reports = trivy.load(cases / case) if isinstance(case, str) else case
    return vulnerabilities.scan_clean(kwargs.pop("container", container()), reports,
                                      kwargs.pop("max_age_days", 7), kwargs.pop("forbid", FORBID),
                                      now=NOW)


def test_clean_fresh_report_passes_with_the_seed_line(cases):
    finding = img02(cases, "clean")
    assert finding.outcome == "passed"
    assert finding.evidence.startswith(f"{BOOKWORM}: 0 CRITICAL, 0 HIGH, 2 MEDIUM, 5 LOW "
                                       "(report bookworm.json, matched by image ID; ")
    assert "0.0 days old" in finding.evidence


def test_high_findings_fail_naming_the_top_findings_and_fixes(cases):
    finding = img02(cases, "high")
    assert finding.outcome == "failed"
    assert finding.message == "should have no unignored CRITICAL/HIGH vulnerability (3 found)"
    assert "0 CRITICAL, 3 HIGH, 2 MEDIUM, 5 LOW" in finding.evidence
    assert "HIGH CVE-2023-4911 in libc6 2.36-9+deb12u1 (fixed in 2.36-9+deb12u3)" in finding.evidence
    assert "HIGH CVE-2023-5363 in libssl3 3.0.9-1 (fixed in 3.0.11-1~deb12u2)" in finding.evidence


def test_policy_forbid_decides_which_severities_fail(cases):
    assert img02(cases, "high", forbid=("CRITICAL",)).outcome == "passed"
    finding = img02(cases, "clean", forbid=("CRITICAL", "HIGH", "MEDIUM"))
    assert finding.outcome == "failed" and "MEDIUM CVE-2023-50495 in libtinfo6" in finding.evidence


def test_ignored_findings_pass_and_are_listed_not_dropped(cases):
    finding = img02(cases, "ignored")
    assert finding.outcome == "passed"
    assert "0 CRITICAL, 0 HIGH, 2 MEDIUM, 5 LOW" in finding.evidence
    future = (NOW + timedelta(days=30)).date()
    assert (f"ignored by .trivyignore: HIGH CVE-2023-4911 in libc6 (CVE-2023-4911 exp:{future}), "
            "HIGH CVE-2023-5363 in libssl3") in finding.evidence
    assert "HIGH CVE-2024-2961 in libc6 (CVE-2024-2961)" in finding.evidence


def test_an_expired_ignore_fails_again_and_says_so(cases):
    finding = img02(cases, "ignore-expired")
    assert finding.outcome == "failed" and "(1 found)" in finding.message
    assert "HIGH CVE-2023-4911 in libc6" in finding.evidence
    past = (NOW - timedelta(days=1)).date()
    assert f"expired .trivyignore entries no longer apply: CVE-2023-4911 exp:{past}" in finding.evidence


def test_stale_report_fails(cases):
    finding = img02(cases, "stale")
    assert finding.outcome == "failed"
    assert finding.message == "the report should be at most 7 days old (it is 30.0)"
    assert "30.0 days old" in finding.evidence
    assert img02(cases, "stale", max_age_days=31).outcome == "passed"


def test_stale_and_high_report_both_problems(cases, tmp_path):
    directory = make_fixtures(tmp_path, "cases", now=NOW - timedelta(days=10))
    finding = img02(directory, "high")
    assert finding.outcome == "failed"
    assert "at most 7 days old (it is 10.0)" in finding.message and "(3 found)" in finding.message


def test_no_report_for_the_running_image_fails(cases):
    other = {**FAKE_IMAGES[0], "Id": "sha256:" + "a" * 64, "RepoDigests": [],
             "RepoTags": ["passq-fixture/busybox:1.35"]}
    finding = img02(cases, "clean", container=container(reference="passq-fixture/busybox:1.35",
                                                        image=other))
    assert finding.outcome == "failed"
    assert finding.message.startswith("should have a Trivy report of the running image: scan it "
                                      "with `trivy image --format json --output ")
    assert finding.message.endswith("/passq-fixture_busybox_1.35.json passq-fixture/busybox:1.35`")
    assert "none of the 1 report(s) in" in finding.evidence and "matches its image ID or reference" \
        in finding.evidence


def test_a_report_of_another_image_under_the_same_tag_fails_and_says_so(cases):
    finding = img02(cases, "other-image")
    assert finding.outcome == "failed"
    assert "bookworm.json scanned sha256:" in finding.evidence
    assert "under the same reference: another image" in finding.evidence


def test_matched_by_digest_and_by_reference_say_so(cases):
    moved = {**FAKE_IMAGES[0], "Id": "sha256:" + "e" * 64}
    assert "matched by repo digest" in img02(cases, "clean", container=container(image=moved)).evidence
    finding = img02(cases, "by-reference")
    assert finding.outcome == "passed"
    assert "matched by reference (the report names no image ID or digest)" in finding.evidence


def test_malformed_report_is_an_error_naming_the_file(cases):
    finding = img02(cases, "malformed")
    assert finding.outcome == "error"
    assert str(cases / "malformed" / "bookworm.json") in finding.message
    assert "not valid JSON" in finding.message


def test_missing_directory_fails_stating_it():
    finding = img02(None, trivy.load(Path("/nonexistent/trivy")))
    assert finding.outcome == "failed"
    assert "the Trivy reports directory /nonexistent/trivy does not exist" in finding.evidence


def test_invalid_ignore_file_is_an_error(cases, tmp_path):
    (tmp_path / "bookworm.json").write_text((cases / "clean" / "bookworm.json").read_text())
    (tmp_path / ".trivyignore").write_text("CVE-1 exp:2027-13-01\n")
    assert img02(None, trivy.load(tmp_path)).outcome == "error"


def test_a_report_without_created_at_fails(cases, tmp_path):
    text = (cases / "clean" / "bookworm.json").read_text()

    data = json.loads(text)
    del data["CreatedAt"]
    (tmp_path / "old-trivy.json").write_text(json.dumps(data))
    finding = img02(None, trivy.load(tmp_path))
    assert finding.outcome == "failed" and "should carry CreatedAt" in finding.message


# -- IMG-03 ----------------------------------------------------------------------------


@pytest.mark.parametrize("created, outcome", [
    ("2026-11-20T08:00:00.123456789Z", "passed"),
    ("2026-10-24T12:00:00Z", "passed"),  # exactly 35 days
    ("2024-01-15T00:00:00Z", "failed"),
])
def test_image_age(created, outcome):
    finding = vulnerabilities.image_fresh(container(image={**FAKE_IMAGES[0], "Created": created}), 35,
                                          now=NOW)
    assert finding.outcome == outcome
    assert f"image={BOOKWORM} Created={created[:19]}Z" in finding.evidence
    assert "policy images.max_age_days=35" in finding.evidence
    if outcome == "failed":
        assert finding.message == "should be rebuilt on patched packages at least every 35 days"
        assert "(1048 days old;" in finding.evidence


@pytest.mark.parametrize("image", [{}, {**FAKE_IMAGES[0], "Created": "0001-01-01T00:00:00Z"},
                                   {**FAKE_IMAGES[0], "Created": None}])
def test_image_age_unknown_is_an_error(image):
    assert vulnerabilities.image_fresh(container(image=image), 35, now=NOW).outcome == "error"


# -- the report's summary ----------------------------------------------------------------


def test_summary_lines_per_image(cases, tmp_path):
    stack = [container("backend"), container("frontend"),
             container("cache", "passq-fixture/noshell:1.35",
                       {"Id": "sha256:" + "a" * 64, "RepoTags": ["passq-fixture/noshell:1.35"]})]
    assert report.summary_lines(scans.take(trivy.load(cases / "clean"), stack, NOW)) == [
        "passq-fixture/bookworm:12.1: 0 CRITICAL, 0 HIGH, 2 MEDIUM, 5 LOW",
        "passq-fixture/noshell:1.35: no report",
    ]
    assert report.summary_lines(scans.take(trivy.load(cases / "malformed"), stack[:1], NOW)) == [
        "passq-fixture/bookworm:12.1: unusable report: bookworm.json"]


def test_html_fragment_counts_findings_fixes_and_ignored(cases):
    stack = [container("backend"), container("frontend")]
    html = report.html_fragment(scans.take(trivy.load(cases / "ignore-expired"), stack, NOW))
    assert html.startswith('<section class="vulnerabilities">') and html.endswith("</section>")
    assert "<td>backend, frontend</td>" in html
    assert "<td>image ID</td>" in html
    assert '<td class="sev-high">1</td><td class="sev-medium">2</td><td class="sev-low">5</td><td>2</td>' \
        in html
    assert "<td>CVE-2023-4911</td><td>libc6</td><td>2.36-9+deb12u1</td><td>2.36-9+deb12u3</td>" in html
    assert "HIGH CVE-2024-2961 in libc6 (CVE-2024-2961)" in html  # ignored, listed
    assert "Expired .trivyignore entries" in html


def test_html_fragment_names_the_scanner_where_the_report_does(cases, tmp_path):
    data = json.loads((cases / "clean" / "bookworm.json").read_text())
    (tmp_path / "named.json").write_text(json.dumps({**data, "Trivy": {"Version": "0.57.1"}}))
    stack = [container("backend")]
    assert "<td>Trivy 0.57.1</td>" in report.html_fragment(scans.take(trivy.load(tmp_path), stack, NOW))
    assert "<td>not named in the report</td>" in report.html_fragment(scans.take(
        trivy.load(cases / "clean"), stack, NOW))


def test_html_fragment_marks_a_stale_scan(cases):
    html = report.html_fragment(scans.take(trivy.load(cases / "stale"), [container()], NOW, max_age_days=7))
    assert '<td class="vuln-stale">' in html and "30.0 days ago); stale, over 7 days" in html
    clean = scans.take(trivy.load(cases / "clean"), [container()], NOW, 7)
    assert "vuln-stale" not in report.html_fragment(clean)


def test_html_fragment_escapes_every_value(cases, tmp_path):

    data = json.loads((cases / "high" / "bookworm.json").read_text())
    data["Results"][0]["Vulnerabilities"][0]["Title"] = "<script>alert(1)</script>"
    data["Results"][0]["Vulnerabilities"][0]["PkgName"] = 'libc6"><img src=x>'
    (tmp_path / "x&y.json").write_text(json.dumps(data))
    evil = container(reference=BOOKWORM)
    html = report.html_fragment(scans.take(trivy.load(tmp_path), [evil], NOW))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "x&amp;y.json" in html


def test_html_fragment_without_reports_directory():
    html = report.html_fragment(scans.take(trivy.load(None), [container()], NOW))
    assert "no reports directory" in html and "pass --trivy-reports DIR" in html


def test_now_defaults_to_the_current_time(cases):
    assert report.summary_lines(scans.take(trivy.load(cases / "clean"), [container()]))
    assert vulnerabilities.image_fresh(container(), 3650).outcome == "passed"
    assert datetime.now(UTC) > NOW - timedelta(days=1)
