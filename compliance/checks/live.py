"""Live checks: the probes' observations (+ policy) -> Finding (NET-04, NET-05, HRD-02 live).

Pure: the observations come from compliance/sources/probes/; nothing here calls the
engine. A DSN is never put into evidence: evidence names the variable only.
"""

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from compliance.model import Subject
from compliance.observations import FlowObservation, ProbeError, TlsObservation, WriteObservation
from compliance.outcomes import Finding, failed, not_applicable, passed, undecided, worst
from compliance.policy import Database

# No address of the target answered: the only proof that a deny flow is blocked. A refusal
# (RST) is an answer from the target's address: the path is open, only nothing listened.
UNANSWERED = ("timeout", "unreachable")
NOT_CONNECTED = ("refused", *UNANSWERED)
TLS_SSLMODES = ("require", "verify-ca", "verify-full")
LIBPQ_DEFAULT_SSLMODE = "prefer"
_LIBPQ_KEYS = {
    "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "channel_binding",
    "connect_timeout", "client_encoding", "options", "application_name",
    "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode",
    "requiressl", "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert",
    "sslcrl", "sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version",
    "ssl_max_protocol_version", "krbsrvname", "gsslib", "service", "target_session_attrs",
    "load_balance_hosts",
}
_CONNINFO_PAIR = re.compile(r"\s*([a-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']*)")
_DSN_FILE_NAME = re.compile(r"(DSN|URL|URI|CONN)", re.IGNORECASE)


# -- NET-04 ---------------------------------------------------------------------


def _flow_status(observation: FlowObservation) -> tuple[str, str]:
    """(status, why) of one flow: connected | blocked | failed | error."""
    if observation.problem:
        return "error", observation.problem
    attempts = observation.attempts
    if not attempts:
        return "error", "nothing was tried"
    errors = [a for a in attempts if a.result not in NOT_CONNECTED and a.result != "connected"]
    if observation.kind == "deny":
        hits = [a for a in attempts if a.result == "connected"]
        if hits:
            return "failed", f"connected: {hits[0]}"
        answered = [a for a in attempts if a.result == "refused"]
        if answered:
            return "failed", (f"the target's address answered with a refusal, so the network path "
                              f"is open: {answered[0]}")
        if errors:
            return "error", f"probe error: {errors[0]}"
        return "blocked", ""
    # allow: every source container reaches at least one address of the target
    for source in dict.fromkeys(a.source for a in attempts):
        mine = [a for a in attempts if a.source == source]
        if any(a.result == "connected" for a in mine):
            continue
        broken = [a for a in mine if a.result not in NOT_CONNECTED]
        if broken:
            return "error", f"probe error: {broken[0]}"
        return "failed", f"{source} reached no address of {observation.flow.target}"
    return "connected", ""


def flows(observations: Iterable[FlowObservation]) -> Finding:
    """NET-04: every deny flow is unreachable and every allow flow connects.

    A deny flow is unreachable only when no address of the target answered at all
    (timeout, unreachable); one that connected, or was refused (an answer from the
    target's address), fails whatever else happened.
    A deny flow that stayed blocked only counts when every allow flow connected
    (the same probe can connect, so the block is the network's doing);
    otherwise its verdict is `error`.
    """
    observations = list(observations)
    if not observations:
        return not_applicable("the policy lists no deny or allow flows")
    status = {id(o): _flow_status(o) for o in observations}
    allows = [o for o in observations if o.kind == "allow"]
    trusted = all(status[id(o)][0] == "connected" for o in allows)
    evidence, failures, errors = [], [], []
    for o in observations:
        state, why = status[id(o)]
        if o.kind == "deny" and state == "blocked" and not trusted:
            state, why = "error", "untrusted: an allow flow did not connect, so the probe may be broken"
        tried = ", ".join(str(a) for a in o.attempts) or why
        evidence.append(f"{o.kind} {o.flow}: {state} [{tried}]")
        if state == "failed":
            should = "be unreachable" if o.kind == "deny" else "connect"
            failures.append(f"{o.flow} should {should} ({why})")
        elif state == "error":
            errors.append(f"{o.kind} {o.flow}: {why}")
    if not allows and any(o.kind == "deny" for o in observations):
        evidence.append("no allow flow in the policy confirms that the probe can connect")
    text = "; ".join(evidence)
    if failures:
        return failed("; ".join(failures + errors), text)
    if errors:
        return undecided("; ".join(errors), text)
    return passed(text)


# -- NET-05 ---------------------------------------------------------------------


def _server_tls(observations: list[TlsObservation] | ProbeError) -> Finding:
    if isinstance(observations, ProbeError):
        return undecided(f"the SSLRequest probe failed: {observations}")
    evidence = "; ".join(str(o) for o in observations)
    answers = [o.answer for o in observations if o.result == "connected"]
    if not answers:
        return undecided("the database could not be reached to send the SSLRequest", evidence)
    if "N" in answers:
        return failed("the database server should accept TLS (it answered 'N' to the SSLRequest)",
                      evidence)
    if all(a == "S" for a in answers):
        return passed(evidence)
    return undecided("the answer to the SSLRequest is not PostgreSQL's ('S' or 'N')", evidence)


