"""docs/github-actions-release-gate.yml: a workflow GitHub accepts, for the application's
repository, that installs this suite with pip and names only commands and options that exist."""

import importlib.resources
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML  # YAML 1.2 as GitHub reads it: `on:` is a key, not `true`

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "github-actions-release-gate.yml"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
(COMMAND,) = PROJECT["scripts"]


@pytest.fixture(scope="module")
def workflow() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text())


def steps(workflow, job) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def runs(workflow, job) -> str:
    return "\n".join(step.get("run", "") for step in steps(workflow, job))


def invocations(workflow, job) -> list[list[str]]:
    """The words of each step that runs the command (every audit is a step of its own)."""
    scripts = [step.get("run", "") for step in steps(workflow, job)]
    audits = [script for script in scripts if script.startswith(COMMAND)]
    assert not [s for s in scripts if COMMAND in s and s not in audits], "the command inside a script"
    return [shlex.split(script) for script in audits]


def uploads(workflow, job, action) -> dict:
    (step,) = [s for s in steps(workflow, job) if s.get("uses", "").startswith(f"{action}@")]
    return step


def test_it_is_valid_against_githubs_workflow_schema(workflow):
    # SchemaStore's schema, as check-jsonschema ships it (`--builtin-schema vendor.github-workflows`).
    schema = json.loads((importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
                         / "github-workflows.json").read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(workflow)]
    assert not errors


def test_a_pull_request_job_and_a_release_job(workflow):
    assert set(workflow["on"]) == {"pull_request", "push", "workflow_dispatch"}
    assert workflow["jobs"]["pull-request"]["if"] == "github.event_name == 'pull_request'"
    assert workflow["jobs"]["release"]["if"] == "github.event_name != 'pull_request'"


def test_both_jobs_install_this_suite_with_pip_from_the_applications_checkout(workflow):
    install = workflow["env"]["PASSQ_COMPLIANCE"]
    assert install.startswith(f"{PROJECT['name']} @ ")
    for job in ("pull-request", "release"):
        assert steps(workflow, job)[0]["uses"].startswith("actions/checkout@")
        assert 'python -m pip install "$PASSQ_COMPLIANCE"' in runs(workflow, job)
        assert "git clone" not in runs(workflow, job) and "cd " not in runs(workflow, job)


def test_the_pull_request_job_is_the_static_gate_and_uploads_sarif(workflow):
    (audit,) = invocations(workflow, "pull-request")
    assert "--static-only" in audit and "--compose-file" in audit
    upload = uploads(workflow, "pull-request", "github/codeql-action/upload-sarif")
    assert upload["with"]["sarif_file"] == "reports/compliance.sarif"
    assert workflow["jobs"]["pull-request"]["permissions"]["security-events"] == "write"


def test_the_release_job_brings_the_stack_up_audits_it_live_and_keeps_all_four_reports(workflow):
    names = [step.get("name", step.get("uses")) for step in steps(workflow, "release")]
    assert names.index("Stack up") < names.index("Audit the running stack")
    (audit,) = invocations(workflow, "release")
    assert "--stack" in audit and "--static-only" not in audit and "--no-live" not in audit
    kept = uploads(workflow, "release", "actions/upload-artifact")["with"]["path"].split()
    assert kept == [f"reports/{name}" for name in
                    ("compliance.html", "compliance.json", "compliance.sarif", "junit.xml")]
    assert uploads(workflow, "release", "github/codeql-action/upload-sarif")["if"].startswith("always()")


def test_it_names_only_the_command_and_options_that_exist(workflow):
    done = subprocess.run([Path(sys.executable).parent / COMMAND, "--help"], capture_output=True,
                          text=True, timeout=60, check=True)
    known = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", done.stdout))
    used = [word for job in workflow["jobs"] for audit in invocations(workflow, job)
            for word in audit if word.startswith("--")]
    assert used and not set(used) - known

