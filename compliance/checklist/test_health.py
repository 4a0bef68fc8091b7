"""Health: every service defines a healthcheck, runs and is healthy (checklist: Health checks enabled)."""

import pytest

from compliance.checks import health


@pytest.mark.control("HLT-01")
def test_healthcheck_defined(container, verdict):
    """A healthcheck is defined."""
    verdict(health.healthcheck_defined(container))


@pytest.mark.control("HLT-02")
def test_running_and_healthy(container, restarts, verdict):
    """The container is running and healthy."""
    verdict(health.running_and_healthy(container, restarts))


@pytest.mark.control("HLT-02")
def test_policy_services_running(stack, policy, verdict):
    """The container is running and healthy (stack).

    Every service the policy names has a container: a named service that is not
    running at all is a failure, never a silent gap in the audit.
    """
    verdict(health.policy_services_present(stack, policy))
