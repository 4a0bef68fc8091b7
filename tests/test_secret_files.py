"""SEC-03 on real files: modes, sizes, placeholders, git tracking; never the content."""

import subprocess
from pathlib import Path
from types import MappingProxyType

import pytest

from compliance import policy as policy_module
from compliance.checks.declared import secret_files_private
from compliance.model import Stack, freeze
from compliance.sources import secret_files
from compliance.sources.compose_files import Model, display_path

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


# -- a checkout without its secrets (the pull-request gate) -----------------------------

LIVE = Stack(name="live", containers=(), networks=MappingProxyType({}), engine_host="local",
             engine_version="20.10")


def git_repo(path: Path, ignore: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "-C", str(path), "init", "-q"], check=True)
    if ignore:
        write(path / ".gitignore", ignore, 0o644)
    return path


def test_an_absent_git_ignored_secret_is_skipped_on_the_declared_files(tmp_path, monkeypatch):
    """A CI checkout lacks the whole ignored `secrets/` folder. The file's own repository
    decides, not the one the suite runs in."""
    repo = git_repo(tmp_path / "app", "secrets/\n")
    monkeypatch.chdir(git_repo(tmp_path / "elsewhere"))
    finding = check(repo / "secrets" / "db_password.txt")
    assert finding.outcome == "skipped", finding
    assert "db_password.txt is absent and ignored by git" in finding.message


def test_an_absent_git_ignored_secret_still_fails_a_live_audit(tmp_path):
    path = git_repo(tmp_path / "app", "secrets/\n") / "secrets" / "token"
    finding = secret_files_private([secret_files.inspect("token", path)], 32, LIVE)
    assert finding.outcome == "failed" and finding.evidence.endswith("token: missing")


def test_an_absent_secret_git_does_not_ignore_fails(tmp_path):
    finding = check(git_repo(tmp_path / "app", "*.log\n") / "secrets" / "token")
    assert finding.outcome == "failed" and finding.evidence.endswith("token: missing")
    assert "openssl rand -base64 48 >" in finding.remediation
    assert "generate-secrets" not in finding.remediation


def test_without_git_an_absent_secret_is_not_taken_for_ignored(tmp_path, monkeypatch):
    path = git_repo(tmp_path / "app", "secrets/\n") / "secrets" / "token"
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert check(path).outcome == "failed"


def test_a_present_secret_in_an_ignored_folder_is_still_judged(tmp_path):
    repo = git_repo(tmp_path / "app", "secrets/\n")
    finding = check(write(repo / "secrets" / "token", mode=0o644))
    assert finding.outcome == "failed" and "mode 644" in finding.evidence


def test_skipped_and_passed_files_skip_and_a_failed_one_fails(tmp_path):
    repo = git_repo(tmp_path / "app", "secrets/absent\n")
    good = secret_files.inspect("good", write(repo / "secrets" / "good"))
    absent = secret_files.inspect("absent", repo / "secrets" / "absent")
    assert secret_files_private([good, absent], 32).outcome == "skipped"
    bad = secret_files.inspect("bad", write(repo / "secrets" / "bad", mode=0o640))
    assert secret_files_private([good, absent, bad], 32).outcome == "failed"


# -- each reason its remedy --------------------------------------------------------------

def test_each_failing_file_carries_the_remedy_for_its_reason(tmp_path):
    repo = git_repo(tmp_path / "app")
    loose = secret_files.inspect("loose", write(repo / "loose", mode=0o644))
    weak = secret_files.inspect("weak", write(repo / "weak", "changeme"))
    tracked = secret_files.inspect("tracked", write(repo / "tracked"))
    subprocess.run(["git", "-C", str(repo), "add", "tracked"], check=True)
    tracked = secret_files.inspect("tracked", repo / "tracked")
    for files, remedy in (([loose], "chmod 600"), ([weak], "openssl rand -base64 48 >"),
                          ([tracked], "git rm --cached")):
        finding = secret_files_private(files, 32)
        assert finding.outcome == "failed" and remedy in finding.remediation, finding
    both = secret_files_private([loose, tracked], 32).remediation
    assert "chmod 600" in both and "git rm --cached" in both and "openssl" not in both


def test_a_secret_missing_from_the_swarm_names_how_to_create_it(tmp_path):
    swarm = Stack(name="shop", containers=(), networks=MappingProxyType({}), engine_host="local",
                  engine_version="20.10", swarm_secrets=())
    file = secret_files.inspect("token", write(tmp_path / "token"))
    finding = secret_files_private([file], 32, swarm)
    assert finding.outcome == "failed"
    assert "docker secret create shop_token" in finding.remediation


def test_a_file_is_named_as_the_user_writes_it(tmp_path, monkeypatch):
    """Reports and errors name a compose or secret file relative to the working directory:
    a link by its own path, not its target's; a path compose gives from a working directory
    reached through a link, relative all the same; a file elsewhere, as given."""
    here = tmp_path / "project"
    (here / "real").mkdir(parents=True)
    (here / "real" / "db.txt").write_text("x")
    (here / "secrets").symlink_to(here / "real")
    (tmp_path / "alias").symlink_to(here)
    monkeypatch.chdir(here)
    assert display_path(here / "secrets" / "db.txt") == "secrets/db.txt"
    assert display_path(tmp_path / "alias" / "compose.yml") == "compose.yml"
    assert display_path(Path("/etc/hostname")) == "/etc/hostname"
    assert secret_files.inspect("db", here / "secrets" / "db.txt").displayed == "secrets/db.txt"
