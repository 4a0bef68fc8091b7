"""Image security: every running image is pinned (checklist: All images use pinned versions), its
history holds no secrets (Secrets managed via Docker secrets) and it carries no setuid files
beyond the allow-list (Security constraints applied)."""

import pytest

from compliance.checks import image_contents, images


@pytest.mark.control("IMG-01")
def test_image_pinned(container, service_policy, verdict):
    """Image reference is pinned."""
    verdict(images.image_pinned(container, service_policy.floating_tags))


@pytest.mark.control("IMG-04")
def test_image_history_clean(container, policy, verdict):
    """Image build history holds no secrets and no unverified remote ADD."""
    verdict(image_contents.history_clean(container, policy))


@pytest.mark.control("IMG-05")
def test_no_setid_files(container, service_policy, verdict):
    """No setuid/setgid files beyond the policy's allow-list."""
    verdict(image_contents.setid_allowed(container, service_policy))
