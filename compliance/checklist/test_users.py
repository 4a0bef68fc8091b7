"""Users: containers run as non-root users (checklist: Containers run as non-root users)."""

import pytest

from compliance.checks import users


@pytest.mark.control("USR-01")
def test_non_root_user(container, service_policy, verdict):
    """Container runs as a non-root user."""
    verdict(users.non_root(container, service_policy))
