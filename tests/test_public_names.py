"""Names are never hidden: a credential equal to the service's name (Gitea's example stack,
`GITEA__database__PASSWD=gitea`) leaves every report readable, and SEC-02 says why the
value is no secret. Judged on the declared subjects, and by a full `--static-only` run."""

import dataclasses
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from compliance.checks.secrets import no_plaintext_secrets
from compliance.redact import MARK, Redactor, candidates, open_names, stack_names
from compliance.sources import compose_files, declared
from tests.recorded import ROOT, policy_from

GITEA = ROOT / "fixtures" / "declared" / "SEC-02" / "fail-equals-service-name.yml"
PATTERNS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN")


@pytest.fixture(scope="module")
def gitea():
    return declared.stack(compose_files.load([GITEA]))


def test_the_open_names_of_a_declared_service(gitea):
    names = dict((name, what) for what, name in reversed(open_names(gitea.service("gitea")[0])))
    assert names["gitea"] == "the service name"
    assert names["gitea/gitea:1.21.4"] == "the image name"
    assert "/data" in names


def test_an_images_name_is_its_repository_not_its_registrys_host(gitea):
    subject = gitea.service("gitea")[0]
    moved = dataclasses.replace(subject, attrs={**subject.attrs, "Config": {
        **subject.config, "Image": "registry:5000/team/app"}})
    names = {name for what, name in open_names(moved) if what == "the image name"}
    assert names == {"registry:5000/team/app", "team/app", "app"}


def test_the_stacks_names_stay_readable_though_the_password_is_learned(gitea):
    learned = candidates(gitea.containers, PATTERNS)
    assert "gitea" in learned
    redact = Redactor(learned).protect(stack_names(gitea))
    for text in ("gitea", "gitea/gitea:1.21.4", "test_non_root_user[gitea]", gitea.name,
                 "credential-named variables with a literal value: GITEA__database__PASSWD"):
        assert redact(text) == text


def test_a_variables_name_stays_readable_where_it_holds_a_secret(gitea):
    evidence = "credential-named variables with a literal value: GITEA__database__PASSWD"
    assert Redactor(["database"])(evidence) != evidence
    assert Redactor(["database"]).protect(stack_names(gitea))(evidence) == evidence


@pytest.mark.parametrize(("service", "evidence"), [
    ("gitea", "GITEA__database__PASSWD: the value equals the service name"),
    ("db", "POSTGRES_PASSWORD: the value equals the value of POSTGRES_DB"),
])
def test_sec02_says_the_value_equals_a_name(gitea, service, evidence):
    finding = no_plaintext_secrets(gitea.service(service)[0], policy_from({}))
    assert finding.outcome == "failed"
    assert evidence in finding.evidence
    assert "no one can guess" in finding.message
    assert "openssl rand" in finding.remediation and "Docker secret" in finding.remediation


def test_a_strong_literal_password_fails_for_being_literal_only(gitea):
    subject = gitea.service("gitea")[0]
    env = [e for e in subject.config["Env"] if "PASSWD" not in e] + ["GITEA__database__PASSWD=Xq9-long"]
    changed = dataclasses.replace(subject, attrs={**subject.attrs, "Config": {**subject.config, "Env": env}})
    finding = no_plaintext_secrets(changed, policy_from({}))
    assert finding.outcome == "failed" and "equals" not in finding.evidence
    assert finding.remediation.startswith("Move the value into a Docker secret")


def test_a_static_run_names_the_service_in_every_report(tmp_path):
    """The gitea stack audited as the pull-request gate audits it: every report names
    `gitea`, none holds a marker, and SEC-02 fails with the reason and its own remedy."""
    policy = tmp_path / "policy.yml"
    policy.write_text("stack: gitea\n")
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/passq-no-engine.sock")
    run = subprocess.run([sys.executable, "-m", "pytest", f"--rootdir={ROOT}", f"-c={ROOT / 'pytest.ini'}",
                          "--static-only", f"--compose-file={GITEA}", f"--policy={policy}",
                          f"--report-dir={tmp_path / 'out'}", "-rA"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    out = tmp_path / "out"
    reports = {name: (out / name).read_text() for name in
               ("compliance.json", "compliance.sarif", "compliance.html", "junit.xml")}
    for name, text in {"terminal": run.stdout, **reports}.items():
        assert MARK not in text, f"{name} hides a name"
    assert "SEC-02 gitea: should" in run.stdout and "[gitea]" in run.stdout

    results = json.loads(reports["compliance.json"])["results"]
    assert {r["service"] for r in results if r["service"]} == {"gitea", "db"}
    sec02 = next(r for r in results if r["control"] == "SEC-02" and r["service"] == "gitea")
    assert sec02["outcome"] == "failed"
    assert "GITEA__database__PASSWD: the value equals the service name" in sec02["evidence"]
    assert "openssl rand" in sec02["remediation"]

    sarif = json.loads(reports["compliance.sarif"])["runs"][0]["results"]
    flagged = next(r for r in sarif if r["ruleId"] == "SEC-02" and r["properties"]["service"] == "gitea")
    assert "the value equals the service name" in flagged["properties"]["evidence"]
    assert "openssl rand" in flagged["properties"]["remediation"]
    assert "test_no_plaintext_secrets_in_env[gitea]" in reports["compliance.html"]
    assert "the value equals the service name" in reports["compliance.html"]
    assert "openssl rand" in reports["compliance.html"]
    assert any(case.get("name", "").endswith("[gitea]")
               for case in ET.fromstring(reports["junit.xml"]).iter("testcase"))
