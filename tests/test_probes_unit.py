"""The live checks and the probe plumbing without an engine: observation records in,
Findings out; probe output parsing; planning targets only the stack's own addresses."""

from types import MappingProxyType

import pytest

from compliance.checks import live
from compliance.kernel import Ids
from compliance.model import Stack, Subject, freeze
from compliance.observations import Attempt, FlowObservation, ProbeError, TlsObservation, WriteObservation
from compliance.policy import Database, Flow, Policy
from compliance.sources.probes import parse, plan

DENY = Flow("frontend", "db", 5432)
ALLOW = Flow("backend", "db", 5432)
DSN_PASSWORD = "hunter2-never-printed"
APP = Ids(1001, 1001)


def container(service, *, env=(), networks=None, running=True, process=APP,
              host_config=None, pid=4242):
    networks = networks or {}
    attrs = {
        "Id": f"{service}0123456789abcdef",
        "Name": f"/s-{service}-1",
        "Config": {"Env": list(env), "User": "1001:1001"},
        "HostConfig": host_config or {},
        "State": {"Running": running, "Pid": pid if running else 0},
        "NetworkSettings": {"Networks": {f"s_{n}": {"IPAddress": ip} for n, ip in networks.items()}},
    }
    return Subject(service, f"s-{service}-1", freeze(attrs), freeze({}),
                     MappingProxyType({f"s_{n}": n for n in networks}),
                     process if running else None, service)


def attempt(flow, result, source="s-x-1", address="10.0.0.2"):
    return Attempt(flow, source, "s-db-1", address, "net", result)


# -- NET-04 --------------------------------------------------------------------------


def test_flows_pass_when_denies_block_and_allows_connect():
    finding = live.flows([
        FlowObservation(DENY, "deny", (attempt(DENY, "timeout"), attempt(DENY, "unreachable"))),
        FlowObservation(ALLOW, "allow", (attempt(ALLOW, "timeout"), attempt(ALLOW, "connected"))),
    ])
    assert finding.outcome == "passed"
    assert "deny frontend -> db:5432: blocked" in finding.evidence
    assert "allow backend -> db:5432: connected" in finding.evidence
    assert "s-x-1 -> 10.0.0.2:5432 [net]: timeout" in finding.evidence


def test_a_refused_deny_fails_the_target_answered():
    """A refusal (RST) comes from the target's address: the path is open, only nothing
    listened at that instant (a one-connection listener busy with another probe)."""
    finding = live.flows([
        FlowObservation(DENY, "deny", (attempt(DENY, "timeout"), attempt(DENY, "refused"))),
        FlowObservation(ALLOW, "allow", (attempt(ALLOW, "connected"),)),
    ])
    assert finding.outcome == "failed"
    assert "frontend -> db:5432 should be unreachable" in finding.message
    assert "answered with a refusal" in finding.message
    assert "s-x-1 -> 10.0.0.2:5432 [net]: refused" in finding.evidence


def test_a_connected_deny_fails_whatever_the_allows_say():
    finding = live.flows([
        FlowObservation(DENY, "deny", (attempt(DENY, "timeout"), attempt(DENY, "connected"))),
        FlowObservation(ALLOW, "allow", (attempt(ALLOW, "timeout"),)),
    ])
    assert finding.outcome == "failed"
    assert "frontend -> db:5432 should be unreachable" in finding.message


def test_a_failed_allow_makes_the_blocked_denies_untrusted():
    finding = live.flows([
        FlowObservation(DENY, "deny", (attempt(DENY, "timeout"),)),
        FlowObservation(ALLOW, "allow", (attempt(ALLOW, "refused"),)),
    ])
    assert finding.outcome == "failed"  # the allow flow itself does not hold
    assert "backend -> db:5432 should connect" in finding.message
    assert "deny frontend -> db:5432: error" in finding.evidence
    assert "untrusted" in finding.message


def test_a_broken_allow_probe_is_an_error_never_a_pass():
    finding = live.flows([
        FlowObservation(DENY, "deny", (attempt(DENY, "timeout"),)),
        FlowObservation(ALLOW, "allow", (attempt(ALLOW, "error"),)),
    ])
    assert finding.outcome == "error"


