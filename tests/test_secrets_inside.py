"""SEC-01 seen from inside: compose binds a file secret with its host owner and mode, so a
root-owned 0600 secret is unreadable by a service running as 1001 although every inspect
fact looks right. The suite stats it through the engine host's /proc/<pid>/root."""

import contextlib
import json
import os
import uuid

import docker
import pytest

from compliance.sources import compose
from tests.live import audit

BUSYBOX = "passq-fixture/busybox:1.35"


@pytest.fixture
def bound_secret(docker_engine, tmp_path):
    """run(owner) -> project: one service `app` as 1001:1001 with /run/secrets/token bound
    from a 0600 file owned by `owner`."""
    client = docker.from_env()
    created = []

    def run(owner: int) -> str:
        secret = tmp_path / f"token-{owner}.txt"
        secret.write_text("pqf-inside-token-" + uuid.uuid4().hex)
        secret.chmod(0o600)
        os.chown(secret, owner, owner)
        project = f"pqs-{uuid.uuid4().hex[:8]}"
        created.append(client.containers.run(
            BUSYBOX, ["sleep", "300"], detach=True, user="1001:1001", network_mode="none",
            volumes={str(secret): {"bind": "/run/secrets/token", "mode": "ro"}},
            labels={compose.PROJECT_LABEL: project, compose.SERVICE_LABEL: "app"}))
        (tmp_path / f"{project}.yml").write_text(
            f"stack: {project}\nservices:\n  app:\n    secrets: [token]\n")
        return project

    yield run
    for container in created:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def sec01(project: str, tmp_path) -> dict:
    run = audit("--stack", project, f"--policy={tmp_path / f'{project}.yml'}", "-k",
                "required_secrets", report_dir=tmp_path / project)
    doc = json.loads((tmp_path / project / "compliance.json").read_text())
    mounted, result = sorted((r for r in doc["results"] if r["control"] == "SEC-01"),
                             key=lambda r: "inside" in r["test"])
    assert mounted["outcome"] == "passed", mounted  # every inspect fact looks right
    assert result, run.output
    return result


def test_a_root_owned_0600_secret_is_unreadable_by_the_service_and_fails(bound_secret, tmp_path):
    result = sec01(bound_secret(0), tmp_path)
    assert result["outcome"] == "failed", result
    assert "not readable: token" in result["message"]
    assert "/run/secrets/token: file, owner 0:0, mode 0600" in result["evidence"]
    assert "main process uid 1001 gid 1001" in result["evidence"]
    # the secret is declared: the remedy is the host file's owner, not a `secrets:` entry
    assert "chown 1001:1001 " in result["remediation"] and "Declare" not in result["remediation"]


def test_a_secret_owned_by_the_services_uid_passes(bound_secret, tmp_path):
    result = sec01(bound_secret(1001), tmp_path)
    assert result["outcome"] == "passed", result
    assert "/run/secrets/token: file, owner 1001:1001, mode 0600" in result["evidence"]
