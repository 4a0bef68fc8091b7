"""Declared config: what the compose files say is what runs, and their secrets are safe
(checklist: all items; Secrets managed via Docker secrets; All images use pinned versions).

These read the `--compose-file` files (and the policy's secret files). Under
--static-only every declarable control runs on the declared services as its
containers, so the declared-image IMG-01 here is the live audit's extra look at
the `image:` lines.
"""

import pytest

from compliance.checks import declared, images


@pytest.mark.control("CMP-01")
def test_matches_declared(container, declared_stack, verdict):
    """Running container matches its declared compose config.

    A stack started from an older file, or changed by hand, no longer is what
    was reviewed: every declared hardening setting must have the same value in
    the running container.
    """
    verdict(declared.matches_declared(container, declared_stack))


@pytest.mark.control("IMG-01")
def test_declared_image_pinned(declared_service, policy, verdict):
    """Image reference is pinned (the declared `image:` line, a `build:` Dockerfile's FROMs)."""
    verdict(images.image_pinned(declared_service, policy.for_service(declared_service.service).floating_tags))


@pytest.mark.control("SEC-03")
def test_secret_files_private(secret_files, policy, stack, verdict):
    """Secret files are private and strong.

    Each secret file the compose `secrets:` section or the policy names exists,
    is mode 600 or stricter, holds enough bytes, is no placeholder and is not
    tracked by git; on a swarm, each exists as a swarm secret. Evidence names the
    file and the failed property, never the content.
    """
    verdict(declared.secret_files_private(secret_files, policy.secrets_min_bytes, stack))
