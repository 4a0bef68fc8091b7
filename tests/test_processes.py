"""HRD-08's process list where the engine host cannot be looked at: `docker top`. (The
engine host's own view maps processes by cgroup: tests/test_inside.py.)"""

from compliance import processes
from compliance.processes import Process


def test_docker_top_with_comm_last():
    top = {"Titles": ["PID", "RUID", "RGID", "COMMAND"],
           "Processes": [["4242", "0", "0", "sshd"], ["4250", "1001", "1001", "my daemon"]]}
    assert processes.from_top(top) == (Process(4242, "sshd"), Process(4250, "my daemon"))
    assert processes.from_top({"Titles": ["UID", "PID"], "Processes": [["0", "1"]]}) is None
