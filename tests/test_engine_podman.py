"""passq-staging and weak on Podman 4.3 (Debian's `podman`, its Docker-compatible service
started by tests/engines.py in a network namespace of its own, the stacks started by
compose v2 against its socket): every verdict is the rootful engine's, except where
Podman truly differs (docs/engines.md)."""

import pytest

from tests.engine_verdicts import Expected, audited_stacks, check_staging, check_weak

# (control, service) -> why Podman's verdict differs from the rootful engine's
PODMAN = Expected(
    passes={
        ("HRD-05", "monitor"): "Podman adds no label=disable to a container sharing a host "
                               "namespace (Docker does)",
        ("HRD-05", "jobs"): "Podman adds no label=disable to a container sharing a host namespace",
    },
    fails={
        ("CMP-01", "jobs"): "ipc: declared host, Podman 4.3's inspect says shareable",
    },
    errors={
        ("HRD-04", "jobs"): "Podman 4.3's inspect says IpcMode=shareable for ipc: host, and "
                            "jobs has exited: no kernel to ask",
    },
)


@pytest.fixture(scope="module")
def stacks(docker_engine, tmp_path_factory):
    yield from audited_stacks("podman", tmp_path_factory)


def test_passq_staging_passes_on_podman(stacks):
    check_staging(stacks["passq-staging"], PODMAN)


def test_weak_fails_where_it_does_on_docker_but_for_podmans_own(stacks):
    check_weak(stacks["weak"], PODMAN)


def test_podmans_own_spellings_are_neither_drift_nor_the_default_bridge(stacks):
    """Podman drops `cap_drop: [ALL]` as the list of default capabilities, writes bare
    `no-new-privileges`, adds tmpfs at /run and /var/tmp, and calls every bridge network's
    NetworkMode "bridge": db runs as declared, and joins only weak_db."""
    results = {(r["control"], r["service"]): r for r in stacks["weak"].results}
    assert results[("CMP-01", "db")]["outcome"] == "passed", results[("CMP-01", "db")]
    assert results[("NET-02", "db")]["outcome"] == "passed", results[("NET-02", "db")]