def test_every_source_container_must_connect_for_an_allow():
    finding = live.flows([FlowObservation(ALLOW, "allow", (
        attempt(ALLOW, "connected", source="s-backend-1"),
        attempt(ALLOW, "timeout", source="s-backend-2")))])
    assert finding.outcome == "failed"
    assert "s-backend-2 reached no address of db" in finding.message


def test_an_unprobeable_flow_is_an_error():
    finding = live.flows([FlowObservation(DENY, "deny", problem="no running container of 'frontend'"),
                          FlowObservation(ALLOW, "allow", (attempt(ALLOW, "connected"),))])
    assert finding.outcome == "error"
    assert "no running container" in finding.message


def test_no_flows_is_not_applicable():
    assert live.flows([]).outcome == "skipped"


def test_denies_without_any_allow_say_so():
    finding = live.flows([FlowObservation(DENY, "deny", (attempt(DENY, "timeout"),))])
    assert finding.outcome == "passed"
    assert "no allow flow" in finding.evidence


# -- NET-05 --------------------------------------------------------------------------


DB = Database("db")


def tls(answer, result="connected"):
    return [TlsObservation("s-db-1", "127.0.0.1", 5432, result, answer)]


@pytest.mark.parametrize("value, mode", [
    ("postgresql://passq@db:5432/passq?sslmode=require", "require"),
    (f"postgres://app:{DSN_PASSWORD}@db/app?sslmode=verify-full&x=1", "verify-full"),
    ("POSTGRES://db/app", None),
    (f"host=db port=5432 dbname=app user=app password={DSN_PASSWORD} sslmode=verify-ca", "verify-ca"),
    ("host=db sslmode='disable'", "disable"),
])
def test_dsns_are_parsed(value, mode):
    params = live.dsn_params(value)
    assert params is not None and params.get("sslmode") == mode


@pytest.mark.parametrize("value", ["http://db:5432/", "a=b", "host=db and more", "sslmode=require",
                                   "mysql://db/app", "", "1"])
def test_other_values_are_not_dsns(value):
    assert live.dsn_params(value) is None


def test_tls_passes_on_S_and_required_sslmode():
    backend = container("backend", env=[f"DATABASE_URL=postgresql://u:{DSN_PASSWORD}@db/x?sslmode=require"])
    server = live.database_server_tls(DB, tls("S"))
    assert server.outcome == "passed"
    assert "answered 'S'" in server.evidence
    clients = live.database_clients_tls([backend])
    assert clients.outcome == "passed"
    assert "backend DATABASE_URL: sslmode=require" in clients.evidence
    assert DSN_PASSWORD not in clients.evidence + clients.message


def test_tls_fails_on_N():
    finding = live.database_server_tls(DB, tls("N"))
    assert finding.outcome == "failed"
    assert "answered 'N'" in finding.message


def test_no_dsn_leaves_the_clients_half_not_applicable():
    finding = live.database_clients_tls([container("api")])
    assert finding.outcome == "skipped"
    assert "no environment holds a PostgreSQL DSN" in finding.message


@pytest.mark.parametrize("env, mode", [
    ([f"DATABASE_URL=postgres://app:{DSN_PASSWORD}@db:5432/app"], "prefer"),
    ([f"PG=host=db dbname=app password={DSN_PASSWORD} sslmode=allow"], "allow"),
    (["DATABASE_URL=postgres://db/app", "PGSSLMODE=disable"], "disable"),
    (["DATABASE_URL=postgres://u:${PW}@db/app?sslmode=disable"], "disable"),
])
def test_a_dsn_without_required_tls_fails_and_names_the_variable_only(env, mode):
    finding = live.database_clients_tls([container("api", env=env)])
    assert finding.outcome == "failed"
    assert f"sslmode={mode}" in finding.evidence
    assert "should use sslmode=require" in finding.message
    assert DSN_PASSWORD not in finding.evidence + finding.message
    assert "postgres://" not in finding.evidence + finding.message


def test_pgsslmode_completes_a_dsn_without_sslmode():
    env = ["DATABASE_URL=postgres://db/app", "PGSSLMODE=verify-full"]
    finding = live.database_clients_tls([container("api", env=env)])
    assert finding.outcome == "passed"
    assert "sslmode=verify-full (PGSSLMODE)" in finding.evidence


