"""Fuzzing the inputs a user writes: the policy and waiver loaders and the image-reference
parser never crash; whatever they are given, they return a result or raise their one clear
error (PolicyError, WaiverError, ValueError), one line naming the file."""

import tempfile
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from compliance import controls, imageref, policy, waivers

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- values: YAML's scalars and a few shapes, biased towards what the schemas expect -------

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["512M", "1G", "-1G", "1.5g", "1" * 400, "9" * 400 + ".5M", "0", "non-root",
                     "999:999", "root", "/tmp", "tmp", "127.0.0.1", "::1", "localhost", "db", "web",
                     "CRITICAL",
                     "NET-01", "USR-01", "NET-99", "2027-01-31", "2027-02-30", "postgres", "mysql",
                     ""]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(
        ["from", "to", "port", "service", "user", "memory_max", "internal"])), inner, max_size=4)),
    max_leaves=12)

SERVICE_KEYS = sorted(f.name for f in fields(policy.ServicePolicy))
SERVICE = st.dictionaries(st.sampled_from([*SERVICE_KEYS, "memroy_max"]), VALUES, max_size=4)
SERVICES = st.dictionaries(st.sampled_from(["db", "web", "api", "1"]), st.one_of(SERVICE, VALUES),
                           max_size=3)
FLOW = st.fixed_dictionaries({}, optional={"from": st.sampled_from(["db", "web", "nope"]) | VALUES,
                                           "to": st.sampled_from(["db", "web"]) | VALUES,
                                           "port": st.integers(-5, 70000) | VALUES})
POLICY = st.fixed_dictionaries({}, optional={
    "stack": VALUES, "defaults": st.one_of(SERVICE, VALUES), "services": st.one_of(SERVICES, VALUES),
    "networks": st.one_of(st.fixed_dictionaries({"internal": VALUES}), VALUES),
    "flows": st.one_of(st.fixed_dictionaries({}, optional={"deny": st.lists(FLOW, max_size=3),
                                                         "allow": st.lists(FLOW, max_size=3)}), VALUES),
    "database": st.one_of(st.fixed_dictionaries({}, optional={
        "service": st.sampled_from(["db", "web"]) | VALUES, "engine": VALUES, "port": VALUES}), VALUES),
    "secrets": st.one_of(st.fixed_dictionaries({}, optional={"dir": VALUES, "min_bytes": VALUES}),
                         VALUES),
    "vulnerabilities": st.one_of(st.fixed_dictionaries({}, optional={
        "reports": VALUES, "max_age_days": VALUES, "forbid": VALUES}), VALUES),
    "images": st.one_of(st.fixed_dictionaries({"max_age_days": VALUES}), VALUES),
    "credential_env_patterns": VALUES, "unknwn": VALUES,
})
WAIVER = st.fixed_dictionaries({}, optional={
    "control": st.sampled_from([*list(controls.CATALOG)[:4], "NET-99"]) | VALUES,
    "service": VALUES, "reason": VALUES, "approved_by": VALUES,
    "expires": st.dates().map(date.isoformat) | VALUES, "servce": VALUES})

# Texts YAML parsers trip over: anchors and recursive aliases, complex keys, tags, tabs.
NASTY_YAML = ["&a [*a]", "a: &a {b: *a}", "? [a, b]\n: c\n", "? {a: 1}\n: 2\n", "!!python/object:os.system x",
              "!!binary AAAA", "a: !!timestamp nope", "\t- x", "%YAML 9.9\n---\na: 1", "---\na: 1\n---\nb: 2",
              "- &x {control: NET-01}\n- *x\n", "a: b: c", "[", "{", "\x00", "\ufeffa: 1", "\udcff",
              f"defaults:\n  memory_max: {'9' * 400}.5M\n", f"defaults:\n  memory_max: {'9' * 400}G\n"]


def _load(loader, text: str | bytes, error):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "input.yml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        try:
            return loader(path)
        except error as exc:
            message = str(exc)
            assert message.startswith(str(path)), message
            assert "\n" not in message and "Traceback" not in message
            return exc


def _yaml(data) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.mark.parametrize("text", NASTY_YAML)
def test_nasty_yaml_is_a_clear_error_or_a_policy_and_waivers(text):
    _load(policy.load, text, policy.PolicyError)
    _load(waivers.load, text, waivers.WaiverError)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_the_policy_loader_survives_any_text(text):
    _load(policy.load, text, policy.PolicyError)


@FUZZ
@given(POLICY)
@example({"defaults": {"\n": None}})  # a key holding a newline once made a two-line error
@example({"services": {"db\r\n": {"user": "root"}}, "flows": {"deny": [{"from": "db\r\n"}]}})
def test_the_policy_loader_survives_any_structure(data):
    loaded = _load(policy.load, _yaml(data), policy.PolicyError)
    if isinstance(loaded, policy.Policy):  # what loads is what the schema promises
        assert all(isinstance(s, policy.ServicePolicy) for s in loaded.services.values())
        for service in (loaded.defaults, *loaded.services.values()):
            assert service.memory_max is None or service.memory_max > 0
            assert service.cpus_max is None or not service.cpus_max < 0
        for flow in (*loaded.deny_flows, *loaded.allow_flows):
            assert flow.source in loaded.services and flow.target in loaded.services
            assert 0 < flow.port <= 65535


@FUZZ
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_the_waiver_loader_survives_any_text(text):
    _load(waivers.load, text, waivers.WaiverError)


@FUZZ
@given(st.one_of(st.lists(WAIVER, max_size=4), VALUES))
@example([{"\n": None}])
@example([{"control": "NET-01\n", "reason": "x", "approved_by": "y", "expires": "2027-01-31"}])
def test_the_waiver_loader_survives_any_structure(data):
    loaded = _load(waivers.load, _yaml(data), waivers.WaiverError)
    if isinstance(loaded, waivers.WaiverFile):
        for waiver in loaded.waivers:
            assert waiver.control in controls.CATALOG and isinstance(waiver.expires, date)
            assert waiver.reason and waiver.approved_by


REFERENCE_ALPHABET = st.sampled_from([*"abcz09AZ.-_:/@", "sha256:", "a" * 64, "localhost", ":5000"])


@FUZZ
@given(st.one_of(st.text(max_size=80), st.lists(REFERENCE_ALPHABET, max_size=12).map("".join)))
def test_the_image_reference_parser_returns_a_reference_or_a_value_error(text):
    try:
        ref = imageref.parse(text)
    except ValueError:
        return
    assert ref.repository and (ref.tag is None or ref.tag) and (ref.digest is None or ":" in ref.digest)


COMPONENT = st.from_regex(r"\A[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,4}){0,2}\Z")


@FUZZ
@given(registry=st.none() | st.sampled_from(["localhost", "registry:5000", "ghcr.io", "a.b.c:443"]),
       path=st.lists(COMPONENT, min_size=1, max_size=3),
       tag=st.none() | st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z"),
       digest=st.none() | st.from_regex(r"\Asha256:[0-9a-f]{64}\Z"))
def test_a_valid_reference_parses_back_into_its_parts(registry, path, tag, digest):
    assume(registry or ("." not in path[0] and path[0] != "localhost") or len(path) == 1)
    reference = "/".join(([registry] if registry else []) + path)
    reference += f":{tag}" if tag else ""
    reference += f"@{digest}" if digest else ""
    parsed = imageref.parse(reference)
    assert (parsed.registry, parsed.repository, parsed.tag, parsed.digest) == (
        registry, "/".join(path), tag, digest)
