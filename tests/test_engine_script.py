"""scripts/engine's options for the other engines fail clearly where they cannot act
(starting one is tests/test_engine_podman.py's and tests/test_engine_rootless.py's job)."""

import subprocess

from tests.live import ROOT

ENGINE = str(ROOT / "scripts" / "engine")


def test_an_unknown_option_is_a_usage_error():
    done = subprocess.run([ENGINE, "--dockerd"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "usage: engine [--podman | --rootless | --stop DOCKER_HOST]" in done.stderr


def test_stopping_an_engine_it_did_not_start_changes_nothing_and_says_so(tmp_path):
    host = f"unix://{tmp_path}/docker.sock"
    done = subprocess.run([ENGINE, "--stop", host], capture_output=True, text=True)
    assert done.returncode != 0
    assert f"no engine started by scripts/engine serves {host}" in done.stderr
    assert list(tmp_path.iterdir()) == []
