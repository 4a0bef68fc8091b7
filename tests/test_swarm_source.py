"""The swarm source's pure parts on the recorded answers of the swarm fixture (fixtures/swarm):
which tasks are current, and what the swarm decides laid over a task's container.

The whole source against a real swarm is in tests/test_swarm_audit.py.
"""

import json
from pathlib import Path

from compliance.checks import declared, hardening, health, network, resources, secrets
from compliance.model import SWARM_TASK, Stack, Subject, freeze
from compliance.policy import ServicePolicy
from compliance.sources import secret_files, swarm

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "swarm"


def recorded(name: str):
    return json.loads((RECORDED / f"{name}.json").read_text())["response"]


SERVICES = {s["ID"]: s for s in recorded("services")}
TASKS = recorded("tasks")
CONTAINERS = recorded("containers")


def service(short: str) -> dict:
    return next(s for s in SERVICES.values() if s["Spec"]["Name"] == f"passq_{short}")


def task_subject(short: str) -> Subject:
    """A task of `short` as the source makes it: its recorded container with the overlay."""
    task = next(t for t in TASKS if t["ServiceID"] == service(short)["ID"])
    container = CONTAINERS[task["ID"]]
    attrs = swarm._overlay(container["response"], task, service(short), container["node"])
    return Subject(service=short, name=attrs["Name"].lstrip("/"), attrs=freeze(attrs), image=freeze({}),
                   networks=freeze({}), process=None, test_id=f"{short}.{task['Slot']}",
                   engine_security=("name=seccomp,profile=default",), kind=SWARM_TASK,
                   node=container["node"])


def test_the_current_task_of_a_slot_is_the_one_the_swarm_wants_running():
    old = {"ID": "old", "ServiceID": "s", "Slot": 1, "DesiredState": "shutdown",
           "CreatedAt": "2026-12-01T10:00:00Z", "Status": {"State": "failed", "Err": "exit 1"}}
    new = {"ID": "new", "ServiceID": "s", "Slot": 1, "DesiredState": "running",
           "CreatedAt": "2026-12-01T10:01:00Z", "Status": {"State": "pending"}}
    other = {"ID": "g", "ServiceID": "s2", "NodeID": "n1", "DesiredState": "running",
             "CreatedAt": "2026-12-01T10:00:00Z", "Status": {"State": "running"}}
    assert {t["ID"] for t in swarm.current_tasks([old, new, other])} == {"new", "g"}
    assert len(swarm.current_tasks(TASKS)) == 6  # 2 frontend, 3 backend, 1 db


def test_restart_comes_from_the_task_template():
    db = task_subject("db")
    assert db.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert resources.restart_bounded(db, ServicePolicy()).outcome == "passed"


def test_ingress_ports_listen_on_every_node_and_fail_net_01():
    frontend = task_subject("frontend")
    finding = network.published_ports_allowed(frontend, ServicePolicy())
    assert finding.outcome == "failed"
    assert "Endpoint.Ports 8080/tcp -> \"\":18080 (ingress: the routing mesh listens on every node)" \
        in finding.evidence


def test_secrets_are_mounts_at_their_target_with_their_mode():
    backend = task_subject("backend")
    mounts = {m["Destination"]: m for m in backend.attrs["Mounts"] if m["Type"] == "secret"}
    assert mounts["/run/secrets/jwt_secret"]["Mode"] == 0o400
    assert mounts["/run/secrets/postgres_password"]["Mode"] == 0o444
    policy = ServicePolicy(secrets=("jwt_secret", "postgres_password"))
    assert secrets.required_secrets_mounted(backend, policy).outcome == "passed"


def test_no_new_privileges_cannot_come_from_the_stack_file():
    finding = hardening.no_new_privileges(task_subject("backend"))
    assert finding.outcome == "failed"
    assert "docker stack deploy ignores security_opt" in finding.message
    assert "dockerd --no-new-privileges" in finding.message


def test_a_task_that_is_not_running_fails_hlt_02_with_its_error():
    task = {"ID": "t1", "ServiceID": service("db")["ID"], "Slot": 1, "DesiredState": "running",
            "Status": {"State": "rejected", "Err": "no suitable node (scheduling constraints)"}}
    subject = swarm._without_container(task, service("db"), "pq-node3", "passq",
                                       "task db.1 has no container on pq-node3")
    assert subject.unavailable and subject.test_id == "db.1"
    finding = health.running_and_healthy(subject)
    assert finding.outcome == "failed"
    assert 'Task.Status.Err="no suitable node (scheduling constraints)"' in finding.evidence


def test_no_secret_value_is_in_what_the_swarm_answered():
    text = "".join((RECORDED / f"{n}.json").read_text() for n in ("services", "tasks", "secrets"))
    assert '"Data"' not in text


def test_a_task_on_overlays_is_not_on_the_default_bridge():
    backend = task_subject("backend")
    attached = backend.attrs["NetworkSettings"]["Networks"]
    assert backend.attrs["HostConfig"]["NetworkMode"] == "default"
    subject = Subject(**{**backend.__dict__, "networks": freeze(
        {name: name.removeprefix("passq_") for name in attached if name != "ingress"})})
    policy = ServicePolicy(networks=("backend_network", "database_network"))
    assert network.allowed_networks_only(subject, policy).outcome == "passed"


def test_sec_03_finds_each_declared_secret_in_the_swarm(tmp_path):
    path = tmp_path / "jwt_secret"
    path.write_text("x" * 48)
    path.chmod(0o600)
    files = [secret_files.inspect("jwt_secret", path)]
    swarm_stack = Stack("passq", (), freeze({}), "", "", swarm_secrets=("passq_postgres_password",))
    finding = declared.secret_files_private(files, 32, swarm_stack)
    assert finding.outcome == "failed"
    assert "swarm secret passq_jwt_secret: not in the swarm of stack passq" in finding.evidence
    present = Stack("passq", (), freeze({}), "", "", swarm_secrets=("passq_jwt_secret",))
    found = declared.secret_files_private(files, 32, present)
    assert "swarm secret passq_jwt_secret: exists" in found.evidence


def test_a_slot_that_failed_before_counts_as_restarts():
    failed = {"ID": "a", "ServiceID": "s", "Slot": 1, "DesiredState": "shutdown",
              "CreatedAt": "2026-12-01T10:00:00Z", "Status": {"State": "failed", "Err": "exit 1"}}
    again = {**failed, "ID": "b", "CreatedAt": "2026-12-01T10:00:10Z"}
    now = {"ID": "c", "ServiceID": "s", "Slot": 1, "DesiredState": "running",
           "CreatedAt": "2026-12-01T10:00:20Z", "Status": {"State": "running"}}
    assert swarm.restarts([failed, again, now]) == {"c": 2}
    assert swarm.restarts(TASKS) == {t["ID"]: 0 for t in swarm.current_tasks(TASKS)}
