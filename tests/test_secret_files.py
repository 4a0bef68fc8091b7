"""SEC-03 on real files: modes, sizes, placeholders, git tracking; never the content."""

import subprocess
from pathlib import Path
from types import MappingProxyType

import pytest

from compliance import policy as policy_module
from compliance.checks.declared import secret_files_private
from compliance.model import freeze
from compliance.sources import secret_files
from compliance.sources.compose_files import Model

STRONG = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6"  # 64 bytes


def write(path: Path, content: str = STRONG, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(mode)
    return path


def check(path: Path, min_bytes: int = 32):
    return secret_files_private([secret_files.inspect(path.name, path)], min_bytes)


def test_mode_600_strong_untracked_passes(tmp_path):
    finding = check(write(tmp_path / "token"))
    assert finding.outcome == "passed", finding
    assert finding.evidence.endswith("token: mode 600, 64 bytes, untracked")


def test_stricter_than_600_passes(tmp_path):
    assert check(write(tmp_path / "token", mode=0o400)).outcome == "passed"


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660])
def test_group_or_other_bits_fail(tmp_path, mode):
    finding = check(write(tmp_path / "token", mode=mode))
    assert finding.outcome == "failed"
    assert f"token: mode {mode:03o} (group/other bits set; should be 600 or stricter)" in finding.evidence


def test_empty_file_fails(tmp_path):
    finding = check(write(tmp_path / "token", ""))
    assert finding.outcome == "failed"
    assert "token: 0 bytes (min 32)" in finding.evidence


def test_short_file_fails_on_the_policy_minimum(tmp_path):
    path = write(tmp_path / "token", "x9" * 12)  # 24 bytes
    assert "24 bytes (min 32)" in check(path).evidence
    assert check(path, min_bytes=16).outcome == "passed"


def test_surrounding_whitespace_does_not_count(tmp_path):
    finding = check(write(tmp_path / "token", "\n" + "ab1" * 10 + "  \n\n"))
    assert "30 bytes (min 32)" in finding.evidence


@pytest.mark.parametrize("content", ["changeme", "  ChangeMe\n", "password", "SECRET", "example\n",
                                     "x" * 40, "0" * 64])
def test_placeholders_fail_without_showing_the_value(tmp_path, content):
    finding = check(write(tmp_path / "token", content))
    assert finding.outcome == "failed"
    assert "a known placeholder value" in finding.evidence
    stripped = content.strip()
    assert stripped not in finding.evidence and stripped not in finding.message


def test_a_long_value_containing_a_placeholder_word_is_fine(tmp_path):
    assert check(write(tmp_path / "token", "password-" + STRONG)).outcome == "passed"


def test_git_tracked_secret_fails(tmp_path):
    repo = tmp_path / "repo"
    path = write(repo / "secrets" / "token")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    assert check(path).outcome == "passed"  # in a repository, not tracked
    subprocess.run([*git, "add", "secrets/token"], check=True)
    finding = check(path)
    assert finding.outcome == "failed"
    assert finding.evidence.endswith("token: tracked by git")


def test_git_ignored_secret_in_a_repository_passes(tmp_path):
    repo = tmp_path / "repo"
    write(repo / ".gitignore", "secrets/\n", 0o644)
    path = write(repo / "secrets" / "token")
    subprocess.run(["git", "-C", str(repo), "init", "-q"], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    assert check(path).outcome == "passed"


def test_a_directory_is_not_a_secret_file(tmp_path):
    (tmp_path / "token").mkdir(mode=0o700)
    finding = check(tmp_path / "token")
    assert finding.outcome == "failed"
    assert finding.evidence.endswith("token: not a regular file")


def test_a_missing_file_fails(tmp_path):
    finding = check(tmp_path / "token")
    assert finding.outcome == "failed"
    assert finding.evidence.endswith("token: missing")


def test_several_problems_of_several_files_are_all_reported(tmp_path):
    files = [secret_files.inspect("a", write(tmp_path / "a", "changeme", 0o644)),
             secret_files.inspect("b", write(tmp_path / "b")),
             secret_files.inspect("c", tmp_path / "c")]
    finding = secret_files_private(files, 32)
    assert finding.outcome == "failed"
    assert "a: mode 644 (group/other bits set; should be 600 or stricter), 8 bytes (min 32), " \
           "a known placeholder value" in finding.evidence
    assert "b: mode 600, 64 bytes, untracked" in finding.evidence
    assert "c: missing" in finding.evidence
    assert "changeme" not in finding.evidence + finding.message


def test_unreadable_file_is_an_error_not_a_pass(tmp_path, monkeypatch):
    path = write(tmp_path / "token")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(secret_files, "open", denied, raising=False)
    finding = check(path)
    assert finding.outcome == "error"
    assert "cannot read: Permission denied" in finding.message


def test_nothing_named_is_not_applicable():
    finding = secret_files_private(None, 32)
    assert finding.outcome == "skipped"


# -- which files: compose `secrets:` and the policy -------------------------------------------

def load_policy(tmp_path, text):
    path = tmp_path / "policy.yml"
    path.write_text(text)
    return policy_module.load(path)


def model(tmp_path, secrets) -> Model:
    return Model(files=(tmp_path / "deploy" / "compose.yml",), name="t", services=MappingProxyType({}),
                 networks=freeze({}), secrets=freeze(secrets), profiles="all profiles")


POLICY = """
services:
  db: {secrets: [postgres_password]}
  backend: {secrets: [postgres_password, jwt_secret]}
secrets: {dir: secrets, min_bytes: 32}
"""


def test_policy_names_files_as_name_txt_or_bare_name(tmp_path):
    write(tmp_path / "secrets" / "jwt_secret")  # bare name exists, .txt does not
    named = secret_files.named_files(None, load_policy(tmp_path, POLICY), tmp_path)
    assert [(n, p.relative_to(tmp_path).as_posix(), s) for n, p, s, _ in named] == [
        ("jwt_secret", "secrets/jwt_secret", "policy"),
        ("postgres_password", "secrets/postgres_password.txt", "policy")]


def test_with_compose_files_only_their_secrets_count_not_the_policys_folder(tmp_path):
    """The policy's secrets.dir of the folder the suite runs in holds somebody else's files
    (the suite's own checkout): a compose project is judged on the files it declares."""
    write(tmp_path / "secrets" / "jwt_secret.txt")
    path = tmp_path / "deploy" / "secrets" / "postgres_password.txt"
    declared = model(tmp_path, {"db_pw": {"file": str(path)}, "ext": {"external": True}})
    named = secret_files.named_files(declared, load_policy(tmp_path, POLICY), tmp_path)
    assert [(n, p, s) for n, p, s, _ in named] == [("db_pw", path, "compose")]


def test_a_compose_file_that_declares_no_secrets_names_no_secret_file(tmp_path):
    write(tmp_path / "secrets" / "jwt_secret.txt")
    assert secret_files.collect(model(tmp_path, {}), load_policy(tmp_path, POLICY), tmp_path) is None


def test_collect_is_none_when_nothing_names_a_secret(tmp_path):
    assert secret_files.collect(None, load_policy(tmp_path, "stack: x\n"), tmp_path) is None
    assert secret_files.collect(model(tmp_path, {}), None, tmp_path) is None


def test_facts_never_hold_the_content(tmp_path):
    facts = secret_files.inspect("t", write(tmp_path / "t", "changeme", 0o600))
    assert "changeme" not in repr(facts)
