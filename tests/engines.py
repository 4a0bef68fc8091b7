"""A second Docker engine for a test, started and removed by the test itself.

It runs in a network namespace of its own (an extra dockerd in the host's
namespace takes the host engine's docker0 with it when it stops) with its own
socket, data root and exec root, so the default engine is never touched. It
has no bridge and no iptables rules: its containers run with `network_mode:
none`. The fixture images it needs are copied in with `docker save | load`.
"""

import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

START_S = 60


def _answers(host: str) -> bool:
    return subprocess.run(["docker", "-H", host, "info"], capture_output=True,
                          timeout=10).returncode == 0


@contextlib.contextmanager
def extra_engine(*flags: str, images: tuple[str, ...] = ()) -> Iterator[str]:
    """A dockerd started with `flags`; yields its `unix://` host."""
    netns = f"pq-{uuid.uuid4().hex[:8]}"
    root = Path(tempfile.mkdtemp(prefix="pqd-", dir="/tmp"))  # short: unix socket paths <108
    root.chmod(0o711)  # an engine with --userns-remap runs its containers' root through it
    host = f"unix://{root}/docker.sock"
    subprocess.run(["ip", "netns", "add", netns], check=True, capture_output=True)
    log = (root / "dockerd.log").open("wb")
    daemon = subprocess.Popen(
        ["nsenter", f"--net=/var/run/netns/{netns}", "dockerd", *flags, "--data-root",
         str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile", str(root / "pid"),
         "-H", host, "--bridge=none", "--iptables=false"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_S
        while not _answers(host):
            assert daemon.poll() is None, (root / "dockerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, f"dockerd at {host} did not answer in {START_S} s"
            time.sleep(0.5)
        for image in images:
            saved = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
            subprocess.run(["docker", "-H", host, "load", "-q"], stdin=saved.stdout, check=True,
                           capture_output=True, timeout=120)
            saved.wait(timeout=120)
        yield host
    finally:
        listed = subprocess.run(["docker", "-H", host, "ps", "-aq"], capture_output=True,
                                text=True, timeout=30).stdout.split()
        if listed:
            subprocess.run(["docker", "-H", host, "rm", "-f", *listed], capture_output=True,
                           timeout=60)
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=10)
        log.close()
        _unmount_below(root)
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True)


def _unmount_below(root: Path) -> None:
    """What dockerd leaves mounted under its data and exec roots, deepest first."""
    mounted = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounted if m.startswith(f"{root}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
