"""scripts/generate-secrets: creates only what is missing, mode 600, random, never prints a value."""

import base64
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "generate-secrets"
COMPOSE = """
services:
  app:
    image: passq-fixture/busybox:1.35
    secrets: [api_token, db_password]
secrets:
  api_token:
    file: ./secrets/api_token
  db_password:
    file: ./nested/dir/db_password.txt
  unused_key:
    file: ./secrets/unused_key
  from_env:
    environment: HOME
"""


def run(*args, cwd=ROOT):
    return subprocess.run([str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def project(tmp_path) -> Path:
    compose = tmp_path / "compose.yml"
    compose.write_text(COMPOSE)
    return compose


def test_help_is_a_usage_line_for_users():
    done = run("--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: scripts/generate-secrets COMPOSE_FILE")
    assert "mode 600" in done.stdout


def test_no_argument_is_a_usage_error():
    done = run()
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_creates_every_missing_file_mode_600_with_64_base64_chars(tmp_path):
    done = run(project(tmp_path))
    assert done.returncode == 0, done.stderr
    files = [tmp_path / "secrets" / "api_token", tmp_path / "nested" / "dir" / "db_password.txt",
             tmp_path / "secrets" / "unused_key"]
    contents = []
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        data = path.read_bytes()
        assert len(data) == 64 and len(base64.b64decode(data, validate=True)) == 48
        contents.append(data)
        assert f"generated {path}" in done.stdout
        assert data.decode() not in done.stdout + done.stderr  # never printed
    assert len(set(contents)) == 3  # random, not one value reused
    assert stat.S_IMODE((tmp_path / "nested").stat().st_mode) == 0o700


def test_never_overwrites_an_existing_file_nor_changes_its_mode(tmp_path):
    compose = project(tmp_path)
    existing = tmp_path / "secrets" / "api_token"
    existing.parent.mkdir()
    existing.write_text("kept-as-is")
    existing.chmod(0o644)
    done = run(compose)
    assert done.returncode == 0, done.stderr
    assert existing.read_text() == "kept-as-is"
    assert stat.S_IMODE(existing.stat().st_mode) == 0o644  # SEC-03 reports it; we do not touch it
    assert str(existing) not in done.stdout  # only what it generated is named
    first = (tmp_path / "secrets" / "unused_key").read_bytes()
    assert run(compose).returncode == 0  # idempotent
    assert (tmp_path / "secrets" / "unused_key").read_bytes() == first


def test_never_follows_a_symlink(tmp_path):
    compose = project(tmp_path)
    target = tmp_path / "elsewhere"
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "api_token").symlink_to(target)  # dangling
    assert run(compose).returncode == 0
    assert not target.exists()


def test_generated_files_pass_sec_03(tmp_path):
    from compliance.checks.declared import secret_files_private
    from compliance.sources import compose_files as compose_module
    from compliance.sources import secret_files

    compose = project(tmp_path)
    assert run(compose).returncode == 0
    model = compose_module.load([compose])
    finding = secret_files_private(secret_files.collect(model, None, tmp_path), 32)
    assert finding.outcome == "passed", finding


def test_invalid_compose_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  app:\n   image: x:1\n    user: 1\n")
    done = run(bad)
    assert done.returncode != 0
    assert "compose.yml is invalid: yaml: line" in done.stderr
    assert "Traceback" not in done.stderr
