"""passq-staging and weak on rootless Docker (Debian's rootlesskit, uidmap and slirp4netns;
dockerd-rootless.sh run by the user passq-rootless, its socket in that user's
$XDG_RUNTIME_DIR, all in a network namespace of its own): every verdict is the rootful
engine's, except where rootless Docker truly differs (docs/engines.md)."""

import pytest

from tests import engines
from tests.engine_verdicts import Expected, audited_stacks, check_staging, check_weak

WEAK_SERVICES = ("web", "api", "db", "worker", "cache", "monitor", "sidecar", "jobs")
LIMITS = ("RES-01", "RES-02", "RES-03")
# On a cgroup v1 host rootless Docker runs every container without cgroups of its own: the
# limits it records in HostConfig are applied by nothing.
NO_CGROUPS = "rootless Docker on cgroup v1: no limit is enforced"
# Rootless Docker cannot start a container in the host's pid or ipc namespace, so weak runs
# there with monitor's `pid: host` and jobs' `ipc: host` dropped (tests/engines.py OVERRIDES).
DROPPED = "rootless Docker cannot run it in the host's namespace: the stack runs without it"
ROOTLESS = Expected(
    passes={("HRD-04", "jobs"): DROPPED, ("HRD-05", "jobs"): DROPPED,
            # the engine adds label=disable for a host pid or ipc namespace, not for host network
            ("HRD-05", "monitor"): DROPPED},
    fails={**{(control, service): NO_CGROUPS for control in LIMITS for service in WEAK_SERVICES},
           ("CMP-01", "monitor"): DROPPED, ("CMP-01", "jobs"): DROPPED},
    staging_fails={(control, service): NO_CGROUPS for control in LIMITS
                   for service in ("db", "backend", "frontend")},
)


@pytest.fixture(scope="module")
def stacks(docker_engine, tmp_path_factory):
    yield from audited_stacks("rootless", tmp_path_factory)


def test_passq_staging_fails_only_the_limits_rootless_docker_cannot_apply(stacks):
    check_staging(stacks["passq-staging"], ROOTLESS)


def test_weak_fails_where_it_does_on_docker_and_on_every_limit(stacks):
    check_weak(stacks["weak"], ROOTLESS)


def test_uid_0_inside_fails_and_says_which_host_uid_it_is(stacks):
    results = {(r["control"], r["service"]): r for r in stacks["weak"].results}
    api = results[("USR-01", "api")]
    assert api["outcome"] == "failed", api
    assert f"0:0, {engines.ROOTLESS_UID}:{engines.ROOTLESS_UID} on the host" in api["evidence"]
    assert "engine rootless Docker 20.10" in api["evidence"]
    db = results[("USR-01", "db")]  # 1001 inside is the user's subordinate 401000 outside
    assert f"1001:1001, {engines.rootless_host_id(1001)}:" in db["evidence"], db
    memory = results[("RES-01", "db")]
    assert "CgroupDriver=none" in memory["evidence"] and "rootless Docker" in memory["message"]


def test_the_view_from_the_engine_host_finds_a_rootless_containers_processes(stacks):
    """No cgroup names a rootless container here: its processes are its pid namespace's."""
    results = {(r["control"], r["service"]): r for r in stacks["weak"].results}
    assert results[("HRD-08", "worker")]["outcome"] == "failed"
    assert "telnetd" in results[("HRD-08", "worker")]["evidence"]
    assert results[("HRD-08", "web")]["outcome"] == "passed", results[("HRD-08", "web")]