def test_a_dsn_in_a_file_is_noted_not_read():
    env = ["DATABASE_URL_FILE=/run/secrets/dsn", "DB_PASSWORD_FILE=/run/secrets/pw",
           "DATABASE_URL=postgres://db/app?sslmode=require"]
    finding = live.database_clients_tls([container("api", env=env)])
    assert finding.outcome == "passed"
    assert "api DATABASE_URL_FILE: a DSN in a file (not read, not judged)" in finding.evidence
    assert "DB_PASSWORD_FILE" not in finding.evidence


def test_tls_cannot_pass_without_an_answer():
    assert live.database_server_tls(DB, tls(None, "refused")).outcome == "error"
    assert live.database_server_tls(DB, tls(None)).outcome == "error"
    assert live.database_server_tls(DB, tls("0x45")).outcome == "error"
    assert live.database_server_tls(DB, ProbeError("boom")).outcome == "error"


def test_no_database_leaves_the_servers_half_not_applicable():
    assert live.database_server_tls(None, []).outcome == "skipped"


# -- HRD-02 live ---------------------------------------------------------------------


def write(result, errno="", left=False, removed=True, detail=""):
    return WriteObservation("s-web-1", "/.probe", "1001:1001", result, errno, left, removed,
                            detail or {"EROFS": "Read-only file system",
                                       "EACCES": "Permission denied"}.get(errno, ""))


def test_erofs_passes():
    finding = live.read_only_write(write("refused", "EROFS"))
    assert finding.outcome == "passed"
    assert finding.evidence == ("write to /.probe as uid:gid 1001:1001: EROFS (Read-only file "
                                "system); nothing left behind")


def test_a_permission_refusal_is_a_writable_filesystem():
    finding = live.read_only_write(write("refused", "EACCES"))
    assert finding.outcome == "failed" and "EACCES, not EROFS" in finding.message


def test_a_successful_write_fails_and_says_what_was_cleaned():
    finding = live.read_only_write(write("written", left=True, removed=True))
    assert finding.outcome == "failed"
    assert "created and removed again" in finding.evidence
    stuck = live.read_only_write(write("written", left=True, removed=False))
    assert "LEFT BEHIND" in stuck.evidence


def test_a_write_probe_error_is_an_error():
    assert live.read_only_write(write("error", detail="access: denied")).outcome == "error"
    assert live.read_only_write(write("refused", "EPERM")).outcome == "error"


def test_a_stopped_container_is_not_applicable():
    assert live.read_only_write(None).outcome == "skipped"


# -- parsing probe output ------------------------------------------------------------------


def test_connect_output_is_classified():
    out = ("@@connect a0-0 0\n@@connect a0-1 1 nc: can't connect to remote host (10.0.0.2): "
           "Connection refused\n@@connect a1-0 1 nc: timed out\n@@connect a1-1 143\n"
           "@@connect a2-0 1 nc: can't connect to remote host: No route to host\n"
           "@@connect a2-1 1 nc: bad address 'x'\n@@done\n")
    parsed = parse.parse_connects(out)
    assert {k: v[0] for k, v in parsed.items()} == {
        "a0-0": "connected", "a0-1": "refused", "a1-0": "timeout", "a1-1": "timeout",
        "a2-0": "unreachable", "a2-1": "error"}


def test_a_connect_tried_twice_is_decided_by_the_try_that_was_answered():
    out = ("@@connect d0-0 1 nc: timed out\n@@connect d1-0 1 nc: timed out\n"
           "@@connect d0-0 0\n@@connect d1-0 1 nc: timed out\n"
           "@@connect d2-0 1 nc: timed out\n@@connect d2-0 1 nc: bad address 'x'\n@@done\n")
    assert {k: v[0] for k, v in parse.parse_connects(out).items()} == {
        "d0-0": "connected", "d1-0": "timeout", "d2-0": "error"}


def test_an_unfinished_probe_is_an_error():
    with pytest.raises(ProbeError, match="did not finish"):
        parse.parse_connects("@@connect a0-0 0\n")


