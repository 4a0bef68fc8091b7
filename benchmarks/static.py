"""The pull-request gate's cost per compose file, beside compose-lint's (issue 13).

For each compose file, in one run: the wall time of `passq-compliance
--static-only --compose-file F` (a whole process, as CI runs it: Python, pytest,
`docker compose config`, the checks, all four reports) and of `compose-lint check
--format json F` (PyPI's compose-lint, installed into this benchmark's own
virtualenv, never into the suite's requirements), each the median of --repeat
runs (after one unmeasured warm-up, so Python's bytecode cache is written as a
user's first run writes it), with the CPU time it used (user + system, its
children's included: less sensitive to a loaded machine than the wall time);
and what each found: our failed (control x service) results and compose-lint's
findings. The files: the fixture stacks' compose files, the example stacks in
benchmarks/compose/, and generated files of --services services each (the
cost of one more service is the slope between the smallest and largest). Ours
is judged with a neutral policy (benchmarks/static-policy.yml), as a user
would judge a file nobody here wrote. Last, a monorepo: --projects generated
project folders of a few services each, judged in ONE run (`--project` per
folder, from the repository's root) beside one compose-lint run over the same
files.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench  # its --baseline: an earlier revision in a virtualenv of its own
import yaml

ROOT = Path(__file__).resolve().parent.parent
LINT_VERSION = "0.36.2"
LINT_VENV = Path.home() / ".cache" / "passq-compliance" / f"compose-lint-{LINT_VERSION}"
POLICY = ROOT / "benchmarks" / "static-policy.yml"
# Issue 24's goals: one compose file, a file of 50 services, one more service, ten projects.
TARGET_FILE_S, TARGET_50_S, TARGET_SERVICE_S, TARGET_PROJECTS_S = 0.3, 0.6, 0.005, 1.5
PROJECT_SERVICES = 4  # services of each generated project


def lint_binary() -> Path:
    """compose-lint in its own virtualenv (created on first use, from PyPI)."""
    binary = LINT_VENV / "bin" / "compose-lint"
    if not binary.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(LINT_VENV)], check=True)
        subprocess.run([str(LINT_VENV / "bin" / "pip"), "install", "-q",
                        f"compose-lint=={LINT_VERSION}"], check=True)
    return binary


def generated(services: int, workdir: Path, name: str = "") -> Path:
    """A large file: `services` copies of a plain, unhardened web service."""
    path = workdir / (name or f"generated-{services}.yml")
    path.write_text(yaml.safe_dump({"services": {
        f"s{i:03d}": {"image": "passq-fixture/busybox:1.35", "ports": [f"{20000 + i}:8080"],
                      "environment": {"API_TOKEN": "${API_TOKEN}", "MODE": "plain"}}
        for i in range(services)}}))
    return path


def monorepo(projects: int, workdir: Path) -> Path:
    """A repository of `projects` folders p00, p01, ..., each a compose.yaml of a few services."""
    root = workdir / "monorepo"
    for n in range(projects):
        (root / f"p{n:02d}").mkdir(parents=True)
        generated(PROJECT_SERVICES, root / f"p{n:02d}", "compose.yaml")
    return root


def files(services: list[int], workdir: Path) -> list[Path]:
    stacks = sorted((ROOT / "fixtures" / "stacks").glob("*/compose.yml"))
    stacks = [p for p in stacks if p.parent.name != "swarm-passq"]
    return [*stacks, *sorted((ROOT / "benchmarks" / "compose").glob("*.yml")),
            *(generated(n, workdir) for n in services)]


def timed(command: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds of one run. The session's PYTHONDONTWRITEBYTECODE is dropped, as
    bench.py does: a user's Python caches bytecode, and recompiling every module on every
    run would be a cost no user pays."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                          env=dict(env, DOCKER_HOST="unix:///nonexistent/no-engine.sock"))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, done


def ours(path: Path, report_dir: Path, root: Path = ROOT) -> tuple[float, float, int]:
    """The static gate of the checkout at `root` (its own .venv): this one, or --baseline; of
    one compose file, or (`path` a monorepo's root) of every project folder in it."""
    judged = ([f"--project={p.name}" for p in sorted(path.iterdir())] if path.is_dir()
              else [f"--compose-file={path}"])
    command = [str(root / ".venv" / "bin" / "passq-compliance"), "--static-only", *judged,
               f"--policy={POLICY}", f"--report-dir={report_dir}", "-q", "-p", "no:cacheprovider"]
    seconds, cpu, done = timed(command, path if path.is_dir() else path.parent)
    document = json.loads((report_dir / "compliance.json").read_text())
    if done.returncode not in (0, 1) or document["failure"]:
        raise SystemExit(f"{path}: the static audit did not run: {document['failure'] or done.stderr}")
    return seconds, cpu, document["summary"]["failed"]


def theirs(path: Path, lint: Path) -> tuple[float, float, int]:
    """compose-lint over one file, or in one run over every project's compose.yaml."""
    paths = sorted(path.glob("*/compose.yaml")) if path.is_dir() else [path]
    seconds, cpu, done = timed([str(lint), "check", "--format", "json", *map(str, paths)],
                               path if path.is_dir() else path.parent)
    try:
        return seconds, cpu, len(json.loads(done.stdout)["findings"])
    except (json.JSONDecodeError, KeyError):
        raise SystemExit(f"{path}: compose-lint gave no JSON: {done.stderr[:300]}") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--services", default="1,50,100",
                        help="sizes of the generated files, comma-separated (default: 1,50,100)")
    parser.add_argument("--projects", type=int, default=10,
                        help=f"project folders of the monorepo case, {PROJECT_SERVICES} services each "
                             "(default: 10; 0: no monorepo case)")
    parser.add_argument("--baseline", metavar="REV",
                        help="also time the static gate of an earlier revision, in the same run "
                             "(exported and installed as bench.py's --baseline does)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.services.split(","))
    lint = lint_binary()
    rows, load = [], [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="pq-static-bench-") as tmp:
        workdir = Path(tmp)
        previous = bench.baseline(args.baseline, workdir).root if args.baseline else None
        cases = [*files(sizes, workdir), *([monorepo(args.projects, workdir)] if args.projects else [])]
        for path in cases:
            report_dir = workdir / "reports" / path.stem
            ours(path, report_dir), theirs(path, lint)  # warm-up: bytecode cached, files read once
            runs = [(ours(path, report_dir), theirs(path, lint)) for _ in range(args.repeat)]
            services = (args.projects * PROJECT_SERVICES if path.is_dir()
                        else len((yaml.safe_load(path.read_text()) or {}).get("services") or {}))
            before = {}
            if previous and not path.is_dir():  # an earlier revision may not know --project
                ours(path, report_dir, previous)
                timings = [ours(path, report_dir, previous) for _ in range(args.repeat)]
                before = {"baseline_s": statistics.median(b[0] for b in timings),
                          "baseline_cpu_s": statistics.median(b[1] for b in timings)}
            rows.append({**before,
                "file": (f"monorepo: {args.projects} projects in one run" if path.is_dir()
                         else str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name),
                "services": services,
                "ours_s": statistics.median(o[0] for o, _ in runs),
                "ours_cpu_s": statistics.median(o[1] for o, _ in runs),
                "compose_lint_s": statistics.median(t[0] for _, t in runs),
                "compose_lint_cpu_s": statistics.median(t[1] for _, t in runs),
                "ours_failed": runs[0][0][2], "compose_lint_findings": runs[0][1][2],
                "runs": [{"ours_s": o[0], "ours_cpu_s": o[1], "compose_lint_s": t[0]} for o, t in runs],
            })
    load.append(os.getloadavg()[0])
    print("| file | services | passq-compliance --static-only (CPU) | compose-lint (CPU) | "
          "failed results | compose-lint findings |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        baseline = (f" (baseline {row['baseline_s']:.2f} s, CPU {row['baseline_cpu_s']:.2f} s)"
                    if "baseline_s" in row else "")
        print(f"| {row['file']} | {row['services']} | {row['ours_s']:.2f} s ({row['ours_cpu_s']:.2f} s)"
              f"{baseline} | {row['compose_lint_s']:.2f} s ({row['compose_lint_cpu_s']:.2f} s) | "
              f"{row['ours_failed']} | {row['compose_lint_findings']} |")
    single = [r for r in rows if not r["file"].startswith("monorepo")]
    mean = statistics.mean(r["ours_s"] for r in single)
    print(f"\nmean per file: passq-compliance {mean:.2f} s, compose-lint "
          f"{statistics.mean(r['compose_lint_s'] for r in single):.2f} s; median of {args.repeat} runs "
          f"each; load average {load[0]:.1f} at the start, {load[-1]:.1f} at the end")
    if args.projects:
        print(f"{args.projects} projects in one run: {rows[-1]['ours_s']:.2f} s wall "
              f"(goal < {TARGET_PROJECTS_S} s)")
    generated_rows = [r for r in rows if r["file"].startswith("generated-")]
    if len(sizes) > 1:
        first, last = generated_rows[0], generated_rows[-1]
        added = last["services"] - first["services"]
        print(f"one more service: {1000 * (last['ours_s'] - first['ours_s']) / added:.1f} ms wall, "
              f"{1000 * (last['ours_cpu_s'] - first['ours_cpu_s']) / added:.1f} ms CPU "
              f"(goal < {1000 * TARGET_SERVICE_S:.0f} ms); one file under {TARGET_FILE_S} s and 50 "
              f"services under {TARGET_50_S} s are the other goals")
    if args.json:
        args.json.write_text(json.dumps({"compose_lint": LINT_VERSION, "load": load, "rows": rows},
                                        indent=2))
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
