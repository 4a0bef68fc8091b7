"""Network isolation, live (checklist: Network isolation configured).

Proven from inside the stack: probe containers join a service container's
network namespace and try the policy's flows and the database's TLS.
`--no-live` skips these.
"""

import pytest

from compliance.checks import live as checks


@pytest.mark.control("NET-04")
def test_flows_live(stack, live, verdict):
    """Denied flows are unreachable, allowed flows work.

    For each policy flow a TCP connect is tried from inside the source
    container's network namespace to every address of the target service:
    a denied flow must fail everywhere, an allowed flow must connect.
    """
    __tracebackhide__ = True
    verdict(checks.flows(live.flows()))


@pytest.mark.control("NET-05")
def test_database_tls_live(stack, policy, live, verdict):
    """Database connections use TLS (the server).

    The policy's database answers PostgreSQL's SSLRequest with `S`.
    """
    __tracebackhide__ = True
    observed = live.tls() if policy.database else []
    verdict(checks.database_server_tls(policy.database, observed))
