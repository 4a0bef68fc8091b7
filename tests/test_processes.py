"""HRD-08's process list: one scan of a /proc tree maps every process to its container."""

from compliance import processes
from compliance.processes import Process

A, B, OTHER = "a" * 64, "b" * 64, "c" * 64


def fake_proc(tmp_path, entries):
    """entries: pid -> (cgroup text, comm)."""
    for pid, (cgroup, comm) in entries.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cgroup").write_text(cgroup)
        (tmp_path / str(pid) / "comm").write_text(comm + "\n")
    (tmp_path / "self").mkdir()  # not a pid: ignored
    return tmp_path


def test_one_scan_maps_processes_to_their_containers(tmp_path):
    proc = fake_proc(tmp_path, {
        10: (f"0::/docker/{A}\n", "nginx"),
        11: (f"9:name=systemd:/docker/{A}\n0::/docker/{A}\n", "sshd"),
        20: (f"0::/system.slice/docker-{B}.scope\n", "telnetd"),
        30: (f"0::/docker/{OTHER}\n", "postgres"),  # not asked about
        40: ("0::/user.slice\n", "bash"),
    })
    found = processes.scan([A, B], proc)
    assert found == {A: (Process(10, "nginx"), Process(11, "sshd")), B: (Process(20, "telnetd"),)}
    assert str(found[B][0]) == "pid 20 telnetd"


def test_a_process_that_vanishes_mid_scan_is_skipped(tmp_path):
    proc = fake_proc(tmp_path, {10: (f"0::/docker/{A}\n", "nginx")})
    (proc / "11").mkdir()  # exited: its files are gone
    assert processes.scan([A], proc) == {A: (Process(10, "nginx"),)}


def test_docker_top_with_comm_last():
    top = {"Titles": ["PID", "RUID", "RGID", "COMMAND"],
           "Processes": [["4242", "0", "0", "sshd"], ["4250", "1001", "1001", "my daemon"]]}
    assert processes.from_top(top) == (Process(4242, "sshd"), Process(4250, "my daemon"))
    assert processes.from_top({"Titles": ["UID", "PID"], "Processes": [["0", "1"]]}) is None
