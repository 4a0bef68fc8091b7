"""Resources: hard limits on memory, CPU and processes, a bounded restart policy (checklist: Resource
limits set)."""

import pytest

from compliance.checks import resources


@pytest.mark.control("RES-01")
def test_memory_limit(container, service_policy, verdict):
    """Memory limit is set and within policy."""
    verdict(resources.memory_limit(container, service_policy))


@pytest.mark.control("RES-02")
def test_cpu_limit(container, service_policy, verdict):
    """CPU limit is set and within policy."""
    verdict(resources.cpu_limit(container, service_policy))


@pytest.mark.control("RES-03")
def test_pids_limit(container, service_policy, verdict):
    """PIDs limit is set."""
    verdict(resources.pids_limit(container, service_policy))


@pytest.mark.control("RES-04")
def test_restart_bounded(container, service_policy, verdict):
    """Restart policy is bounded."""
    verdict(resources.restart_bounded(container, service_policy))
