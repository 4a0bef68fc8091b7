"""Hardening: what a container may do beyond its own process (checklist: Security constraints applied)."""

import pytest

from compliance.checks import confinement, hardening, host_paths, processes


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


@pytest.mark.control("HRD-05")
def test_security_profiles_enabled(container, verdict):
    """Security profiles are not disabled (seccomp, AppArmor, SELinux)."""
    verdict(confinement.profiles_enabled(container))


@pytest.mark.control("HRD-06")
def test_capabilities_dropped(container, service_policy, verdict):
    """Capabilities are dropped to what the service needs."""
    verdict(confinement.capabilities_dropped(container, service_policy))


@pytest.mark.control("HRD-07")
def test_no_sensitive_host_access(container, service_policy, verdict):
    """No sensitive host paths, host devices or shared mount propagation."""
    verdict(host_paths.no_sensitive_host_access(container, service_policy))


@pytest.mark.control("HRD-08")
def test_no_remote_login_daemon(container, verdict):
    """No remote-login daemon runs in the container."""
    verdict(processes.no_remote_login(container))
