"""The engine host's view of a container (compliance/sources/inside.py): what it asks, how its
one batched answer is read, and that it reads a real container right."""

import dataclasses

import docker
import pytest

from compliance import kernel
from compliance.processes import Process
from compliance.sources import engine, inside
from compliance.sources.compose import PROBE_LABEL
from compliance.sources.probes.runner import ProbeRunner
from compliance.sources.probes.view import ProbedHost

MOUNTINFO = """\
730 588 0:77 / / ro,relatime master:312 - overlay overlay rw,lowerdir=/var/lib/docker/l
731 730 0:79 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
740 730 0:84 / /tmp rw,nosuid,nodev,noexec,relatime shared:7 - tmpfs tmpfs rw,size=16384k
741 730 254:1 /secrets/db\\040pw.txt /run/secrets/db\\040pw ro,relatime - ext4 /dev/vda rw
"""


def test_mountinfo_gives_each_mount_its_options_type_and_propagation():
    mounts = kernel.parse_mountinfo(MOUNTINFO + "garbage line\n")
    assert [str(m) for m in mounts] == ["/ overlay ro", "/proc proc rw", "/tmp tmpfs rw",
                                        "/run/secrets/db pw ext4 ro"]
    assert [m.propagation for m in mounts] == ["slave", "private", "shared", "private"]


def test_one_answer_for_every_container_is_split_and_read():
    answer = "\n".join([
        "@@container aaa 10", "@@secrets",
        "regular file|0|0|600|/proc/10/root/run/secrets/db_pw", "@@programs",
        "-/usr/bin/curl", "-/bin/curl",
        "@@container bbb 13",
        "@@container ccc 14", "@@noroot",
        "@@files", "/proc/10/status:Uid:\t1001\t1001\t1001\t1001",
        "/proc/10/status:Gid:\t1001\t1001\t1001\t1001", "/proc/10/status:NoNewPrivs:\t1",
        *(f"/proc/10/mountinfo:{line}" for line in MOUNTINFO.splitlines()),
        "/proc/14/status:Uid:\t0\t0\t0\t0", "/proc/14/status:Gid:\t0\t0\t0\t0",
        "@@processes", "/proc/10/comm:sleep", "/proc/11/comm:sshd", "/proc/12/comm:other",
        "/proc/13/comm:reused", "/proc/14/comm:sh",
        "@@cgroups", "/proc/10/cgroup:0::/docker/aaa", "/proc/11/cgroup:0::/docker/aaa",
        "/proc/12/cgroup:0::/docker/zzz", "/proc/13/cgroup:0::/docker/zzz",
        "/proc/14/cgroup:0::/docker/ccc", "@@done"])
    seen = kernel.parse_view(answer, "engine host (test)")
    assert set(seen) == {"aaa", "ccc"}  # bbb's pid 13 is another container's now
    a = seen["aaa"]
    assert (str(a.kernel.ids), a.kernel.no_new_privs, str(a.root_mount())) == ("1001:1001", True,
                                                                            "/ overlay ro")
    assert a.secrets == {"db_pw": kernel.FileEntry("file", 0, 0, 0o600)}
    assert a.programs == {"/usr/bin/curl": False, "/bin/curl": False}
    assert a.processes == (Process(10, "sleep"), Process(11, "sshd"))
    c = seen["ccc"]
    assert (c.secrets, c.programs) == (None, None)  # its root could not be looked into
    assert kernel.parse_view(answer.replace("@@done", ""), "x") == {}  # cut short: nothing


@pytest.mark.parametrize(("test", "paths"), [
    (("CMD", "curl", "-f", "http://127.0.0.1/"), ("/usr/bin/curl", "/bin/curl")),
    (("CMD-SHELL", "LANG=C curl -fsS http://127.0.0.1/ || exit 1"), ("/usr/bin/curl", "/bin/curl")),
    (("CMD", "/opt/app/check"), ("/opt/app/check",)),
    (("NONE",), ()),
    (("CMD-SHELL", "unbalanced 'quote"), ()),
])
def test_the_program_of_a_healthcheck_is_looked_for_in_the_containers_path(test, paths):
    assert inside.program_paths(test, "/usr/bin:/bin:relative") == paths


@pytest.fixture
def hardened(docker_engine):
    """A running hardened container (uid 1001, read-only root with a /tmp tmpfs, no new
    privileges, no capabilities) as the engine host's view targets it; removed after."""
    client = docker.from_env()
    container = client.containers.run(
        "passq-fixture/busybox:1.35", ["sleep", "60"], detach=True, read_only=True, user="1001:1001",
        tmpfs={"/tmp": "size=1m"}, security_opt=["no-new-privileges:true"], cap_drop=["ALL"],
        network_mode="none")
    try:
        container.reload()
        yield inside.Target(container.id, container.attrs["State"]["Pid"], ("/bin/sh", "/bin/curl"))
    finally:
        container.remove(force=True)


def test_the_engine_host_reads_a_real_container_in_one_command(hardened):
    view = inside.EngineHost("local://").look([hardened])[hardened.container_id]
    assert (str(view.kernel.ids), view.kernel.no_new_privs, view.kernel.cap_eff) == (
        "1001:1001", True, frozenset())
    assert view.root_mount().read_only and view.mount_at("/tmp").fstype == "tmpfs"
    assert [p.name for p in view.processes] == ["sleep"]
    assert view.programs == {"/bin/sh": True, "/bin/curl": False}
    assert view.secrets == {}


def test_an_engine_whose_host_testinfra_cannot_reach_is_seen_through_a_probe_container(hardened):
    remote = dataclasses.replace(engine.connect(), host="tcp://engine.example:2376")  # not local
    runner = ProbeRunner(remote)
    probed = ProbedHost(runner).look([hardened], resolve=["/tmp"])[hardened.container_id]
    local = inside.EngineHost("local://").look([hardened], resolve=["/tmp"])[hardened.container_id]
    assert probed.view == ("engine host (tcp://engine.example:2376) through a probe container "
                           "in its PID namespace")
    assert (probed.kernel, probed.mounts, probed.secrets, probed.programs, probed.processes,
            probed.resolved) == (local.kernel, local.mounts, local.secrets, local.programs,
                                 local.processes, local.resolved)
    assert not docker.from_env().containers.list(all=True,
                                                 filters={"label": f"{PROBE_LABEL}={runner.run_id}"})


def test_without_a_probe_image_there_is_no_view_rather_than_a_wrong_one(docker_engine):
    remote = dataclasses.replace(engine.connect(), host="tcp://engine.example:2376")
    target = inside.Target("0" * 64, 1)
    assert ProbedHost(ProbeRunner(remote, "passq-fixture/no-such-image:0")).look([target]) == {}
