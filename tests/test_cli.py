"""The `passq-compliance` command as a user meets it: its own help and version, and a
mistake answered with the suite's one `ERROR:` line (exit 4) and reports that say the run
failed, never pytest's crash or a report that could pass for a good one.

Every run here is --static-only, or stops before the engine is asked: no engine is needed.
"""

import html
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.live import ROOT

COMMAND = Path(sys.executable).parent / "passq-compliance"
WEAK = "fixtures/stacks/weak"
STATIC = ("--static-only", f"--compose-file={WEAK}/compose.yml", f"--policy={WEAK}/policy.yml")
NO_ENGINE = "unix:///nonexistent/passq-no-engine.sock"


def command(*args, report_dir: Path, **env) -> subprocess.CompletedProcess:
    """The command from the checkout's root, as CI runs it: no terminal, stdout piped."""
    environment = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    environment.update(DOCKER_HOST=NO_ENGINE, COLUMNS="80", **env)
    return subprocess.run([str(COMMAND), *map(str, args), f"--report-dir={report_dir}"], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=300)


def errors(done) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR:")]


# -- help and version -----------------------------------------------------------------------


def test_help_is_the_commands_options_examples_and_exit_status(tmp_path):
    done = command("--help", report_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("usage: passq-compliance [options] [pytest options]")
    for said in ("--compose-file PATH", "--static-only", "--fail-on {low,medium,high,critical}",
                 "examples:", "passq-compliance --static-only --compose-file docker-compose.production.yml",
                 "exit status:", "  4  nothing audited, with one ERROR: line", "--help-pytest"):
        assert said in text, said
    assert "pytest" not in text.split("usage:")[0] and "-k EXPRESSION" not in text
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_help_pytest_is_pytests_help_with_the_suites_options(tmp_path):
    done = command("--help-pytest", report_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "-k EXPRESSION" in done.stdout and "--static-only" in done.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_the_packages(tmp_path, flag):
    done = command(flag, report_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"passq-compliance {metadata.version('passq-compliance')}\n"


# -- a mistake: one ERROR: line, exit 4, reports that say the run failed ------------------------

BROKEN_YAML = "services:\n  web:\n    image: busybox:1.35\n    user: [a\n    read_only: true\n"


def mistakes(tmp_path) -> dict:
    """name -> (arguments, the error line)."""
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_YAML)
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  nginx-proxy:\n    image: busybox:1.35\n")
    policy = tmp_path / "policy.yml"
    policy.write_text("stack: proxy\nservices:\n  ngnix-proxy: {}\n")
    typo = (f"ERROR: {policy}:3: services.ngnix-proxy: unknown service 'ngnix-proxy': not a service "
            f"of {compose}; did you mean 'nginx-proxy'?")
    return {
        "static-without-compose-file": (
            ["--static-only"],
            "ERROR: --static-only audits the declared config only: pass --compose-file PATH "
            "(the compose files to judge), or --project for each project of a monorepo; there "
            "is nothing to audit"),
        "project-with-compose-file": (
            ["--static-only", f"--project={WEAK}", f"--compose-file={WEAK}/compose.yml"],
            "ERROR: --project and --compose-file do not mix: name every project with --project "
            "[NAME=]PATH[,PATH...] (a PATH may be a compose file), or judge one project with "
            "--compose-file alone"),
        "project-without-static-only": (
            [f"--project={WEAK}"],
            "ERROR: --project judges compose files without an engine: add --static-only (a live "
            "audit judges one running stack: --stack NAME --compose-file PATH)"),
        "compose-file-as-argument": (
            [f"{WEAK}/compose.yml"],
            f"ERROR: {WEAK}/compose.yml is not a test path: pass a compose file as "
            f"--compose-file {WEAK}/compose.yml"),
        "yaml-error-at-the-files-line": (
            ["--static-only", f"--compose-file={broken}"],
            f"ERROR: {broken}:5:14: malformed YAML: expected ',' or ']', but got ':' "
            "(while parsing a flow sequence started at 4:11)"),
        "policy-service-not-in-compose-static": (
            ["--static-only", f"--compose-file={compose}", f"--policy={policy}"], typo),
        "policy-service-not-in-compose-live": (
            ["--stack", "proxy", f"--compose-file={compose}", f"--policy={policy}"], typo),
        "k-selecting-nothing": (
            [*STATIC, "-k", "no_such_test"],
            "ERROR: nothing to audit: -k 'no_such_test' deselected every one of the "),
    }


@pytest.mark.parametrize("mistake", ["static-without-compose-file", "project-with-compose-file",
                                     "project-without-static-only", "compose-file-as-argument",
                                     "yaml-error-at-the-files-line", "policy-service-not-in-compose-static",
                                     "policy-service-not-in-compose-live", "k-selecting-nothing"])
def test_a_mistake_is_one_error_line_exit_4_and_reports_that_say_the_run_failed(tmp_path, mistake):
    args, expected = mistakes(tmp_path)[mistake]
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    (report_dir / "compliance.json").write_text('{"gate": {"passed": true}, "failure": null}')
    done = command(*args, report_dir=report_dir)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    (line,) = errors(done)
    assert line.startswith(expected), line
    assert "Traceback" not in output and "INTERNALERROR" not in output
    failure = line.removeprefix("ERROR: ")
    document = json.loads((report_dir / "compliance.json").read_text())
    assert document["failure"] == failure and document["gate"]["passed"] is False
    assert document["results"] == []
    sarif = json.loads((report_dir / "compliance.sarif").read_text())
    (invocation,) = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == failure
    suite = ElementTree.parse(report_dir / "junit.xml").getroot().find("testsuite")
    assert (suite.get("errors"), suite.get("tests")) == ("1", "1")  # an error, not "0 tests"
    assert suite.find("testcase/error").text == failure
    assert failure in html.unescape((report_dir / "compliance.html").read_text())


def test_a_broken_compose_file_named_by_an_include_is_pointed_at(tmp_path):
    """Compose names an included file by its absolute path and its own line count."""
    (tmp_path / "broken.yml").write_text(BROKEN_YAML)
    including = tmp_path / "compose.yml"
    including.write_text("include:\n  - broken.yml\nservices:\n  api:\n    image: busybox:1.35\n")
    done = command("--static-only", f"--compose-file={including}", report_dir=tmp_path / "reports")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout[-3000:] + done.stderr
    assert errors(done) == [f"ERROR: {tmp_path / 'broken.yml'}:5:14: malformed YAML: expected ',' or "
                            "']', but got ':' (while parsing a flow sequence started at 4:11)"]


def test_the_default_policy_on_another_project_warns_and_audits(tmp_path):
    """PassQ's policy (the default) names PassQ's services: on another project's file their
    rules go unused, which the terminal and compliance.json say, with how to name one's own
    policy; the file is still judged by the defaults (a policy the user names must match)."""
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  web:\n    image: busybox:1.35\n")
    done = command("--static-only", f"--compose-file={compose}", report_dir=tmp_path / "reports")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED and not errors(done), done.stdout[-3000:]
    warned = [line for line in done.stdout.splitlines() if "unknown service 'backend'" in line]
    assert warned and warned[0].endswith("(the default policy is PassQ's: --policy names yours)")
    record = json.loads((tmp_path / "reports" / "compliance.json").read_text())
    assert record["failure"] is None and warned[0] in record["warnings"]
    assert {r["service"] for r in record["results"] if r["service"]} == {"web"}


def test_an_internal_error_is_no_successful_run_in_any_report(tmp_path):
    """A crash of the suite (here: a plugin that raises while pytest files a report) ends in
    pytest's INTERNALERROR and exit 3; the reports it still writes say the run failed."""
    (tmp_path / "crashing.py").write_text(
        "def pytest_runtest_logreport(report):\n    raise RuntimeError('the suite crashed')\n")
    report_dir = tmp_path / "reports"
    done = command(*STATIC, "-k", "image_pinned", "-p", "crashing", report_dir=report_dir,
                   PYTHONPATH=str(tmp_path))
    assert done.returncode == pytest.ExitCode.INTERNAL_ERROR, done.stdout[-3000:] + done.stderr
    document = json.loads((report_dir / "compliance.json").read_text())
    assert document["failure"].startswith("internal error") and document["gate"]["passed"] is False
    sarif = json.loads((report_dir / "compliance.sarif").read_text())
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False
    suite = ElementTree.parse(report_dir / "junit.xml").getroot().find("testsuite")
    assert suite.find("testcase[@name='passq-compliance']/error").text == document["failure"]


def test_a_static_run_loads_no_engine_client_and_no_plugin_it_does_not_use(tmp_path):
    """The pull-request gate never contacts an engine: it imports neither the docker SDK nor
    requests, and loads neither testinfra's pytest plugin nor hypothesis's (issue 24)."""
    (tmp_path / "loaded.py").write_text(
        "import os, sys\n\n\ndef pytest_unconfigure(config):\n"
        "    with open(os.environ['LOADED'], 'w') as out:\n"
        "        out.write(' '.join(sorted(sys.modules)))\n")
    done = command(*STATIC, "-p", "loaded", report_dir=tmp_path / "reports", PYTHONPATH=str(tmp_path),
                   LOADED=str(tmp_path / "modules"))
    assert done.returncode == pytest.ExitCode.TESTS_FAILED and not errors(done), done.stdout[-3000:]
    loaded = set((tmp_path / "modules").read_text().split())
    assert "compliance.plugin" in loaded and "pytest_html" in loaded
    assert not {"docker", "requests", "testinfra.plugin", "_hypothesis_pytestplugin"} & loaded
