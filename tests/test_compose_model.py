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


def test_every_profile_is_declared():
    model = compose_files.load([DATA / "base.yml"])
    assert set(model.services) == {"web", "debug", "builder", "extended"}
    assert model.profiles == "all profiles"


def test_compose_profiles_leaves_no_service_out_of_the_gate(monkeypatch):
    """A CI job that sets COMPOSE_PROFILES for its deployment still gates every service."""
    for profiles in ("debug", ""):
        monkeypatch.setenv("COMPOSE_PROFILES", profiles)
        assert set(compose_files.load([DATA / "base.yml"]).services) == {"web", "debug", "builder",
                                                                         "extended"}


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
    monkeypatch.setattr(compose_files, "PLUGIN_DIRS", ())
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setattr(compose_files.shutil, "which", lambda name: None)
    monkeypatch.setattr(compose_files.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(compose_files, "REPO", tmp_path)
    monkeypatch.setattr(compose_files.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(compose_files.ComposeError, match="Docker Compose v2 not found"):
        compose_files.compose_command()


def test_the_compose_plugins_own_binary_is_found_without_starting_a_process(monkeypatch, tmp_path):
    """`docker compose` starts the docker CLI, which starts the plugin: two processes per
    rendering where the plugin alone renders the same model."""
    plugin = tmp_path / "cli-plugins" / "docker-compose"
    plugin.parent.mkdir()
    plugin.write_text("#!/bin/sh\n")
    plugin.chmod(0o755)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setattr(compose_files.subprocess, "run", lambda *a, **k: pytest.fail(f"ran {a}"))
    assert compose_files.compose_command() == [str(plugin)]
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    monkeypatch.setattr(compose_files, "PLUGIN_DIRS", (str(tmp_path / "cli-plugins"),))
    assert compose_files.compose_command() == [str(plugin)]


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


# -- every file compose reads, and the line of each key in it ----------------------------

def write(root: Path, files: dict) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def where(model, service: str, *key) -> str:
    return str(model.written_keys(service)[key])


def test_include_and_extends_paths_resolve_as_compose_resolves_them(tmp_path, monkeypatch):
    """An -f file's `include:` and `extends: file:` are relative to the project directory (the
    first file's), an included project's to its own (its file's), an extended file's to that
    file. Decoys lie where a wrong rule would look."""
    write(tmp_path, {
        "app/compose.yml": "services:\n  web:\n    image: passq-fixture/busybox:1.35\n",
        "deploy/override.yml": ("include: [parts/cache.yml]\nservices:\n  web:\n"
                                "    extends: {file: parts/base.yml, service: base}\n"),
        "app/parts/cache.yml": ("include:\n  - path: [more.yml]\n"
                                "services:\n  cache:\n    image: redis:7.2.5\n    read_only: true\n"),
        "app/parts/more.yml": ("services:\n  more:\n    image: redis:7.2.5\n"
                               "    extends: {file: other/ext.yml, service: ext}\n"),
        "app/parts/other/ext.yml": "services:\n  ext:\n    pids_limit: 10\n",
        "app/parts/base.yml": "services:\n  base:\n    extends: {file: deeper/root.yml, service: root}\n",
        "app/parts/deeper/root.yml": "services:\n  root:\n    read_only: true\n",
        # decoys where a wrong rule would look
        "deploy/parts/cache.yml": "services:\n  decoy:\n    image: redis:7.2.5\n",
        "app/other/ext.yml": "services:\n  ext:\n    pids_limit: 30\n",
        "app/deeper/root.yml": "services:\n  root:\n    read_only: false\n",
    })
    monkeypatch.chdir(tmp_path)
    model = compose_files.load([Path("app/compose.yml"), Path("deploy/override.yml")])
    assert set(model.services) == {"web", "cache", "more"}
    assert where(model, "cache", "read_only") == "app/parts/cache.yml:6"
    assert model.services["more"].config["pids_limit"] == 10  # compose read app/parts/other/ext.yml
    assert where(model, "more", "pids_limit") == "app/parts/other/ext.yml:3"
    assert where(model, "web", "read_only") == "app/parts/deeper/root.yml:3"
    assert where(model, "web", "image") == "app/compose.yml:3"
    assert str(model.service_location("web")) == "deploy/override.yml:3"
    assert {f.path for f in model.sources} == {
        "app/compose.yml", "deploy/override.yml", "app/parts/cache.yml", "app/parts/more.yml",
        "app/parts/other/ext.yml", "app/parts/base.yml", "app/parts/deeper/root.yml"}


def test_an_error_in_an_included_file_is_not_blamed_on_a_path_compose_never_reads(tmp_path, monkeypatch):
    """compose names no -f file for a missing file an included one includes; trying each -f
    file alone must resolve its paths as the merge does (against the project directory), or
    an override that extends `parts/base.yml` looks for it beside itself and is blamed."""
    write(tmp_path, {
        "app/compose.yml": "services:\n  web:\n    image: passq-fixture/busybox:1.35\n",
        "deploy/override.yml": ("include: [parts/cache.yml]\nservices:\n  web:\n"
                                "    extends: {file: parts/base.yml, service: base}\n"),
        "app/parts/cache.yml": "include: [gone.yml]\n",
        "app/parts/base.yml": "services:\n  base:\n    read_only: true\n"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(compose_files.ComposeError) as err:
        compose_files.load([Path("app/compose.yml"), Path("deploy/override.yml")])
    assert "gone.yml: no such file" in str(err.value)
    assert "deploy/parts" not in str(err.value)


def test_merge_keys_point_at_the_anchor_and_compose_tags_are_read(tmp_path, monkeypatch):
    write(tmp_path, {"compose.yml": (
        "x-base: &base\n  read_only: true\n  deploy: {resources: {limits: {memory: 64m}}}\n"
        "services:\n"
        "  one:\n    <<: *base\n    image: passq-fixture/busybox:1.35\n"
        "  two:\n    <<: *base\n    image: passq-fixture/busybox:1.35\n    read_only: false\n"),
        "override.yml": "services:\n  one:\n    ports: !reset []\n    user: \"1001\"\n"})
    monkeypatch.chdir(tmp_path)
    model = compose_files.load([Path("compose.yml"), Path("override.yml")])
    assert where(model, "one", "read_only") == "compose.yml:2"
    assert where(model, "two", "read_only") == "compose.yml:11"  # its own key wins over the merge
    assert where(model, "two", "deploy", "resources", "limits", "memory") == "compose.yml:3"
    assert where(model, "one", "user") == "override.yml:4"  # read despite compose's `!reset` tag


def test_env_files_are_judged_as_written(tmp_path, monkeypatch):
    """compose interpolates an env_file even with --no-interpolate: the file is read as written,
    and `environment:` is laid over it."""
    write(tmp_path, {
        "compose.yml": ("services:\n  app:\n    image: passq-fixture/busybox:1.35\n"
                        "    env_file: [app.env]\n    environment: {OVERRIDDEN: from-compose}\n"),
        "app.env": ("# comment\nexport API_TOKEN=${API_TOKEN}\nDB_PASSWORD='s3cret-literal-value'\n"
                    "PLAIN=value # trailing comment\nFROM_SHELL\nOVERRIDDEN=from-file\n")})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("API_TOKEN", "interpolated-token-value")
    model = compose_files.load([Path("compose.yml")])
    assert model.written_environment("app") == {
        "API_TOKEN": "${API_TOKEN}", "DB_PASSWORD": "s3cret-literal-value", "PLAIN": "value",
        "FROM_SHELL": "${FROM_SHELL}", "OVERRIDDEN": "from-compose"}
    candidates = model.secret_candidates(("PASSWORD", "TOKEN"))
    assert {"s3cret-literal-value", "interpolated-token-value"} <= set(candidates)
    assert "${API_TOKEN}" not in candidates


def test_a_node_merged_in_many_places_has_its_lines_at_each_and_an_alias_bomb_ends():
    import yaml

    from compliance import yamlfile
    lines = yamlfile.key_lines(yaml.compose("a: &a {b: {c: 1}}\nx: *a\ny: *a\n"))
    assert lines[("x", "b", "c")] == lines[("y", "b", "c")] == 1
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
    assert len(yamlfile.key_lines(yaml.compose(bomb))) <= yamlfile.MAX_PATHS + 10
