"""pytest-testinfra hosts for the team's own checks: `host` (each container of the audited
stack) and `engine_host` (the machine the engine runs on).

A user's own test file runs against every container of the stack, as testinfra users
write it:

    def test_nginx_tls(host):
        assert host.file("/etc/nginx/nginx.conf").contains("ssl_protocols TLSv1.3")

The plugin parametrizes `host` over the stack's containers (test ids name the
service, as the compliance tests do) and records each outcome in the same reports and
gate, as the team's own check (control `OWN`), not a catalog control. These fixtures
replace testinfra's own `host` (which would run on this machine): the plugin registers
this module after testinfra's, so its definitions win.
"""

import os

import pytest
import testinfra

from compliance import sources
from compliance.audit import AUDIT


@pytest.fixture
def host(request, pytestconfig):
    """The container this test runs against, as a testinfra host (`docker://<id>`; every
    command is a `docker exec` as the container's own user)."""
    container = request.param
    docker_host = pytestconfig.getoption("docker_host")
    if docker_host:  # testinfra's docker backend runs the docker CLI: point it at the engine
        os.environ["DOCKER_HOST"] = docker_host
    return testinfra.get_host(f"docker://{container.id}")


@pytest.fixture(scope="session")
def engine_host(pytestconfig):
    """The engine's host as a testinfra host: `local://` for a local socket, `ssh://` when
    the engine is reached over ssh; skipped for a tcp:// engine, which offers none."""
    engine = pytestconfig.stash[AUDIT].engine
    seen = sources.inside.engine_host(engine) if engine else None
    if seen is None:
        pytest.skip(f"no view of the engine's host: {engine.host if engine else 'no engine'}")
    return seen.host
