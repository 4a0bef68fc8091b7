"""The pytest plugin: the audit's options, markers and ini settings, and its registration.

Installed, the plugin loads with every pytest run of the environment. Like pytest-html
without --html it does nothing unless an audit is asked for: --stack, --static-only,
--compose-file, or the ini setting `compliance_audit` (this repository's pytest.ini and
the passq-compliance command's audit.ini). Otherwise it only adds its options and
markers: no policy is read, no report written, testinfra's `host` stays testinfra's, and
none of the audit's hooks or fixtures exist. An audit registers its hooks as one object
(compliance/run.py, AuditRun), its fixtures (compliance/fixtures.py) and its testinfra
hosts (compliance/hosts.py).
"""

import itertools
from pathlib import Path

import pytest

from compliance import controls, fixtures, hosts
from compliance.run import AuditRun
from compliance.sources import probes

PATH_OPTIONS = ("--report-dir", "--policy", "--waivers", "--trivy-reports", "--compose-file", "--project")


def pytest_addoption(parser):
    group = parser.getgroup("compliance", "passq-compliance")
    group.addoption("--stack", metavar="NAME",
                    help="compose project to audit (default: the policy's `stack`)")
    group.addoption("--compose-file", action="append", default=[], metavar="PATH",
                    help="declared compose file (repeatable)")
    group.addoption("--policy", metavar="PATH", help="policy file (default: PassQ's, policies/passq.yml)")
    group.addoption("--waivers", metavar="PATH", help="waiver file")
    group.addoption("--trivy-reports", metavar="DIR", help="directory of Trivy JSON reports")
    group.addoption("--docker-host", metavar="URL",
                    help="engine to audit (default: DOCKER_HOST, else the local socket)")
    group.addoption("--fail-on", choices=controls.SEVERITIES, default="low",
                    help="lowest severity whose unwaived failure fails the run (default: low)")
    group.addoption("--report-dir", metavar="DIR", default="reports",
                    help="where the reports go (default: reports/)")
    group.addoption("--no-live", action="store_true",
                    help="skip the live probes (they report `skipped`); no probe container is "
                         "started, so a tcp:// engine's host is not looked at either")
    group.addoption("--probe-image", metavar="IMAGE", default=probes.PROBE_IMAGE,
                    help="image of the live probe containers: a busybox with sh, nc, timeout, "
                         f"dd, od (default: {probes.PROBE_IMAGE})")
    group.addoption("--static-only", action="store_true",
                    help="audit only the declared config: the --compose-file files (required) "
                         "and the secret files they and the policy name; never connect to the "
                         "engine (the pull-request gate)")
    group.addoption("--project", action="append", default=[], metavar="[NAME=]PATH[,PATH...]",
                    help="with --static-only, instead of --compose-file: one project of a monorepo, "
                         "its compose files or its folder (the files compose picks there); NAME "
                         "defaults to the folder (repeatable: every project judged in one run)")
    group.addoption("--swarm", action="store_true",
                    help="the stack is a swarm stack (docker stack deploy); detected when --stack names "
                         "no compose project and the engine is a swarm manager")
    group.addoption("--node-engine", action="append", default=[], metavar="NODE=URL",
                    help="the engine of a swarm node (hostname or node ID), for its tasks' containers "
                         "(repeatable; also the policy's swarm.nodes)")
    group.addoption("--scan", action="store_true",
                    help="where a trivy binary is on PATH, scan the running images into the "
                         "reports directory first (offline, its DB must be cached)")
    parser.addini("compliance_audit", type="bool", default=False,
                  help="run an audit without --stack, --static-only or --compose-file "
                       "(the policy's stack)")
    parser.addini("compliance_policy", "default policy file", default="policies/passq.yml")
    parser.addini("compliance_require_full_catalog", type="bool", default=False,
                  help="fail collection unless every catalog control has a test")


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-html read their paths
def pytest_configure(config):
    _refuse_a_misread_rootdir(config)
    config.addinivalue_line("markers", "control(id): the catalog control this test evaluates")
    for severity in controls.SEVERITIES:
        config.addinivalue_line("markers", f"severity_{severity}: controls of severity {severity}")
    for area in sorted({c.area for c in controls.CATALOG.values()}):
        config.addinivalue_line("markers", f"area_{area}: controls of area {area.upper()}")
    if not audit_asked(config):
        return
    config.pluginmanager.register(AuditRun(config), "passq-compliance-run")
    if not config.pluginmanager.is_registered(fixtures):
        config.pluginmanager.register(fixtures, "passq-compliance-fixtures")
    # After testinfra's own plugin, so that `host` means a container of the audited stack.
    if not config.pluginmanager.is_registered(hosts):
        config.pluginmanager.register(hosts, "passq-compliance-hosts")


def audit_asked(config) -> bool:
    """Whether this run is an audit: an audit option, or the ini setting says so."""
    return bool(config.getoption("stack") or config.getoption("static_only")
                or config.getoption("compose_file") or config.getoption("project")
                or config.getini("compliance_audit"))


def _refuse_a_misread_rootdir(config) -> None:
    """pytest picks its rootdir and ini file before plugins load, so it takes the value of
    `--report-dir /elsewhere` for a test path: rooted there, the project's pytest.ini is
    silently lost and the wrong tests are collected. Say so instead of auditing the wrong thing."""
    if config.inipath is not None or config.rootpath == config.invocation_params.dir:
        return
    for option, value in itertools.pairwise(config.invocation_params.args):
        path = Path(config.invocation_params.dir, value)
        if option in PATH_OPTIONS and (path == config.rootpath or config.rootpath in path.parents):
            raise pytest.UsageError(
                f"pytest read `{option} {value}` as a test path and lost its configuration "
                f"(no pytest.ini found from {config.rootpath}; the passq-compliance command takes "
                f"either form); write {option}={value}")
