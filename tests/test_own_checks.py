"""The team's own testinfra checks: `host` is each container of the audited stack, and the
outcomes land in the same reports and gate, as control OWN (not a catalog control)."""

OWN_TESTS = """
    def test_passwd_exists(host):
        assert host.file("/etc/passwd").exists


    def test_nginx_tls(host):
        assert host.file("/etc/nginx/nginx.conf").contains("ssl_protocols TLSv1.3")


    def test_engine_host_sees_proc(engine_host):
        assert engine_host.file("/proc/1/status").exists
"""


def test_a_users_testinfra_test_runs_against_every_container_into_the_reports(make_stack, audit):
    project = make_stack({"web": {"user": "1001:1001"}, "db": {}})
    run = audit(project, OWN_TESTS, "-rA")
    assert run.ret == 1, run.text()  # nginx.conf is in neither container
    text = run.text()
    for service in ("web", "db"):
        assert f"PASSED test_compliance.py::test_passwd_exists[{service}]" in text
        assert f"FAILED test_compliance.py::test_nginx_tls[{service}]" in text
    doc = run.json()
    own = {(r["test"].split("::")[-1], r["outcome"]) for r in doc["results"] if r["control"] == "OWN"}
    assert own == {("test_passwd_exists[web]", "passed"), ("test_passwd_exists[db]", "passed"),
                   ("test_nginx_tls[web]", "failed"), ("test_nginx_tls[db]", "failed")}
    failed = [r for r in doc["results"] if r["outcome"] == "failed"]
    assert all(r["title"] == "The team's own check" and r["service"] for r in failed)
    assert doc["gate"]["passed"] is False
    rules = {rule["id"] for rule in run.sarif()["runs"][0]["tool"]["driver"]["rules"]}
    assert "OWN" in rules
    assert "test_nginx_tls" in (run.report_dir / "junit.xml").read_text()
    assert "The team&#x27;s own check" in run.html() or "The team's own check" in run.html()
    assert "PASSED test_compliance.py::test_engine_host_sees_proc" in text
