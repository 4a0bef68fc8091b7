"""Load a recorded inspect fixture (fixtures/inspect/<ID>/*.json) as the suite's own facts.

A fixture holds real `docker inspect` JSON (see fixtures/inspect/record) and
the outcome its control must reach. It is turned into the same frozen
Container/Stack the inventory builds and a Policy loaded by the real policy
loader, so a recorded case exercises exactly what a live audit runs.

Fixture keys: description, inspect (container inspect, {} for a stack-only
case), image (image inspect or {}), networks (engine name -> compose name),
process ("uid:gid" or null), policy (optional policy-file mapping),
stack_networks (optional, compose name -> network inspect), and where a control
reads more than inspect: kernel (the main process's /proc/<pid>/status lines),
processes ([pid, comm] of every process), engine_security (`docker info`
SecurityOptions), history (`CreatedBy` per image history entry, oldest first)
and setid_files ([path, mode] of the image's setuid/setgid files); restarts (what
the engine's events said the container did during the run, e.g. ["stopped",
"started"]), engine_time (the engine's clock at the snapshot, `docker info`
SystemTime); test (optional: the test function, where a control has more than one), expect
(passed|failed|skipped|error) and evidence (a substring of the finding's
evidence; for a skipped case, of its reason).
"""

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

from compliance import policy as policy_module
from compliance.kernel import Ids, Inside, parse_status
from compliance.layers import SetidFile
from compliance.model import Stack, Subject, freeze
from compliance.policy import Policy
from compliance.processes import Process
from compliance.sources.compose import SERVICE_LABEL

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "inspect"
OUTCOMES = ("passed", "failed", "skipped", "error")


@dataclass(frozen=True)
class Recorded:
    path: Path
    control: str
    description: str
    expect: str
    evidence: str
    test: str | None
    restarts: tuple[str, ...]
    container: Subject | None
    stack: Stack
    policy: Policy

    @property
    def name(self) -> str:
        return f"{self.control}/{self.path.stem}"


def fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*/*.json"))


def _optional(data: dict, key: str, build):
    return None if data.get(key) is None else build(data[key])


def container_from(data: dict) -> Subject:
    """A Subject as sources/compose.take builds it: service from the compose label, else the name."""
    inspect = data["inspect"]
    name = inspect["Name"].lstrip("/")
    service = ((inspect.get("Config") or {}).get("Labels") or {}).get(SERVICE_LABEL, name)
    process = data.get("process")
    return Subject(
        service=service, name=name, attrs=freeze(inspect), image=freeze(data.get("image") or {}),
        networks=MappingProxyType(dict(data.get("networks") or {})),
        process=Ids(*map(int, process.split(":"))) if process else None, test_id=service,
        inside=_optional(data, "kernel", lambda lines: Inside(
            "engine host (recorded)", parse_status("\n".join(lines)), None, None, None, None)),
        engine_time=data.get("engine_time") or "",
        engine_security=tuple(data.get("engine_security") or ()),
        processes=_optional(data, "processes", lambda ps: tuple(Process(*p) for p in ps)),
        image_history=_optional(data, "history", tuple),
        setid_files=_optional(data, "setid_files", lambda fs: tuple(SetidFile(*f) for f in fs)))


def policy_from(mapping: dict | None) -> Policy:
    """Write the mapping as a policy file and load it with the real loader (validation included)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yml"
        path.write_text(yaml.safe_dump(mapping or {}))
        return policy_module.load(path)


def load(path: Path) -> Recorded:
    data = json.loads(path.read_text())
    if data["expect"] not in OUTCOMES:
        raise ValueError(f"{path}: expect must be one of {OUTCOMES}, got {data['expect']!r}")
    container = container_from(data) if data.get("inspect") else None
    stack = Stack(name="recorded", containers=(container,) if container else (),
                  networks=MappingProxyType({k: freeze(v) for k, v in
                                             (data.get("stack_networks") or {}).items()}),
                  engine_host="recorded", engine_version="20.10")
    return Recorded(path=path, control=path.parent.name, description=data["description"],
                    expect=data["expect"], evidence=data["evidence"], test=data.get("test"),
                    restarts=tuple(data.get("restarts") or ()), container=container, stack=stack,
                    policy=policy_from(data.get("policy")))
