"""passq-staging's audit on each engine of docs/engines.md: rootful Docker, Podman 4.3 and
rootless Docker, with and without live probes, each the median of --repeat runs.

The rootful row audits the default engine's passq-staging (brought up when it is not);
the others start their engine with tests/engines.py (in a network namespace of its own),
bring passq-staging up there as tests/test_engine_*.py do, and stop it afterwards. Run as
root, on this machine under the shared lock:

    flock /tmp/passq-live.lock .venv/bin/python benchmarks/engines.py --repeat 3
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import docker

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
import bench  # noqa: E402

from tests import engines  # noqa: E402

POLICY = bench.ROOT / "policies" / "passq.yml"


def rows(kind: str, repeat: int, workdir: Path) -> list:
    """The live and --no-live medians of passq-staging on an engine of `kind`."""
    if kind == "docker":
        bench.ensure_staging(docker.from_env())
        compose_file, started = bench.ROOT / "fixtures/stacks/passq-staging/compose.yml", None
    else:
        started = engines.start(kind, images=engines.FIXTURE_IMAGES)
        compose_file = engines.deploy(started, bench.STAGING)
        os.environ["DOCKER_HOST"] = started.host  # the runs, and their probe count, go there
    try:
        return [bench.measure(bench.STAGING, POLICY, live, repeat, workdir, 3,
                              (f"--compose-file={compose_file}",), label=f"passq-staging on {kind}")
                for live in (False, True)]
    finally:
        os.environ.pop("DOCKER_HOST", None)
        if started is not None:
            engines.stop(started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="docker,podman,rootless")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pq-engines-bench-") as tmp:
        measured = [m for kind in args.engines.split(",") for m in rows(kind, args.repeat, Path(tmp))]
    print(bench.table(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
