"""The pull-request gate's cost per compose file, beside compose-lint's (issue 13).

For each compose file, in one run: the wall time of `passq-compliance
--static-only --compose-file F` (a whole process, as CI runs it: Python, pytest,
`docker compose config`, the checks, all four reports) and of `compose-lint check
--format json F` (PyPI's compose-lint, installed into this benchmark's own
virtualenv, never into the suite's requirements), each the median of --repeat
runs; and what each found: our failed (control x service) results and
compose-lint's findings. The files: the fixture stacks' compose files, the
example stacks in benchmarks/compose/, and one generated file of --services
services. Ours is judged with a neutral policy (benchmarks/static-policy.yml),
as a user would judge a file nobody here wrote.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LINT_VERSION = "0.36.2"
LINT_VENV = Path.home() / ".cache" / "passq-compliance" / f"compose-lint-{LINT_VERSION}"
POLICY = ROOT / "benchmarks" / "static-policy.yml"
TARGET_S = 0.4


def lint_binary() -> Path:
    """compose-lint in its own virtualenv (created on first use, from PyPI)."""
    binary = LINT_VENV / "bin" / "compose-lint"
    if not binary.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(LINT_VENV)], check=True)
        subprocess.run([str(LINT_VENV / "bin" / "pip"), "install", "-q",
                        f"compose-lint=={LINT_VERSION}"], check=True)
    return binary


def generated(services: int, workdir: Path) -> Path:
    """A large file: `services` copies of a plain, unhardened web service."""
    path = workdir / f"generated-{services}.yml"
    path.write_text(yaml.safe_dump({"services": {
        f"s{i:03d}": {"image": "passq-fixture/busybox:1.35", "ports": [f"{20000 + i}:8080"],
                      "environment": {"API_TOKEN": "${API_TOKEN}", "MODE": "plain"}}
        for i in range(services)}}))
    return path


def files(services: int, workdir: Path) -> list[Path]:
    stacks = sorted((ROOT / "fixtures" / "stacks").glob("*/compose.yml"))
    stacks = [p for p in stacks if p.parent.name != "swarm-passq"]
    return [*stacks, *sorted((ROOT / "benchmarks" / "compose").glob("*.yml")),
            generated(services, workdir)]


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                          env=dict(os.environ, DOCKER_HOST="unix:///nonexistent/no-engine.sock"))
    return time.perf_counter() - started, done


def ours(path: Path, report_dir: Path) -> tuple[float, int]:
    command = [str(ROOT / ".venv" / "bin" / "passq-compliance"), "--static-only",
               f"--compose-file={path}", f"--policy={POLICY}", f"--report-dir={report_dir}",
               "-q", "-p", "no:cacheprovider"]
    seconds, done = timed(command, path.parent)
    document = json.loads((report_dir / "compliance.json").read_text())
    if done.returncode not in (0, 1) or document["failure"]:
        raise SystemExit(f"{path}: the static audit did not run: {document['failure'] or done.stderr}")
    return seconds, document["summary"]["failed"]


def theirs(path: Path, lint: Path) -> tuple[float, int]:
    seconds, done = timed([str(lint), "check", "--format", "json", str(path)], path.parent)
    try:
        return seconds, len(json.loads(done.stdout)["findings"])
    except (json.JSONDecodeError, KeyError):
        raise SystemExit(f"{path}: compose-lint gave no JSON: {done.stderr[:300]}") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    lint = lint_binary()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pq-static-bench-") as tmp:
        workdir = Path(tmp)
        for path in files(args.services, workdir):
            report_dir = workdir / "reports" / path.stem
            runs = [(ours(path, report_dir), theirs(path, lint)) for _ in range(args.repeat)]
            services = len((yaml.safe_load(path.read_text()) or {}).get("services") or {})
            rows.append({
                "file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name,
                "services": services,
                "ours_s": statistics.median(o[0] for o, _ in runs),
                "compose_lint_s": statistics.median(t[0] for _, t in runs),
                "ours_failed": runs[0][0][1], "compose_lint_findings": runs[0][1][1],
                "runs": [{"ours_s": o[0], "compose_lint_s": t[0]} for o, t in runs],
            })
    print("| file | services | passq-compliance --static-only | compose-lint | failed results | "
          "compose-lint findings |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['file']} | {row['services']} | {row['ours_s']:.2f} s | "
              f"{row['compose_lint_s']:.2f} s | {row['ours_failed']} | {row['compose_lint_findings']} |")
    mean = statistics.mean(r["ours_s"] for r in rows)
    print(f"\nmean per file: passq-compliance {mean:.2f} s (target < {TARGET_S} s), compose-lint "
          f"{statistics.mean(r['compose_lint_s'] for r in rows):.2f} s; median of {args.repeat} runs each")
    if args.json:
        args.json.write_text(json.dumps({"compose_lint": LINT_VERSION, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
