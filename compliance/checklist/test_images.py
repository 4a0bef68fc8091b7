"""Image security: every running image is pinned (checklist: All images use pinned versions)."""

import pytest

from compliance.checks import images


@pytest.mark.control("IMG-01")
def test_image_pinned(container, service_policy, verdict):
    """Image reference is pinned."""
    verdict(images.pinned_reference(container.image_ref, service_policy.floating_tags))