def test_ssl_output_is_parsed():
    out = "@@ssl 127.0.0.1 0 53\n@@ssl 10.0.0.2 0 4e\n@@ssl 10.0.0.3 0 45\n@@ssl 10.0.0.4 0\n" \
          "@@ssl 10.0.0.5 1 nc: can't connect to remote host (10.0.0.5): Connection refused\n@@done"
    parsed = parse.parse_ssl(out)
    assert parsed["127.0.0.1"] == ("connected", "S", "")
    assert parsed["10.0.0.2"][1] == "N" and parsed["10.0.0.3"][1] == "0x45"
    assert parsed["10.0.0.4"] == ("connected", None, "")
    assert parsed["10.0.0.5"][0] == "refused"


def test_write_output_is_parsed():
    erofs = "@@write 1 0 - sh: can't create /proc/1/root/.p: Read-only file system\n@@done\n"
    assert parse.parse_write(erofs) == ("refused", "EROFS", False, True, "Read-only file system")
    assert parse.parse_write("@@write 0 1 1\n@@done")[:4] == ("written", "", True, True)
    assert parse.parse_write("@@access ls: /proc/1/root/: Permission denied\n@@done")[0] == "error"
    assert parse.parse_write("@@identity pid 9 is not the target's main process\n@@done")[0] == "error"


# -- planning: only the stack's own addresses ----------------------------------------


class FakeRunner:
    """Runs no container: every connect a probe would try times out."""

    connect_timeout = 2

    def __init__(self):
        self.specs = []

    def run_batches(self, batches):
        self.specs += [spec for batch in batches for spec in batch.specs]
        return [batch.finish([self.answer(spec) for spec in batch.specs]) for batch in batches]

    @staticmethod
    def answer(spec) -> str:
        """What the connect script prints when every attempt (id, address, port) times out."""
        return "".join(f"@@connect {attempt} 124\n" for attempt in spec.args[1::3]) + "@@done\n"


def staging_stack():
    return Stack("s", (
        container("frontend", networks={"front": "10.1.0.2", "back": "10.2.0.2"}),
        container("backend", networks={"back": "10.2.0.3", "db": "10.3.0.3"}),
        container("db", networks={"db": "10.3.0.4"}),
        container("old", networks={"db": "10.3.0.9"}, running=False),
    ), {}, "unix://", "20.10")


def test_flows_target_every_address_of_the_target_service_from_every_source():
    policy = Policy("p", "x", deny_flows=(DENY,), allow_flows=(Flow("frontend", "backend", 8080),))
    runner, stack = FakeRunner(), staging_stack()
    observed = plan.probe_flows(runner, stack, policy)
    (frontend,) = stack.service("frontend")
    assert [(spec.network_mode, list(zip(spec.args[2::3], spec.args[3::3], strict=True)))
            for spec in runner.specs] == [
        (f"container:{frontend.id}", [("10.3.0.4", "5432"), ("10.2.0.3", "8080"), ("10.3.0.3", "8080")])]
    assert [len(o.attempts) for o in observed] == [1, 2]
    assert str(observed[0].attempts[0]) == "s-frontend-1 -> 10.3.0.4:5432 [db]: timeout"


def test_a_flow_without_a_running_source_is_a_problem_not_a_pass():
    policy = Policy("p", "x", deny_flows=(Flow("old", "db", 5432),))
    observed = plan.probe_flows(FakeRunner(), staging_stack(), policy)
    assert "no running container of service 'old'" in observed[0].problem


@pytest.mark.parametrize("address", ["8.8.8.8", "10.9.9.9", "192.168.1.1", "::2"])
def test_probes_refuse_addresses_outside_the_stack(address):
    with pytest.raises(ProbeError, match="not an address of the stack"):
        plan.check_target(address, {"10.3.0.4"})
    plan.check_target("127.0.0.1", set())
    plan.check_target("10.3.0.4", {"10.3.0.4"})


def test_the_write_probe_joins_a_private_pid_namespace_as_the_targets_user():
    spec = plan.write_spec(container("web", host_config={"CapDrop": ["ALL"]}), "/.p")
    assert spec.pid_mode == "container:web0123456789abcdef" and spec.args == ("1", "", ".p")
    assert spec.user == "1001:1001" and spec.cap_drop == ("ALL",) and spec.network_mode == "none"


def test_a_target_in_the_host_pid_namespace_is_reached_by_its_pid_and_identity_checked():
    spec = plan.write_spec(container("mon", host_config={"PidMode": "host"}, pid=777), "/.p")
    assert spec.pid_mode == "host" and spec.args == ("777", "mon0123456789abcdef", ".p")
