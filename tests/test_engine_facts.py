"""What changes with the engine (docs/engines.md), judged from recorded inspect data: the
engine read from `docker version`/`docker info`, limits an engine without cgroups cannot
apply, a rootless container's processes, Podman's network and its spellings of compose
settings, and uid 0 shown with the host uid a user namespace gives it."""

import dataclasses
import json

import pytest

from compliance import kernel
from compliance.checks import declared, hardening, network, resources, users
from compliance.model import EngineFacts
from compliance.policy import ServicePolicy
from compliance.sources.engine import Engine, product
from tests.recorded import FIXTURES, container_from

PODMAN = EngineFacts("Podman", "4.3.1")
ROOTLESS_NO_CGROUPS = EngineFacts("Docker", "20.10.24+dfsg1", rootless=True, cgroups=False)


def recorded(control: str, name: str, **changes):
    data = json.loads((FIXTURES / control / name).read_text())
    return dataclasses.replace(container_from(data), **changes)


def test_the_engine_is_named_from_its_version_and_info():
    assert product({"Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]}) == "Podman"
    assert product({"Components": [{"Name": "Engine", "Version": "20.10.24"}]}) == "Docker"
    assert product({}) == "Docker"
    engine = Engine(api=None, host="unix:///x", version="20.10.24", calls=None)
    facts = engine.facts({"SecurityOptions": ["name=seccomp,profile=default", "name=rootless"],
                          "CgroupDriver": "none"})
    assert (str(facts), facts.rootless, facts.cgroups) == ("rootless Docker 20.10.24", True, False)
    assert engine.facts({}).cgroups is None  # info unreadable: unknown, not "no cgroups"
    assert engine.facts({"CgroupDriver": "cgroupfs"}).cgroups is True


@pytest.mark.parametrize("check", [resources.memory_limit, resources.cpu_limit,
                                   resources.pids_limit])
def test_a_limit_an_engine_without_cgroups_records_is_no_limit(check):
    limited = recorded("RES-01", "pass-within-policy.json")
    ok = dataclasses.replace(limited, attrs={**limited.attrs, "HostConfig": {
        **limited.attrs["HostConfig"], "NanoCpus": 250000000, "PidsLimit": 50}})
    policy = ServicePolicy()
    assert check(ok, policy).outcome == "passed"
    found = check(dataclasses.replace(ok, engine=ROOTLESS_NO_CGROUPS), policy)
    assert found.outcome == "failed"
    assert "rootless Docker 20.10.24+dfsg1 runs containers without cgroups" in found.message
    assert "CgroupDriver=none" in found.evidence
    unknown = dataclasses.replace(ok, engine=dataclasses.replace(ROOTLESS_NO_CGROUPS, cgroups=None))
    assert check(unknown, policy).outcome == "passed"


def test_a_rootless_containers_processes_are_its_pid_namespaces():
    answer = "\n".join([
        "@@container aaa 10", "@@container bbb 20", "@@container ccc 30",
        "@@files", "/proc/10/status:Uid:\t401000\t401000\t401000\t401000",
        "/proc/10/status:Gid:\t401000\t401000\t401000\t401000",
        "/proc/10/uid_map:         0      20000          1", "/proc/10/uid_map:1 400000 65536",
        "/proc/10/gid_map:0 20000 1", "/proc/10/gid_map:1 400000 65536",
        "/proc/20/status:Uid:\t0\t0\t0\t0", "/proc/20/status:Gid:\t0\t0\t0\t0",
        "@@processes", "/proc/10/comm:sleep", "/proc/11/comm:telnetd", "/proc/12/comm:bash",
        "/proc/20/comm:init", "/proc/30/comm:sh",
        "@@cgroups", *(f"/proc/{p}/cgroup:0::/" for p in (10, 11, 12, 20, 30)),
        "@@pidns", "self 4026531836", "/proc/10/ns/pid 4026532559",
        "/proc/11/ns/pid 4026532559", "/proc/12/ns/pid 4026531836", "/proc/20/ns/pid 4026531836",
        "/proc/30/ns/pid 4026532600", "@@done"])
    assert kernel.parse_view(answer, "x") == {}  # no cgroup names them: not theirs
    seen = kernel.parse_view(answer, "engine host (test)", by_pid_namespace=True)
    assert set(seen) == {"aaa", "ccc"}  # bbb's pid 20 is in the host's pid namespace
    assert [p.name for p in seen["aaa"].processes] == ["sleep", "telnetd"]
    ids = seen["aaa"].kernel.container_ids
    assert (str(ids), str(ids.host)) == ("1001:1001", "401000:401000")


def test_uid_0_in_a_rootless_container_fails_and_shows_the_host_uid():
    root = recorded("USR-01", "fail-root-default.json")
    mapped = kernel.Ids(0, 0, (0, 0, 0, 0), (0, 0, 0, 0), host=kernel.Ids(20000, 20000))
    found = users.non_root(dataclasses.replace(
        root, process=mapped, engine=EngineFacts("Docker", "20.10.24", rootless=True)),
        ServicePolicy())
    assert found.outcome == "failed"
    assert "main process uid:gid=0:0, 20000:20000 on the host (user namespace)" in found.evidence
    assert found.evidence.endswith("; engine rootless Docker 20.10.24")


def test_podmans_bridge_mode_is_not_its_default_network():
    """Podman's NetworkMode is "bridge" for every bridge network; its default one is `podman`."""
    ok = recorded("NET-02", "pass-allowed-networks.json")
    policy = ServicePolicy(networks=("backend_network",))
    attrs = {**ok.attrs, "HostConfig": {**ok.attrs["HostConfig"], "NetworkMode": "bridge"}}
    on_podman = dataclasses.replace(ok, attrs=attrs, engine=PODMAN)
    assert network.allowed_networks_only(on_podman, policy).outcome == "passed"
    assert network.allowed_networks_only(dataclasses.replace(on_podman, engine=None),
                                         policy).outcome == "failed"
    default = dataclasses.replace(on_podman, networks={"podman": "podman"})
    assert network.allowed_networks_only(default, policy).outcome == "failed"


def test_podmans_spellings_of_compose_settings_are_no_drift():
    ok = recorded("NET-02", "pass-allowed-networks.json")
    hc = ok.attrs["HostConfig"]
    asked = dataclasses.replace(ok, attrs={**ok.attrs, "HostConfig": {
        **hc, "CapDrop": ["ALL"], "SecurityOpt": ["no-new-privileges:true"], "PidMode": "",
        "ReadonlyRootfs": True, "Tmpfs": {"/tmp": "size=16m"}, "PidsLimit": None}})
    podman = dataclasses.replace(ok, engine=PODMAN, attrs={**ok.attrs, "HostConfig": {
        **hc, "CapDrop": sorted(declared.DEFAULT_CAPABILITIES), "ReadonlyRootfs": True,
        "SecurityOpt": ["no-new-privileges"], "PidMode": "private", "PidsLimit": 2048,
        "Tmpfs": {"/tmp": "size=16m,rw,nosuid,nodev,rprivate,tmpcopyup",
                  "/run": "rw,nosuid,nodev,rprivate,tmpcopyup", "/var/tmp": "rprivate"}}})
    assert declared.settings(podman, asked) == declared.settings(asked, asked)
    on_docker = dataclasses.replace(podman, engine=None)  # the same words from Docker: drift
    different = {k for k, v in declared.settings(on_docker, asked).items()
                 if v != declared.settings(asked, asked)[k]}
    # (a bare no-new-privileges is :true on either engine: no drift on Docker either)
    assert different == {"cap_drop", "pid", "pids_limit", "tmpfs"}


def test_a_host_ipc_namespace_the_inspect_data_hides_is_the_kernels_to_say():
    """Podman 4.3 reports IpcMode=shareable for a container started with ipc: host."""
    answer = "\n".join([
        "@@container aaa 10", "@@container bbb 20", "@@files",
        *(f"/proc/{p}/status:{k}:\t0\t0\t0\t0" for p in (10, 20) for k in ("Uid", "Gid")),
        "@@processes", "/proc/10/comm:sh", "/proc/20/comm:sh",
        "@@cgroups", "/proc/10/cgroup:0::/libpod_parent/libpod-aaa",
        "/proc/20/cgroup:0::/libpod_parent/libpod-bbb",
        "@@namespaces", "self ipc 4026531839", "self uts 4026531838",
        "10 ipc 4026531839", "10 uts 4026532700", "20 ipc 4026532801", "20 uts 4026532802",
        "@@done"])
    seen = kernel.parse_view(answer, "engine host (test)")
    assert (seen["aaa"].host_namespaces, seen["bbb"].host_namespaces) == ({"ipc"}, frozenset())
    ok = recorded("HRD-04", "pass-default-caps.json")
    attrs = {**ok.attrs, "HostConfig": {**ok.attrs["HostConfig"], "IpcMode": "shareable"}}
    shared = dataclasses.replace(ok, attrs=attrs, engine=PODMAN, inside=seen["aaa"])
    found = hardening.no_host_privileges(shared, ServicePolicy())
    assert found.outcome == "failed" and "should not share the host's IPC namespace" in found.message
    assert 'HostConfig.IpcMode="shareable"' in found.evidence and "ns/{ipc}" in found.evidence
    own = dataclasses.replace(shared, inside=seen["bbb"])
    assert hardening.no_host_privileges(own, ServicePolicy()).outcome == "passed"


def test_a_stopped_containers_ipc_namespace_on_podman_is_undecided_not_passed():
    """Stopped, the container's namespaces cannot be read, and Podman 4.3's IpcMode=shareable
    may stand for ipc: host: HRD-04 cannot pass on it."""
    ok = recorded("HRD-04", "pass-default-caps.json")
    attrs = {**ok.attrs, "HostConfig": {**ok.attrs["HostConfig"], "IpcMode": "shareable"}}
    stopped = dataclasses.replace(ok, attrs=attrs, engine=PODMAN, inside=None)
    found = hardening.no_host_privileges(stopped, ServicePolicy())
    assert found.outcome == "error" and "IpcMode=shareable" in found.message
    on_docker = dataclasses.replace(stopped, engine=None)  # Docker's shareable is its own namespace
    assert hardening.no_host_privileges(on_docker, ServicePolicy()).outcome == "passed"
