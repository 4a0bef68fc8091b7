"""Vulnerability scanning: every running image has a clean, fresh Trivy scan and is
patched on schedule (checklist: Vulnerability scan completed)."""

import pytest

from compliance.checks import vulnerabilities


@pytest.mark.control("IMG-02")
def test_vulnerability_scan(container, policy, vulnerability_reports, verdict):
    """Image has a clean, fresh vulnerability scan.

    A Trivy report of exactly the running image (by image ID or repo digest),
    no older than the policy allows, with no unignored finding at a forbidden
    severity (default CRITICAL and HIGH).
    """
    verdict(vulnerabilities.scan_clean(container, vulnerability_reports,
                                       policy.vulnerability_max_age_days, policy.vulnerability_forbid))


@pytest.mark.control("IMG-03")
def test_image_age(container, policy, verdict):
    """Image is not older than the update schedule allows.

    Monthly patch updates: an image built longer ago than the policy's maximum
    age (default 35 days) ships packages that missed at least one update.
    """
    verdict(vulnerabilities.image_fresh(container, policy.image_max_age_days))
