"""The swarm fixture (scripts/swarm): three nodes, a stack spread over them, and a clean down.

The module brings the fixture up once (`scripts/swarm up`); the last test takes
it down and checks that nothing of it is left. The cross-node proof runs from
inside a frontend task (busybox nc) against a backend task on another node,
over the stack's internal overlay network: only the stack's own addresses.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parent.parent
SWARM = str(ROOT / "scripts" / "swarm")
STATE = Path("/var/lib/passq-swarm")
NODES = {"pq-node1", "pq-node2", "pq-node3"}
STACK = "passq"


def engine(node: str) -> str:
    return f"unix://{STATE}/{node}/docker.sock"


@pytest.fixture(scope="module")
def manager(docker_engine):
    done = subprocess.run([SWARM, "up"], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, f"scripts/swarm up failed:\n{done.stdout}{done.stderr}"
    yield docker.APIClient(base_url=engine("pq-node1"), version="auto")
    subprocess.run([SWARM, "down"], capture_output=True, timeout=200)


def running_tasks(manager) -> list[dict]:
    services = manager.services(filters={"label": f"com.docker.stack.namespace={STACK}"})
    return manager.tasks(filters={"service": [s["ID"] for s in services], "desired-state": "running"})


def hostnames(manager) -> dict[str, str]:
    return {n["ID"]: n["Description"]["Hostname"] for n in manager.nodes()}


def test_three_nodes_ready_with_distinct_hostnames(manager):
    nodes = manager.nodes()
    assert sorted(n["Description"]["Hostname"] for n in nodes) == sorted(NODES)
    assert all(n["Status"]["State"] == "ready" for n in nodes), [n["Status"] for n in nodes]
    assert sorted(n["Spec"]["Role"] for n in nodes) == ["manager", "worker", "worker"]
    infos = {node: docker.APIClient(base_url=engine(node), version="auto").info() for node in NODES}
    # each engine is its own node: its UTS namespace (hostname), its /etc/docker (engine ID)
    assert {node: info["Name"] for node, info in infos.items()} == {node: node for node in NODES}
    assert len({info["ID"] for info in infos.values()}) == len(NODES), [i["ID"] for i in infos.values()]


def test_tasks_run_on_more_than_one_node(manager):
    tasks = running_tasks(manager)
    assert len(tasks) == 6, [t["Slot"] for t in tasks]  # frontend 2, backend 3, db 1
    assert {t["Status"]["State"] for t in tasks} == {"running"}
    assert len({t["NodeID"] for t in tasks}) == 3


def test_task_reaches_task_on_another_node_over_internal_overlay(manager):
    node_of = hostnames(manager)
    tasks = running_tasks(manager)
    service = {s["ID"]: s["Spec"]["Name"] for s in manager.services()}
    source = next(t for t in tasks if service[t["ServiceID"]] == f"{STACK}_frontend")
    target = next(t for t in tasks if service[t["ServiceID"]] == f"{STACK}_backend"
                  and t["NodeID"] != source["NodeID"])
    network = next(a for a in target["NetworksAttachments"]
                   if a["Network"]["Spec"]["Name"] == f"{STACK}_backend_network")
    assert network["Network"]["Spec"].get("Internal") is True
    address = network["Addresses"][0].split("/")[0]
    container = docker.DockerClient(base_url=engine(node_of[source["NodeID"]]), version="auto") \
        .containers.get(source["Status"]["ContainerStatus"]["ContainerID"])
    code, output = container.exec_run(
        ["sh", "-c", f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {address} 8080"])
    assert code == 0 and re.match(rb"HTTP/1\.[01] 200", output), (
        f"{node_of[source['NodeID']]} -> {address} on {node_of[target['NodeID']]}: {code} {output!r}")


# -- the suite on the swarm: every task on every node --------------------------------------

POLICY = ROOT / "fixtures" / "stacks" / "swarm-passq" / "policy.yml"
COMPOSE = ROOT / "fixtures" / "stacks" / "swarm-passq" / "compose.yml"


def audit_swarm(tmp_path, *extra):
    """The suite against the fixture's manager, as a user runs it; (exit, results by test)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", f"--rootdir={ROOT}", f"-c={ROOT / 'pytest.ini'}",
         "--stack", STACK, f"--docker-host={engine('pq-node1')}", f"--policy={POLICY}",
         f"--report-dir={tmp_path}", "-q", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    document = json.loads((tmp_path / "compliance.json").read_text())
    return done, document


def by_test(document) -> dict:
    return {r["test"].split("::", 1)[1]: r for r in document["results"]}


