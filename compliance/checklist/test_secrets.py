"""Secrets: credentials come from Docker secrets (checklist: Secrets managed via Docker secrets)."""

import pytest

from compliance.checks import secrets


@pytest.mark.control("SEC-01")
def test_required_secrets_mounted(container, service_policy, verdict):
    """Required Docker secrets are mounted."""
    verdict(secrets.required_secrets_mounted(container, service_policy))


@pytest.mark.control("SEC-01")
def test_required_secrets_readable_inside(container, service_policy, verdict):
    """Required Docker secrets are mounted (seen from inside).

    Each required secret is a regular file that the container's main process may
    read, by the kernel's permission rules, as the engine host sees it through
    /proc/<pid>/root.
    """
    verdict(secrets.required_secrets_readable(container, service_policy))


@pytest.mark.control("SEC-02")
def test_no_plaintext_secrets_in_env(container, policy, verdict):
    """No plaintext secrets in the environment."""
    verdict(secrets.no_plaintext_secrets(container, policy))
