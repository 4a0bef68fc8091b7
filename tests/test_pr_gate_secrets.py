"""The pull-request gate on a checkout without its secrets: PassQ ignores `secrets/` in
git, so CI has none of the files. A real temporary repository, a real static run."""

import json
import os
import subprocess
import sys

from tests.recorded import ROOT

COMPOSE = """\
services:
  app:
    image: passq-fixture/busybox:1.35
    secrets: [db_password]
secrets:
  db_password:
    file: ./secrets/db_password.txt
"""


def sec03(repo, tmp_path):
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/passq-no-engine.sock")
    run = subprocess.run([sys.executable, "-m", "pytest", f"--rootdir={ROOT}", f"-c={ROOT / 'pytest.ini'}",
                          "--static-only", f"--compose-file={repo / 'compose.yml'}",
                          f"--policy={repo / 'policy.yml'}", f"--report-dir={tmp_path / 'out'}",
                          "-k", "test_secret_files_private"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    results = json.loads((tmp_path / "out" / "compliance.json").read_text())["results"]
    return run, next(r for r in results if r["control"] == "SEC-03")


def test_absent_ignored_secrets_skip_sec03_and_the_gate_passes(tmp_path):
    repo = tmp_path / "passq"
    repo.mkdir()
    (repo / "compose.yml").write_text(COMPOSE)
    (repo / "policy.yml").write_text("stack: passq\n")
    (repo / ".gitignore").write_text("secrets/\n")
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    run, result = sec03(repo, tmp_path)
    assert result["outcome"] == "skipped", result
    assert "absent and ignored by git" in result["message"]
    assert run.returncode == 0, run.stdout + run.stderr

    (repo / ".gitignore").unlink()  # not ignored: a missing secret is a failure again
    run, result = sec03(repo, tmp_path)
    assert result["outcome"] == "failed" and run.returncode == 1, result
    assert "openssl rand -base64 48 >" in result["remediation"]
    assert "generate-secrets" not in result["remediation"]  # no script the user lacks