def dsn_params(value: str) -> dict[str, str] | None:
    """The parameters of a PostgreSQL DSN (URL or key=value conninfo); None if not a DSN."""
    text = value.strip()
    if re.match(r"^postgres(?:ql)?://", text, re.IGNORECASE):
        try:
            query = urlsplit(text).query
        except ValueError:
            query = text.partition("?")[2]
        return {k.lower(): v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    pairs, end = {}, 0
    for match in _CONNINFO_PAIR.finditer(text):
        if match.start() != end:
            return None
        pairs[match.group(1)] = match.group(2).strip("'")
        end = match.end()
    if not pairs or text[end:].strip() or not set(pairs) <= _LIBPQ_KEYS:
        return None
    return pairs if {"host", "hostaddr", "dbname"} & set(pairs) else None


def dsn_sslmode(params: Mapping[str, str], env: Mapping[str, str]) -> tuple[str, str]:
    """The sslmode libpq would use, and where it comes from."""
    if params.get("sslmode"):
        return params["sslmode"].lower(), "sslmode"
    if params.get("requiressl") == "1":
        return "require", "requiressl=1"
    if env.get("PGSSLMODE"):
        return env["PGSSLMODE"].lower(), "PGSSLMODE"
    return LIBPQ_DEFAULT_SSLMODE, "no sslmode: libpq's default"


def client_dsns(containers: Iterable[Subject]) -> tuple[list[Finding], list[str]]:
    """One Finding per PostgreSQL DSN found in a container's environment, and notes
    for `*_FILE` variables that may hold one (their files are not read)."""
    findings, notes, seen = [], [], set()
    for container in containers:
        env = container.env
        for name, value in env.items():
            if (container.service, name, value) in seen:  # another replica of the service
                continue
            seen.add((container.service, name, value))
            if name.upper().endswith("_FILE") and _DSN_FILE_NAME.search(name[:-5]):
                notes.append(f"{container.service} {name}: a DSN in a file (not read, not judged)")
                continue
            params = dsn_params(value)
            if params is None:
                continue
            mode, source = dsn_sslmode(params, env)
            evidence = f"{container.service} {name}: sslmode={mode} ({source})" if source != "sslmode" \
                else f"{container.service} {name}: sslmode={mode}"
            if mode in TLS_SSLMODES:
                findings.append(passed(evidence))
            else:
                findings.append(failed(f"should use sslmode=require, verify-ca or verify-full "
                                       f"({container.service} {name})", evidence))
    return findings, notes


def database_server_tls(database: Database | None,
                        observations: list[TlsObservation] | ProbeError) -> Finding:
    """NET-05, the server's half: the policy's database answers the SSLRequest with `S`."""
    if database is None:
        return not_applicable("the policy names no database (`database:`)")
    return _server_tls(observations)


def database_clients_tls(containers: Iterable[Subject]) -> Finding:
    """NET-05, the clients' half: every PostgreSQL DSN in a container's (or a declared
    service's) environment sets sslmode=require, verify-ca or verify-full."""
    dsns, notes = client_dsns(containers)
    if not dsns:
        return not_applicable("; ".join([*notes, "no environment holds a PostgreSQL DSN"]))
    finding = worst(dsns)
    return Finding(finding.outcome, "; ".join([finding.evidence, *notes]), finding.message,
                   remediation=finding.remediation)


# -- HRD-02, live ---------------------------------------------------------------


def read_only_live(container: Subject, observation: WriteObservation | None) -> Finding:
    """HRD-02 live: the kernel's mount table of the main process shows the root mount
    read-only (nothing written); where the engine host has no such view, a write on the
    root filesystem fails with EROFS and leaves nothing (the write probe)."""
    inside = container.inside
    if inside is None or inside.mounts is None:
        return read_only_write(observation)
    root = inside.root_mount()
    where = inside.source("mountinfo")
    if root is None:
        return undecided("the kernel's mount table shows no root mount", where)
    evidence = f"kernel mountinfo: root mount {root} ({where})"
    if root.read_only:
        return passed(evidence)
    return failed("the root filesystem should be mounted read-only (the kernel says rw)", evidence)


def read_only_write(observation: WriteObservation | None) -> Finding:
    """HRD-02 live, by the write probe: a write on the root filesystem fails with EROFS and
    leaves nothing."""
    if observation is None:
        return not_applicable("the container is not running, so there is nothing to write to "
                              "(the configuration check of HRD-02 still applies)")
    o = observation
    tried = f"write to {o.path} as uid:gid {o.as_ids or '?'}"
    trace = "; nothing left behind" if not o.left_behind else (
        "; the file was created and removed again" if o.removed
        else f"; LEFT BEHIND: {o.path} could not be removed")
    if o.result == "error":
        return undecided(f"the write probe could not run: {o.detail}", tried)
    if o.result == "written":
        return failed("the root filesystem should refuse writes (EROFS); the write succeeded",
                      f"{tried}: succeeded{trace}")
    evidence = f"{tried}: {o.errno} ({o.detail}){trace}"
    if o.errno == "EROFS" and not o.left_behind:
        return passed(evidence)
    if o.errno == "EROFS":
        return failed("a refused write should leave nothing behind", evidence)
    if o.errno in ("EACCES", "ENOSPC"):
        return failed(f"the root filesystem should be read-only: the write was refused with "
                      f"{o.errno}, not EROFS, so the filesystem itself is writable", evidence)
    return undecided(f"unexpected answer to the write: {o.errno or o.detail}", evidence)
