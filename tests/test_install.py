"""The suite as users get it: a wheel built from this checkout, installed into a fresh
virtualenv, run as `passq-compliance` from an application's folder outside the checkout
(interface.md, "Where users run it").

The wheel and the virtualenv are made once for this module (pip fetches the build
backend and the pinned dependencies as any user's pip would). The application is a
copy of a fixture stack's folder: its compose file as docker-compose.production.yml,
its secret files and scan reports, and its policy with paths of that folder.
"""

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.live import ROOT, stack_up

COMMAND = "passq-compliance"
COMPOSE = "docker-compose.production.yml"
# What the wheel is built from: the checkout without its history, venv, reports and own tests.
NOT_SHIPPED = shutil.ignore_patterns(".git", ".venv", "reports", "build", "*.egg-info", "__pycache__",
                                     "tests", "fixtures", "benchmarks")


def run(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def ok(*args, **kwargs) -> subprocess.CompletedProcess:
    done = run(*args, **kwargs)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, work / "source", symlinks=True, ignore=NOT_SHIPPED)
    ok(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", work / "dist", work / "source")
    (built,) = (work / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with nothing but the wheel and its dependencies (at the tested pins)."""
    venv = tmp_path_factory.mktemp("venv")
    ok(sys.executable, "-m", "venv", venv)
    ok(venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", ROOT / "requirements.txt", wheel)
    return venv


def application(tmp_path, stack: str) -> Path:
    """A folder like an application's repository, outside the checkout, made from a fixture stack."""
    app = tmp_path / "app"
    fixture = ROOT / "fixtures" / "stacks" / stack
    shutil.copytree(fixture, app, ignore=shutil.ignore_patterns("README.md", "prepare", "up"))
    (app / "compose.yml").rename(app / COMPOSE)
    policy = (app / "policy.yml").read_text().replace(f"fixtures/stacks/{stack}/", "")
    (app / "policy.yml").unlink()
    (app / "passq-policy.yml").write_text(policy)
    assert ROOT not in app.parents
    return app


def document(app: Path, report_dir="reports") -> dict:
    return json.loads((app / report_dir / "compliance.json").read_text())


def test_the_command_applies_the_strictness_of_the_checkouts_pytest_ini():
    """compliance/audit.ini is what the command has instead of pytest.ini: the same settings,
    less the checkout's test path and policy (the command passes the packaged ones)."""
    checkout, command = configparser.ConfigParser(), configparser.ConfigParser()
    checkout.read(ROOT / "pytest.ini")
    command.read(ROOT / "compliance" / "audit.ini")
    local = ("testpaths", "compliance_policy")
    assert dict(command["pytest"]) == {k: v for k, v in checkout["pytest"].items() if k not in local}


def test_the_wheel_carries_the_plugin_the_checklist_the_policy_the_scripts_and_the_command(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
        policy = archive.read("compliance/policies/passq.yml").decode()
    assert {"compliance/plugin.py", "compliance/cli.py", "compliance/audit.ini",
            "compliance/checklist/__init__.py", "compliance/checklist/test_hardening.py"} <= names
    scripts = {str(p.relative_to(ROOT)) for p in (ROOT / "compliance").rglob("*.sh")}
    assert scripts and scripts <= names  # the shell scripts the sources run, read as package data
    assert policy == (ROOT / "policies" / "passq.yml").read_text()  # the file, not a link
    assert f"{COMMAND} = compliance.cli:main" in entry_points
    assert "compliance.plugin = compliance.plugin" in entry_points


def test_the_command_audits_a_running_stack_from_the_applications_folder(docker_engine, venv, tmp_path):
    stack = stack_up("hardened")
    app = application(tmp_path, stack)
    done = run(venv / "bin" / COMMAND, "--stack", stack, f"--compose-file={COMPOSE}",
               "--policy", app / "passq-policy.yml", cwd=app)  # both forms; an absolute path
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert sorted(p.name for p in (app / "reports").iterdir()) == [
        "compliance.html", "compliance.json", "compliance.sarif", "junit.xml"]
    record = document(app)
    assert record["stack"] == stack and record["gate"]["passed"] is True
    assert record["summary"]["failed"] == record["summary"]["error"] == 0
    assert {r["control"] for r in record["results"]} >= {"HRD-02", "NET-04", "CMP-01", "SEC-03"}
    assert record["policy"]["path"] == str(app / "passq-policy.yml")
    assert done.stdout.rstrip().splitlines()[-2] == "release gate (--fail-on low): PASSED"


def test_the_static_gate_from_the_applications_folder(venv, tmp_path):
    app = application(tmp_path, "weak")
    done = run(venv / "bin" / COMMAND, "--static-only", "--compose-file", COMPOSE,
               "--policy", "passq-policy.yml", cwd=app)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    record = document(app)
    assert record["summary"]["failed"] > 0 and record["gate"]["passed"] is False
    assert "FAILED test_images.py::test_image_pinned[web] - IMG-01 web: should" in done.stdout
    assert f"{COMPOSE}:20: IMG-01 web: should name an exact version tag or a digest" in done.stdout
    sarif = json.loads((app / "reports" / "compliance.sarif").read_text())
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for result in sarif["runs"][0]["results"] for loc in result.get("locations", ())
            if "physicalLocation" in loc}
    assert COMPOSE in uris  # relative to the application's folder: code scanning annotates it


def test_without_policy_the_installed_one_is_used_and_names_services_weak_lacks(venv, tmp_path):
    """PassQ's policy (the default) names services of PassQ's stack: on another stack's compose
    file the audit runs on the defaults and warns, naming the installed policy's line and how
    to name one's own."""
    app = application(tmp_path, "weak")
    done = run(venv / "bin" / COMMAND, "--static-only", "--compose-file", COMPOSE, cwd=app)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout[-4000:] + done.stderr[-2000:]
    warned = [line for line in done.stdout.splitlines() if "unknown service 'backend'" in line]
    assert warned and warned[0].startswith(str(venv)) and "passq.yml:" in warned[0], done.stdout[-4000:]
    assert warned[0].endswith("--policy names yours)")
    record = document(app)
    assert record["policy"]["path"].startswith(str(venv))  # the installed default policy
    assert record["failure"] is None and warned[0] in record["warnings"]


def test_help_and_version_are_the_commands(venv):
    helped = ok(venv / "bin" / COMMAND, "--help")
    assert helped.stdout.startswith(f"usage: {COMMAND} [options]") and "exit status:" in helped.stdout
    version = ok(venv / "bin" / "python", "-c", "from importlib import metadata; "
                 f"print(metadata.version('{COMMAND}'))").stdout.strip()
    assert ok(venv / "bin" / COMMAND, "--version").stdout == f"{COMMAND} {version}\n"


def test_further_arguments_go_to_pytest(venv, tmp_path):
    app = application(tmp_path, "weak")
    out = "out dir"  # a path option, space form, with a space in it
    done = run(venv / "bin" / COMMAND, "--static-only", "--compose-file", COMPOSE, "--report-dir", out,
               "--policy", "passq-policy.yml", "-k", "image_pinned", "-x", cwd=app)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    results = document(app, out)["results"]
    assert [r["control"] for r in results] == ["IMG-01"]  # -x stopped at the first failure
    assert not (app / "reports").exists()


def test_collect_only_through_the_command_lists_and_writes_nothing(venv, tmp_path):
    app = application(tmp_path, "weak")
    done = run(venv / "bin" / COMMAND, "--static-only", "--compose-file", COMPOSE, "--policy",
               "passq-policy.yml", "--co", "-q", cwd=app)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "test_images.py::test_image_pinned[web]" in done.stdout
    assert "release gate" not in done.stdout and not (app / "reports").exists()


def test_the_command_is_strict_without_any_pytest_ini(venv, tmp_path):
    app = application(tmp_path, "weak")
    done = run(venv / "bin" / COMMAND, "--static-only", "--compose-file", COMPOSE, "-o", "xfail_strikt=true",
               cwd=app)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "Unknown config option: xfail_strikt" in done.stderr
