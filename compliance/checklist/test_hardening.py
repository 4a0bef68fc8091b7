"""Hardening: what a container may do beyond its own process (checklist: Security constraints applied)."""

import pytest

from compliance.checks import hardening


@pytest.mark.control("HRD-01")
def test_no_new_privileges(container, verdict):
    """no-new-privileges is set."""
    verdict(hardening.no_new_privileges(container))


@pytest.mark.control("HRD-02")
def test_read_only_rootfs(container, verdict):
    """Root filesystem is read-only."""
    verdict(hardening.read_only_rootfs(container))


@pytest.mark.control("HRD-03")
def test_writable_paths_tmpfs(container, service_policy, verdict):
    """Writable paths are tmpfs mounts."""
    verdict(hardening.writable_paths_tmpfs(container, service_policy))


@pytest.mark.control("HRD-04")
def test_no_host_privileges(container, service_policy, verdict):
    """Not privileged, no added capabilities, no host namespaces."""
    verdict(hardening.no_host_privileges(container, service_policy))
