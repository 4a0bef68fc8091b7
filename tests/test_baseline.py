"""`passq-compliance baseline`: a waiver file from a finished run's compliance.json, one waiver
per failed (control, service), that the suite's own validator loads and that turns exactly
today's failures into `waived`."""

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from compliance import baseline, waivers

ROOT = Path(__file__).resolve().parents[1]
COMMAND = Path(sys.executable).parent / "passq-compliance"
TODAY = date(2026, 12, 3)


def result(control, service, outcome="failed", message="should hold", **extra) -> dict:
    return {"control": control, "service": service, "container": None, "outcome": outcome,
            "evidence": "x=1", "message": message, "title": "t", "location": None, **extra}


def write_record(tmp_path, results, **extra) -> Path:
    path = tmp_path / "compliance.json"
    path.write_text(json.dumps({"schema": "passq-compliance/1", "judged": "static audit of c.yml",
                                "started_at": "2026-12-03T06:00:00Z", "failure": None,
                                "results": results, **extra}))
    return path


def run_baseline(capsys, *argv) -> tuple[int, str, str]:
    code = baseline.main([str(a) for a in argv], today=TODAY)
    out, err = capsys.readouterr()
    return code, out, err


def test_one_waiver_per_failed_control_and_service_that_the_validator_loads(tmp_path, capsys):
    record = write_record(tmp_path, [
        result("HRD-02", "web", message="should mount the root filesystem read-only",
               location={"file": "docker-compose.production.yml", "line": 12}),
        result("HRD-02", "web"),  # a second container of the same service: one waiver
        result("IMG-01", "db"),
        result("SEC-03", None),  # a stack-level control: a waiver without a service
        result("USR-01", "web", outcome="passed"),
        result("RES-01", "web", outcome="skipped"),
    ])
    code, out, err = run_baseline(capsys, record, "--owner", "security@passq.example",
                                  "--expires", "2027-03-31")
    assert code == 0, err
    path = tmp_path / "waivers.yml"
    path.write_text(out)
    loaded = waivers.load(path).waivers
    assert [(w.control, w.service) for w in loaded] == [("IMG-01", "db"), ("HRD-02", "web"), ("SEC-03", None)]
    assert {(w.approved_by, w.expires) for w in loaded} == {("security@passq.example", date(2027, 3, 31))}
    assert loaded[1].reason == ("baseline: should mount the root filesystem read-only "
                                "(docker-compose.production.yml:12)")
    assert "3 waiver(s) until 2027-03-31" in err


def test_errors_own_checks_and_waived_failures_are_left_out_and_said(tmp_path, capsys):
    record = write_record(tmp_path, [
        result("HLT-02", "web", outcome="error", message="engine answered 500"),
        result("OWN", "web"),
        result("NET-01", "proxy", outcome="waived"),
    ])
    code, out, err = run_baseline(capsys, record, "--owner", "sec", "--days", "90")
    assert code == 0
    assert yaml.safe_load(out) == []
    assert "left out HLT-02 web: an error is never waived" in err
    assert "left out OWN web: not a catalog control" in err
    assert "left out NET-01 proxy: already waived" in err


def test_the_static_and_the_live_report_make_one_waiver_file(tmp_path, capsys):
    (tmp_path / "static").mkdir()
    (tmp_path / "live").mkdir()
    static = write_record(tmp_path / "static", [result("HRD-02", "web"), result("IMG-01", "db")])
    live = write_record(tmp_path / "live", [result("HRD-02", "web"), result("IMG-02", "db")])
    code, out, err = run_baseline(capsys, static, live, "--owner", "sec", "--days", "9")
    assert code == 0, err
    path = tmp_path / "waivers.yml"
    path.write_text(out)
    assert [(w.control, w.service) for w in waivers.load(path).waivers] == [
        ("IMG-01", "db"), ("IMG-02", "db"), ("HRD-02", "web")]
    assert f"# Baseline from {static}" in out and f"# Baseline from {live}" in out


def test_days_counts_from_today(tmp_path, capsys):
    record = write_record(tmp_path, [result("HRD-01", "web")])
    code, out, _ = run_baseline(capsys, record, "--owner", "sec", "--days", "90")
    assert code == 0 and yaml.safe_load(out)[0]["expires"] == date(2027, 3, 3)


@pytest.mark.parametrize(("record", "argv", "problem"), [
    ({"failure": "no container of the stack"}, ["--days", "9"], "the run audited nothing"),
    ({"schema": "other/1"}, ["--days", "9"], "not a compliance.json record"),
    ({}, ["--expires", "2026-12-03"], "--expires: 2026-12-03 is not after today"),
    ({}, ["--expires", "31.03.2027"], "--expires: expected a date YYYY-MM-DD"),
    ({}, ["--days", "0"], "--days: 2026-12-03 is not after today"),
    ({}, ["--days", "99999999"], "--days: 99999999 days from today is past the last date"),
    ({"results": ["HRD-01"]}, ["--days", "9"], "results: expected a list of results"),
    ({}, ["--days", "9", "--expires", "2027-01-01"], "not allowed with argument"),
    ({}, [], "one of the arguments --expires --days is required"),
])
def test_a_bad_record_or_option_is_one_error_line_and_exit_4(tmp_path, capsys, record, argv, problem):
    extra = {key: value for key, value in record.items() if key != "results"}
    path = write_record(tmp_path, record.get("results", [result("HRD-01", "web")]), **extra)
    code, out, err = run_baseline(capsys, path, "--owner", "sec", *argv)
    assert (code, out) == (4, "")
    assert err.startswith("ERROR: ") and problem in err and err.count("\n") == 1


def test_a_file_that_is_not_json_is_one_error_line(tmp_path, capsys):
    path = tmp_path / "compliance.json"
    path.write_text("<html>")
    code, _, err = run_baseline(capsys, path, "--owner", "sec", "--days", "9")
    assert code == 4 and err.startswith(f"ERROR: {path}: not a compliance.json record")


def test_the_baseline_of_a_failing_static_gate_makes_it_pass_and_fails_what_it_lacks(tmp_path):
    """End to end through the command: audit, baseline, audit again with the waivers."""
    shutil.copy(ROOT / "fixtures" / "stacks" / "weak" / "compose.yml", tmp_path / "compose.yml")

    def audit(*extra) -> tuple[subprocess.CompletedProcess, dict]:
        done = subprocess.run([COMMAND, "--static-only", "--compose-file", "compose.yml", "-q", *extra],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        return done, json.loads((tmp_path / "reports" / "compliance.json").read_text())

    first, record = audit()
    assert first.returncode == 1 and record["summary"]["failed"] > 0
    made = subprocess.run([COMMAND, "baseline", "reports/compliance.json", "--owner", "sec@passq.example",
                           "--days", "30"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    (tmp_path / "waivers.yml").write_text(made.stdout)

    again, waived = audit("--waivers", "waivers.yml")
    assert again.returncode == 0, again.stdout[-3000:]
    assert waived["summary"]["failed"] == 0
    assert waived["summary"]["waived"] == record["summary"]["failed"]

    kept = yaml.safe_load(made.stdout)
    dropped = kept.pop(0)
    (tmp_path / "waivers.yml").write_text(yaml.safe_dump(kept))
    third, partial = audit("--waivers", "waivers.yml")
    assert third.returncode == 1
    assert {(r["control"], r["service"]) for r in partial["results"] if r["outcome"] == "failed"} == {
        (dropped["control"], dropped.get("service"))}
