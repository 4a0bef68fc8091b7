"""The audit of a swarm stack, from 6 to 30 tasks over the fixture's three nodes (issue 17).

Needs the swarm fixture (`scripts/swarm up`, as root). Deploys a stack `pqbench` of
3 hardened busybox services with --replicas replicas each (`docker stack deploy`
on the manager), waits until every task runs healthy, then runs the suite on it as
a user does (`pytest --stack pqbench --docker-host <manager>` with the nodes'
engines in the policy), with and without --no-live, each the median of --repeat
runs: wall time, engine requests (the manager's and every node's, from
compliance.json) per task, and the cost of each added task between the sizes.
Removes the stack afterwards.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STATE = Path("/var/lib/passq-swarm")
NODES = ("pq-node1", "pq-node2", "pq-node3")
STACK = "pqbench"
IMAGE = "passq-fixture/busybox:1.35"


def engine(node: str) -> str:
    return f"unix://{STATE}/{node}/docker.sock"


def docker(*args: str) -> str:
    done = subprocess.run(["docker", "-H", engine(NODES[0]), *args], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"docker {' '.join(args[:2])}: {done.stderr.strip()[:300]}")
    return done.stdout


def remove_stack(wait_s: float = 60) -> None:
    """`docker stack rm`, then wait until its network is gone (a new deploy would clash)."""
    subprocess.run(["docker", "-H", engine(NODES[0]), "stack", "rm", STACK], capture_output=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and STACK in docker("network", "ls", "--format", "{{.Name}}"):
        time.sleep(1)


def stack_file(replicas: int, workdir: Path) -> Path:
    service = {
        "image": IMAGE, "user": "1001:1001", "read_only": True, "cap_drop": ["ALL"],
        "command": ["httpd", "-f", "-p", "8080", "-h", "/var/www"],
        "volumes": [{"type": "tmpfs", "target": "/tmp"}],
        "healthcheck": {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
                        "interval": "2s", "timeout": "2s", "retries": 3},
        "networks": ["back"],
        "deploy": {"replicas": replicas,
                   "resources": {"limits": {"cpus": "0.1", "memory": "16M", "pids": 20}},
                   "restart_policy": {"condition": "on-failure", "max_attempts": 3}},
    }
    path = workdir / f"stack-{replicas}.yml"
    path.write_text(yaml.safe_dump({"version": "3.9", "services": {f"s{i}": service for i in range(3)},
                                    "networks": {"back": {"driver": "overlay", "internal": True}}}))
    return path


def policy_file(workdir: Path) -> Path:
    path = workdir / "policy.yml"
    path.write_text(yaml.safe_dump({
        "stack": STACK, "defaults": {"user": "1001:1001", "writable_paths": ["/tmp"]},
        "services": {f"s{i}": {"networks": ["back"]} for i in range(3)},
        "networks": {"internal": ["back"]},
        "flows": {"allow": [{"from": "s0", "to": "s1", "port": 8080}]},
        "swarm": {"nodes": {node: engine(node) for node in NODES[1:]}}}))
    return path


def deploy(replicas: int, workdir: Path, wait_s: float = 180) -> None:
    remove_stack()
    docker("stack", "deploy", "--resolve-image", "never", "-c", str(stack_file(replicas, workdir)), STACK)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        states = docker("stack", "ps", STACK, "--filter", "desired-state=running",
                        "--format", "{{.CurrentState}}").split("\n")
        healthy = docker("ps", "--filter", f"label=com.docker.stack.namespace={STACK}",
                         "--filter", "health=healthy", "-q").split()
        if len([s for s in states if s.startswith("Running")]) == 3 * replicas and healthy:
            time.sleep(6)  # every task's first healthcheck (2 s interval) has reported
            return
        time.sleep(2)
    raise SystemExit(f"stack {STACK} with {replicas} replicas per service did not settle")


def audit(policy: Path, live: bool, report_dir: Path) -> tuple[float, dict]:
    command = [sys.executable, "-m", "pytest", "--stack", STACK, f"--docker-host={engine(NODES[0])}",
               f"--policy={policy}", f"--report-dir={report_dir}", "-q", "-p", "no:cacheprovider"]
    started = time.perf_counter()
    subprocess.run(command + ([] if live else ["--no-live"]), cwd=ROOT, capture_output=True, timeout=900)
    seconds = time.perf_counter() - started
    document = json.loads((report_dir / "compliance.json").read_text())
    if document["failure"]:
        raise SystemExit(f"the audit did not run: {document['failure']}")
    return seconds, document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", default="2,10", help="replicas per service, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pq-swarm-bench-") as tmp:
        workdir = Path(tmp)
        policy = policy_file(workdir)
        try:
            for replicas in map(int, args.replicas.split(",")):
                deploy(replicas, workdir)
                for live in (False, True):
                    runs = [audit(policy, live, workdir / f"r{replicas}-{live}-{i}")
                            for i in range(args.repeat)]
                    seconds, document = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
                    tasks = len({r["container"] for r in document["results"] if r["container"]})
                    rows.append({"tasks": tasks, "live": live, "seconds": seconds,
                                 "runs": [r[0] for r in runs],
                                 "api_calls": document["engine"]["api_calls"],
                                 "nodes": sorted({r["node"] for r in document["results"] if r["node"]}),
                                 "summary": document["summary"]})
        finally:
            remove_stack()
    print("| tasks | live | wall | engine calls | calls per task | nodes |")
    print("|---:|---|---:|---:|---:|---|")
    for row in rows:
        print(f"| {row['tasks']} | {'yes' if row['live'] else 'no'} | {row['seconds']:.2f} s | "
              f"{row['api_calls']} | {row['api_calls'] / row['tasks']:.1f} | {', '.join(row['nodes'])} |")
    for live in (False, True):
        pair = [r for r in rows if r["live"] is live]
        if len(pair) >= 2 and pair[-1]["tasks"] > pair[0]["tasks"]:
            per_task = (pair[-1]["seconds"] - pair[0]["seconds"]) / (pair[-1]["tasks"] - pair[0]["tasks"])
            print(f"cost per added task ({'live' if live else '--no-live'}): {per_task * 1000:.0f} ms")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
