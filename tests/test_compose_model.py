"""The declared model: compose's own merge, interpolation, profiles and extends; clear errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from compliance.sources import compose_files

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "compose"


@pytest.fixture(autouse=True)
def _no_profiles_or_tag(monkeypatch):
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)
    monkeypatch.delenv("WEB_TAG", raising=False)


def test_files_merge_in_order_as_compose_merges_them():
    model = compose_files.load([DATA / "base.yml", DATA / "override.yml"])
    web = model.services["web"].config
    assert web["read_only"] is True  # the later file wins
    assert web["user"] == "1001:1001"
    assert web["cap_drop"] == ("ALL",)  # kept from the base
    assert [(p["host_ip"], p["published"], p["target"]) for p in web["ports"]] == [
        ("127.0.0.1", "8080", 80), ("127.0.0.1", "8443", 443)]  # sequences are appended
    assert model.describe() == "tests/data/compose/base.yml, tests/data/compose/override.yml" or \
        model.describe().endswith("override.yml")


def test_a_single_file_is_not_merged_with_anything():
    model = compose_files.load([DATA / "base.yml"])
    assert not model.services["web"].config.get("read_only")  # compose omits false
    assert "user" not in model.services["web"].config


def test_variables_are_interpolated(monkeypatch):
    assert compose_files.load([DATA / "base.yml"]).services["web"].image == "passq-fixture/busybox:1.35"
    monkeypatch.setenv("WEB_TAG", "latest")
    assert compose_files.load([DATA / "base.yml"]).services["web"].image == "passq-fixture/busybox:latest"


def test_extends_is_applied():
    extended = compose_files.load([DATA / "base.yml"]).services["extended"].config
    assert extended["read_only"] is True
    assert extended["security_opt"] == ("no-new-privileges:true",)
    assert extended["pids_limit"] == 50


def test_every_profile_is_declared_when_compose_profiles_is_unset():
    model = compose_files.load([DATA / "base.yml"])
    assert set(model.services) == {"web", "debug", "builder", "extended"}
    assert model.profiles == "all profiles"


def test_compose_profiles_is_honored(monkeypatch):
    monkeypatch.setenv("COMPOSE_PROFILES", "debug")
    model = compose_files.load([DATA / "base.yml"])
    assert set(model.services) == {"web", "debug", "extended"}  # not `builder` (profile tools)
    monkeypatch.setenv("COMPOSE_PROFILES", "")
    assert set(compose_files.load([DATA / "base.yml"]).services) == {"web", "extended"}


def test_secret_files_are_absolute_relative_to_the_project_directory():
    model = compose_files.load([DATA / "base.yml"])
    assert model.secret_files() == {"token": DATA / "secrets" / "token.txt"}


def test_build_only_service():
    builder = compose_files.load([DATA / "base.yml"]).services["builder"]
    assert builder.image is None and builder.build


def test_schema_error_names_the_file_and_compose_message():
    with pytest.raises(compose_files.ComposeError) as err:
        compose_files.load([DATA / "base.yml", DATA / "invalid-schema.yml"])
    message = str(err.value)
    assert message.startswith("compose file ")
    assert "invalid-schema.yml is invalid: " in message
    assert "read_onyl" in message  # compose's own words
    assert "\n" not in message


def test_yaml_error_names_the_file_even_when_compose_does_not():
    with pytest.raises(compose_files.ComposeError) as err:
        compose_files.load([DATA / "base.yml", DATA / "invalid-yaml.yml"])
    message = str(err.value)
    assert "invalid-yaml.yml is invalid: yaml: line" in message
    assert "base.yml" not in message


def test_missing_file_is_named():
    with pytest.raises(compose_files.ComposeError, match=r"--compose-file .*nope\.yml: no such file"):
        compose_files.load([DATA / "nope.yml"])


def test_compose_missing_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(compose_files, "compose_command", lambda: (_ for _ in ()).throw(
        compose_files.ComposeError("Docker Compose v2 not found: install ...")))
    with pytest.raises(compose_files.ComposeError, match="Docker Compose v2 not found"):
        compose_files.load([DATA / "base.yml"])


def test_compose_command_resolution_without_docker_plugin_or_venv(monkeypatch, tmp_path):
    monkeypatch.setattr(compose_files.shutil, "which", lambda name: None)
    monkeypatch.setattr(compose_files.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(compose_files, "REPO", tmp_path)
    monkeypatch.setattr(compose_files.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(compose_files.ComposeError, match="Docker Compose v2 not found"):
        compose_files.compose_command()


def test_model_repr_shows_no_environment_value():
    model = compose_files.load([DATA / "base.yml"])
    assert "passq" not in repr(model.services["web"]) and "web" in repr(model.services["web"])


def audit(*args):
    return subprocess.run([sys.executable, "-m", "pytest", f"--rootdir={ROOT}", f"-c={ROOT / 'pytest.ini'}",
                           *args, "--report-dir=/tmp/passq-cmp-none"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_invalid_compose_file_is_a_usage_error_of_the_suite():
    run = audit("--static-only", f"--compose-file={DATA / 'invalid-yaml.yml'}")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert "invalid-yaml.yml:5:14: malformed YAML: mapping values are not allowed here" in errors[0]
    assert "Traceback" not in run.stdout + run.stderr


def test_static_only_with_nothing_declared_is_an_error(tmp_path):
    policy = tmp_path / "policy.yml"
    policy.write_text("stack: nothing\n")
    run = audit("--static-only", f"--policy={policy}")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--static-only audits the declared config only: pass --compose-file" in run.stderr
