"""No green run over nothing: an unreachable engine or an empty stack is one clear error."""

from tests.live import audit


def test_unknown_stack_is_one_clear_error(docker_engine, tmp_path):
    run = audit("--stack", "no-such-stack-4711", report_dir=tmp_path)
    assert run.returncode == 4
    errors = [line for line in run.output.splitlines() if line.startswith("ERROR:")]
    assert errors == ["ERROR: stack 'no-such-stack-4711': no containers of stack 'no-such-stack-4711' "
                      "(label com.docker.compose.project=no-such-stack-4711) on the Docker engine at "
                      "unix:///var/run/docker.sock"]
    assert "Traceback" not in run.output


def test_unreachable_engine_names_the_engine(tmp_path):
    run = audit("--stack", "hardened", "--docker-host", "unix:///nonexistent/docker.sock",
                report_dir=tmp_path)
    assert run.returncode == 4
    assert ("ERROR: stack 'hardened': Docker engine at unix:///nonexistent/docker.sock is unreachable: "
            "No such file or directory") in run.output
    assert "Traceback" not in run.output


def test_engine_refusing_tcp_is_an_error(tmp_path):
    run = audit("--stack", "hardened", "--docker-host", "tcp://127.0.0.1:9", report_dir=tmp_path)
    assert run.returncode == 4
    assert "Docker engine at tcp://127.0.0.1:9 is unreachable: Connection refused" in run.output


def test_a_report_dir_outside_the_project_is_not_taken_for_a_test_path(tmp_path):
    """pytest would root itself at the existing directory and lose pytest.ini."""
    run = audit("--stack", "hardened", "--report-dir", str(tmp_path))
    assert run.returncode == 4
    assert run.output.strip().startswith(
        f"ERROR: pytest read `--report-dir {tmp_path}` as a test path and lost its configuration")
    assert run.output.strip().endswith(f"write --report-dir={tmp_path}")