def test_the_suite_audits_every_task_on_every_node(manager, tmp_path):
    done, document = audit_swarm(tmp_path, f"--compose-file={COMPOSE}")
    results = by_test(document)
    tasks = {r["test"].split("[", 1)[1].rstrip("]") for r in document["results"] if r["node"]}
    assert tasks == {"frontend.1", "frontend.2", "backend.1", "backend.2", "backend.3", "db.1"}, tasks
    assert {r["node"] for r in document["results"] if r["node"]} == NODES
    sarif = json.loads((tmp_path / "compliance.sarif").read_text())["runs"][0]["results"]
    assert {r["properties"]["node"] for r in sarif if r["properties"]["node"]} <= NODES
    assert "on pq-node" in (tmp_path / "compliance.html").read_text()  # each task's node
    # what the swarm runs, not what the file asked: security_opt ignored, tmpfs dropped
    hrd01 = results["test_no_new_privileges[backend.1]"]
    assert hrd01["outcome"] == "failed" and "kernel NoNewPrivs=0" in hrd01["evidence"]
    assert results["test_writable_paths_tmpfs[frontend.1]"]["outcome"] == "failed"
    assert results["test_writable_paths_tmpfs[backend.1]"]["outcome"] == "passed"  # volumes: tmpfs
    net01 = results["test_ports_bound_to_allowed_hosts[frontend.1]"]
    assert net01["outcome"] == "failed" and "routing mesh" in net01["evidence"]
    assert results["test_restart_bounded[db.1]"]["outcome"] == "passed"
    assert results["test_memory_limit[db.1]"]["outcome"] == "passed"
    assert results["test_required_secrets_readable_inside[backend.2]"]["outcome"] == "passed"
    assert results["test_running_and_healthy[db.1]"]["outcome"] == "passed"
    # the live proofs, each from its task's node: flows over the overlays, across nodes
    net04 = results["test_flows_live"]
    assert net04["outcome"] == "passed", net04
    assert "deny frontend -> db:5432: blocked" in net04["evidence"]
    assert "allow backend -> db:5432: connected" in net04["evidence"]
    assert "answered 'N'" in results["test_database_tls_live"]["evidence"]  # no TLS in the db
    assert results["test_read_only_rootfs_live[db.1]"]["outcome"] == "passed"
    for node in NODES:
        left = docker.APIClient(base_url=engine(node), version="auto").containers(
            all=True, filters={"label": "passq-compliance.probe"})
        assert not left, (node, left)
    assert results["test_internal_networks"]["outcome"] == "passed"
    assert results["test_allowed_networks_only[backend.3]"]["outcome"] == "passed"
    sec03 = results["test_secret_files_private"]
    assert sec03["outcome"] == "passed" and "swarm secret passq_jwt_secret: exists" in sec03["evidence"]
    cmp01 = results["test_matches_declared[frontend.2]"]
    assert cmp01["outcome"] == "failed" and "tmpfs: declared [/tmp], running []" in cmp01["evidence"]
    assert "security_opt: declared [no-new-privileges:true], running []" in cmp01["evidence"]
    assert "ports" not in cmp01["evidence"]  # the service publishes both, as declared
    assert done.returncode == 1, done.stdout[-3000:]
    assert "Traceback" not in done.stdout + done.stderr


def test_a_node_the_suite_cannot_reach_makes_its_tasks_errors_naming_it(manager, tmp_path):
    done, document = audit_swarm(tmp_path, "--swarm", "--no-live",
                                 "--node-engine", "pq-node2=unix:///nonexistent/pq-node2.sock")
    on_node2 = [r for r in document["results"] if r["node"] == "pq-node2"]
    assert on_node2 and all(r["outcome"] == "error" for r in on_node2), on_node2[:3]
    assert all("pq-node2" in r["message"] for r in on_node2)
    assert not any(r["outcome"] == "error" for r in document["results"] if r["node"] == "pq-node3")
    assert done.returncode == 1


def test_secret_values_reach_no_output(manager, tmp_path):
    audit_swarm(tmp_path, "--no-live")
    values = [p.read_text().strip() for p in (COMPOSE.parent / "secrets").iterdir()]
    assert values and all(len(v) >= 32 for v in values)
    for report in tmp_path.iterdir():
        text = report.read_text(errors="replace")
        assert not [v for v in values if v in text], report


def test_down_leaves_nothing(manager):
    done = subprocess.run([SWARM, "down"], capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    ours = [p.parent.name for p in Path("/proc").glob("[0-9]*/cmdline")
            if f"{STATE}/".encode() in _read(p)]
    assert not ours, f"processes of the fixture still run: {ours}"
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not NODES & set(re.findall(r"^(\S+)", namespaces, re.M)), namespaces
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    assert not re.search(r"^\d+: (pqswarm0|pqsw\d)[:@]", links, re.M), links
    assert f" {STATE}/" not in Path("/proc/mounts").read_text()
    assert not STATE.exists()
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout
    assert "pqswarm0" not in rules, rules


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended meanwhile
        return b""
