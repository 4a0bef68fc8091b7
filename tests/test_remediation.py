"""A remedy that fits the reason: where a control fails for more than one reason, the
finding names the remedy for the reason found, and every report shows that one instead
of the catalog's general text."""

import dataclasses
from types import MappingProxyType

import pytest

from compliance import controls
from compliance.checks import hardening, users
from compliance.checks.secrets import required_secrets_readable
from compliance.kernel import FileEntry, Ids, Inside, Kernel, parse_status
from compliance.model import SWARM_TASK, Subject, freeze
from compliance.outcomes import ControlFailed, Result, failed, passed, verdict, worst
from compliance.policy import ServicePolicy
from compliance.report import views
from tests.recorded import policy_from
from tests.test_kernel import STATUS, recorded_usr
from tests.test_swarm_source import task_subject

POLICY = policy_from({"services": {"app": {"secrets": ["token"]}}}).for_service("app")
HOST_FILE = "/srv/app/secrets/token.txt"


def app(entry: FileEntry | None, kind: str = "container") -> Subject:
    """`app` running as 1001:1001 with /run/secrets/token bound from HOST_FILE, seen inside."""
    ids = Ids(1001, 1001, (1001,) * 4, (1001,) * 4)
    kernel = Kernel(ids, True, 2, frozenset(), frozenset())
    inside = Inside("engine host (recorded)", kernel, None,
                    MappingProxyType({"token": entry} if entry else {}), None, None)
    attrs = {"Id": "c0ffee", "State": {"Running": True},
             "Mounts": [{"Type": "bind", "Source": HOST_FILE, "Destination": "/run/secrets/token"}]}
    return Subject(service="app", name="app-1", attrs=freeze(attrs), image=freeze({}),
                   networks=MappingProxyType({}), process=ids, test_id="app-1", inside=inside,
                   kind=kind)


def test_a_compose_file_secret_owned_by_root_is_given_to_the_services_user():
    finding = required_secrets_readable(app(FileEntry("file", 0, 0, 0o600)), POLICY)
    assert finding.outcome == "failed"
    assert f"chown 1001:1001 {HOST_FILE} && chmod 400 {HOST_FILE}" in finding.remediation
    assert "compose ignores `uid`, `gid` and `mode` for file secrets" in finding.remediation
    assert "Declare the secret" not in finding.remediation


def test_a_swarm_secret_takes_uid_and_mode_in_the_services_entry():
    finding = required_secrets_readable(app(FileEntry("file", 0, 0, 0o400), SWARM_TASK), POLICY)
    assert finding.outcome == "failed"
    assert '`uid: "1001"`' in finding.remediation and "`mode: 0400`" in finding.remediation
    assert "chown" not in finding.remediation


def test_a_directory_where_the_host_file_was_missing_is_pointed_at_a_file():
    finding = required_secrets_readable(app(FileEntry("directory", 0, 0, 0o755)), POLICY)
    assert "regular file" in finding.remediation and HOST_FILE in finding.remediation


def test_a_secret_absent_inside_is_declared_and_listed():
    finding = required_secrets_readable(app(None), POLICY)
    assert finding.remediation == controls.CATALOG["SEC-01"].remediation


def test_worst_keeps_each_reasons_remedy_once_or_leaves_it_to_the_catalog():
    chmod, rm = failed("should a", "a", "chmod it."), failed("should b", "b", "git rm it.")
    assert worst([chmod, passed("c"), rm, chmod]).remediation == "chmod it. git rm it."
    assert worst([chmod, failed("should d", "d")]).remediation == ""  # the catalog's applies


def test_a_failure_reads_with_its_own_remedy():
    with pytest.raises(ControlFailed, match=r"\(evidence: a\) \(remediation: chmod it\.\)$"):
        verdict(failed("should a", "a", "chmod it."), "SEC-03")
    with pytest.raises(ControlFailed, match=r"\(evidence: a\)$"):
        verdict(failed("should a", "a"), "SEC-03")


@pytest.mark.parametrize(("own", "listed"), [("chown it.", "chown it."),
                                            ("", controls.CATALOG["SEC-01"].remediation)])
def test_the_reports_show_the_results_remedy_else_the_catalogs(own, listed):
    result = Result("SEC-01", "app", "app-1", "t::x[app]", "failed", "e", "should", remediation=own)
    assert views.entry(result)["remediation"] == listed


def test_a_setuid_root_process_is_fixed_in_the_image_not_by_user():
    setuid = parse_status(STATUS.replace("Uid:\t1001\t1001\t1001\t1001", "Uid:\t1001\t0\t0\t0"))
    container = dataclasses.replace(recorded_usr("pass-uid-matches-policy.json"), process=setuid.ids)
    finding = users.non_root(container, ServicePolicy())
    assert finding.outcome == "failed" and "chmod u-s" in finding.remediation
    root = dataclasses.replace(container, process=Ids(0, 0, (0,) * 4, (0,) * 4))
    assert users.non_root(root, ServicePolicy()).remediation == ""  # the catalog's: set user:


def test_a_swarm_task_gets_no_new_privileges_from_its_nodes_engine():
    finding = hardening.no_new_privileges(task_subject("backend"))
    assert finding.outcome == "failed"
    assert "daemon.json" in finding.remediation
    assert finding.remediation != controls.CATALOG["HRD-01"].remediation
