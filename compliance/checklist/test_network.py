"""Network: where ports listen and which networks containers join (checklist: Network isolation
configured; Ports bound to localhost only)."""

import pytest

from compliance.checks import live, network


@pytest.mark.control("NET-01")
def test_ports_bound_to_allowed_hosts(container, service_policy, verdict):
    """Published ports bind to allowed host addresses only."""
    verdict(network.published_ports_allowed(container, service_policy))


@pytest.mark.control("NET-02")
def test_allowed_networks_only(container, service_policy, verdict):
    """Attached only to the networks the policy allows."""
    verdict(network.allowed_networks_only(container, service_policy))


@pytest.mark.control("NET-03")
def test_internal_networks(stack, policy, verdict):
    """Internal networks are internal."""
    verdict(network.internal_networks(stack, policy))


@pytest.mark.control("NET-06")
def test_no_privileged_host_ports(container, service_policy, verdict):
    """No privileged host ports unless the policy allows them."""
    verdict(network.privileged_ports(container, service_policy))


@pytest.mark.control("NET-05")
def test_database_clients_tls(stack, verdict):
    """Database connections use TLS (the clients).

    Every PostgreSQL DSN in a service's environment sets sslmode=require,
    verify-ca or verify-full: libpq's default (`prefer`) falls back to
    plaintext without a word.
    """
    verdict(live.database_clients_tls(stack.containers))
