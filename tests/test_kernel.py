"""The kernel's view of a main process (/proc/<pid>/status) and the verdicts it decides."""

import dataclasses
import json

from compliance import kernel
from compliance.checks import hardening, users
from compliance.policy import ServicePolicy
from tests.recorded import FIXTURES, container_from

STATUS = """Name:\tsleep
Umask:\t0022
State:\tS (sleeping)
Uid:\t1001\t1001\t1001\t1001
Gid:\t1001\t1001\t1001\t1001
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
CapBnd:\t00000000a80425fb
CapAmb:\t0000000000000000
NoNewPrivs:\t1
Seccomp:\t2
Seccomp_filters:\t1
"""


def test_a_status_file_is_parsed_into_ids_flags_and_capability_names():
    seen = kernel.parse_status(STATUS)
    assert str(seen.ids) == "1001:1001"
    assert (seen.no_new_privs, seen.seccomp, seen.seccomp_mode) == (True, 2, "filter")
    assert seen.cap_eff == frozenset()
    # moby's default set
    assert seen.cap_bnd == {"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
                            "SETPCAP", "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "MKNOD",
                            "AUDIT_WRITE", "SETFCAP"}


def test_lines_an_old_kernel_lacks_are_none_not_off():
    seen = kernel.parse_status("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n")
    assert (seen.no_new_privs, seen.seccomp, seen.cap_bnd) == (None, None, None)
    assert kernel.parse_status("garbage") is None


def seen(status: str) -> kernel.Inside:
    """The engine host's view of a process with this /proc status (nothing else read)."""
    return kernel.Inside("engine host (recorded)", kernel.parse_status(status), None, None, None, None)


def recorded(name: str, **changes):
    data = json.loads((FIXTURES / "HRD-01" / name).read_text())
    return dataclasses.replace(container_from(data), **changes)


def test_the_engine_default_passes_hrd01_without_a_security_opt_entry():
    plain = recorded("fail-not-set.json")
    assert hardening.no_new_privileges(plain).outcome == "failed"
    protected = dataclasses.replace(plain, engine_security=("name=seccomp,profile=default",
                                                           "name=no-new-privileges"))
    finding = hardening.no_new_privileges(protected)
    assert finding.outcome == "passed"
    assert "the engine's default sets it" in finding.evidence


def test_the_kernel_decides_hrd01_where_it_is_readable():
    configured = recorded("pass-colon-true.json")
    off = seen(STATUS.replace("NoNewPrivs:\t1", "NoNewPrivs:\t0"))
    finding = hardening.no_new_privileges(dataclasses.replace(configured, inside=off))
    assert finding.outcome == "failed" and "kernel NoNewPrivs=0" in finding.evidence
    plain = recorded("fail-not-set.json", inside=seen(STATUS))
    assert hardening.no_new_privileges(plain).outcome == "passed"
    switched_off = recorded("fail-colon-false.json", engine_security=("name=no-new-privileges",))
    assert hardening.no_new_privileges(switched_off).outcome == "failed"


def test_readability_follows_the_kernels_permission_rules():
    app = kernel.parse_status(STATUS)  # uid 1001, no effective capability
    root_only = kernel.FileEntry("file", 0, 0, 0o600)
    assert not app.can_read(root_only)
    assert app.can_read(kernel.FileEntry("file", 1001, 1001, 0o400))
    assert app.can_read(kernel.FileEntry("file", 0, 1001, 0o040))
    assert not app.can_read(kernel.FileEntry("file", 1001, 0, 0o040))  # the owner's bits decide
    assert app.can_read(kernel.FileEntry("file", 0, 0, 0o444))  # swarm's default mode
    root = kernel.parse_status(STATUS.replace("1001", "0").replace("CapEff:\t0000000000000000",
                                                                   "CapEff:\t00000000a80425fb"))
    assert root.can_read(root_only)  # CAP_DAC_OVERRIDE


def test_a_setuid_root_main_process_is_root_whatever_its_real_uid():
    """USR-01 reads every uid the kernel holds: a setuid-root program started by 1001 runs
    with effective uid 0, and a saved uid of 0 is one it can take back."""
    setuid = kernel.parse_status(STATUS.replace("Uid:\t1001\t1001\t1001\t1001", "Uid:\t1001\t0\t0\t0"))
    assert setuid.ids.root_uids() == ("effective", "saved", "filesystem")
    container = recorded_usr("pass-uid-matches-policy.json")
    assert users.non_root(container, ServicePolicy()).outcome == "passed"
    finding = users.non_root(dataclasses.replace(container, process=setuid.ids), ServicePolicy())
    assert finding.outcome == "failed"
    assert "its effective, saved and filesystem uids are 0" in finding.message
    assert "uids 1001/0/0/0" in finding.evidence
    dropped = kernel.parse_status(STATUS.replace("Uid:\t1001\t1001\t1001\t1001", "Uid:\t1001\t1001\t0\t1001"))
    finding = users.non_root(dataclasses.replace(container, process=dropped.ids), ServicePolicy())
    assert finding.outcome == "failed" and "its saved uid is 0" in finding.message


def test_file_access_is_checked_against_the_filesystem_ids():
    as_root = kernel.parse_status(STATUS.replace("Uid:\t1001\t1001\t1001\t1001", "Uid:\t1001\t0\t0\t0"))
    assert as_root.can_read(kernel.FileEntry("file", 0, 0, 0o600))
    assert not kernel.parse_status(STATUS).can_read(kernel.FileEntry("file", 0, 0, 0o600))


def recorded_usr(name: str):
    return container_from(json.loads((FIXTURES / "USR-01" / name).read_text()))


def test_a_user_namespace_maps_the_hosts_ids_back_to_the_containers():
    remapped = dataclasses.replace(
        kernel.parse_status(STATUS.replace("1001", "101001")),
        uid_map=kernel.parse_id_map(["         0     100000      65536"]),
        gid_map=kernel.parse_id_map(["0 100000 65536"]))
    ids = remapped.container_ids
    assert (str(ids), str(ids.host)) == ("1001:1001", "101001:101001")
    assert ids.uids == (1001,) * 4 and ids.root_uids() == ()
    assert remapped.can_read(kernel.FileEntry("file", 101001, 0, 0o400))  # the host's numbers
    unmapped = dataclasses.replace(remapped, uid_map=((0, 200000, 10),))
    assert unmapped.container_ids.uid == kernel.OVERFLOW_ID
    assert kernel.parse_id_map(["0 0 4294967295"]) is None  # the host's own namespace
    assert kernel.parse_id_map(["not a map"]) is None
    assert kernel.parse_status(STATUS).container_ids == kernel.parse_status(STATUS).ids


def test_a_remapped_roots_capabilities_read_only_files_its_namespace_maps():
    root = kernel.parse_status(STATUS.replace("1001", "100000").replace(
        "CapEff:\t0000000000000000", "CapEff:\t00000000a80425fb"))
    remapped = dataclasses.replace(root, uid_map=((0, 100000, 65536),), gid_map=((0, 100000, 65536),))
    assert root.can_read(kernel.FileEntry("file", 0, 0, 0o600))  # the host's root
    assert not remapped.can_read(kernel.FileEntry("file", 0, 0, 0o600))
    assert remapped.can_read(kernel.FileEntry("file", 101001, 101001, 0o600))  # its own files
