"""The images a `build:` service's Dockerfile builds on (sources/dockerfile.py) and IMG-01's
verdict on them (checks/images.py): the stages built, their ARGs, what cannot be read.

The declared fixtures (fixtures/declared/IMG-01) prove the wiring through compose; these
pin the rules a fixture per case would bury.
"""

from pathlib import Path
from types import MappingProxyType

import pytest

from compliance.checks import images
from compliance.model import DECLARED, Base, Location, Subject
from compliance.sources import declared, dockerfile
from compliance.sources.compose_files import Model, Service

MULTI = """\
ARG BASE=debian:12
FROM golang:1.22 AS build
COPY --from=nginx:1.25 /etc/nginx/mime.types /x

FROM scratch AS empty

FROM build AS test
USER 1000

FROM ${BASE} AS final
COPY --from=0 /app /app
COPY --from=empty / /
COPY --from=alpine /bin/true /bin/true

FROM debian:latest AS unbuilt
"""


def read(tmp_path: Path, text: str, target=None, args=None) -> dockerfile.Stage:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return dockerfile.read(path, "app/Dockerfile", target, args)


def written(stage) -> list[tuple[str, str, int]]:
    return [(b.instruction, b.reference, b.location.line) for b in stage.bases]


def test_the_last_stage_and_every_stage_it_copies_from(tmp_path):
    assert written(read(tmp_path, MULTI, target="final")) == [
        ("FROM", "golang:1.22", 2), ("COPY --from", "nginx:1.25", 3), ("FROM", "debian:12", 10),
        ("COPY --from", "alpine", 13)]


def test_a_target_builds_its_from_chain_only(tmp_path):
    stage = read(tmp_path, MULTI, target="test")
    assert written(stage) == [("FROM", "golang:1.22", 2), ("COPY --from", "nginx:1.25", 3)]
    assert stage.user == ("1000", Location("app/Dockerfile", 8))


def test_without_target_the_last_stage_is_built(tmp_path):
    assert written(read(tmp_path, MULTI)) == [("FROM", "debian:latest", 15)]


def test_build_args_override_the_arg_default(tmp_path):
    stage = read(tmp_path, MULTI, target="final", args={"BASE": "debian:latest", "X": None})
    assert ("FROM", "debian:latest", 10) in written(stage)
    assert stage.bases[2].written == "${BASE}"


@pytest.mark.parametrize("text, args, expected", [
    ("${A}", {"A": "x:1"}, "x:1"),
    ("$A:2", {"A": "x"}, "x:2"),
    ("${A:-x:1}", {}, "x:1"),
    ("${A:-x:1}", {"A": ""}, "x:1"),
    ("${A-x:1}", {"A": ""}, ""),
    ("x${A:+:1}", {"A": "y"}, "x:1"),
    ("x${A:+:1}", {}, "x"),
    ("${A}", {}, ""),  # an ARG without value names nothing
    ("x:${A}", {"A": None}, ""),
])
def test_substitute(text, args, expected):
    assert dockerfile.substitute(text, args) == expected


def test_a_stage_sees_the_args_it_declares(tmp_path):
    text = "ARG V=1.2\nFROM x:${V} AS a\nARG V\nARG SRC=y:${V}\nCOPY --from=${SRC} / /\n"
    assert written(read(tmp_path, text)) == [("FROM", "x:1.2", 2), ("COPY --from", "y:1.2", 5)]


def test_a_target_the_file_lacks_is_an_error(tmp_path):
    with pytest.raises(dockerfile.DockerfileError, match=r"app/Dockerfile: no stage named 'prod'"):
        read(tmp_path, MULTI, target="prod")


def test_an_unbalanced_arg_quote_names_its_line(tmp_path):
    with pytest.raises(dockerfile.DockerfileError, match=r"app/Dockerfile:2: cannot parse the ARG"):
        read(tmp_path, 'FROM x:1\nARG A="b\n')


def model(build) -> Model:
    return Model(files=(Path("compose.yml"),), name="t",
                 services=MappingProxyType({"app": Service("app", {"build": build})}),
                 networks={}, secrets={}, profiles="all profiles")


def test_a_local_context_without_its_dockerfile_stops_the_audit(tmp_path):
    with pytest.raises(declared.DeclaredError, match="cannot read the Dockerfile"):
        declared.subject("app", model({"context": str(tmp_path), "dockerfile": "Dockerfile"}))


def test_a_remote_context_is_not_read_and_img01_says_so():
    subject = declared.subject("app", model({"context": "https://git.example/app.git#v1"}))
    assert subject.bases is None
    finding = images.image_pinned(subject, ())
    assert finding.outcome == "skipped" and "cannot read" in finding.message


def bases(*references) -> tuple[Base, ...]:
    return tuple(Base(r, r, Location("app/Dockerfile", line)) for line, r in enumerate(references, 1))


def built(references, image="") -> Subject:
    return Subject(
        service="app", name="app", attrs={"Config": {"Image": image}}, image={}, networks={},
        process=None, test_id="app", kind=DECLARED, bases=bases(*references))


def test_every_base_is_judged_and_the_first_failing_one_is_the_location():
    finding = images.image_pinned(built(["golang:1.22", "debian", "alpine:latest"]), ())
    assert finding.outcome == "failed"
    assert finding.location == Location("app/Dockerfile", 2)
    assert finding.evidence == ("app/Dockerfile:1 FROM image=golang:1.22 (tag '1.22'); "
                                "app/Dockerfile:2 FROM image=debian (no tag); "
                                "app/Dockerfile:3 FROM image=alpine:latest (tag 'latest' floats)")


def test_pinned_bases_pass_and_leave_the_location_to_the_compose_key():
    digest = "debian@sha256:" + "a" * 64
    finding = images.image_pinned(built(["golang:1.22", digest]), ())
    assert finding.outcome == "passed" and finding.location is None


def test_a_pinned_image_name_does_not_pin_what_it_is_built_from():
    finding = images.image_pinned(built(["debian:latest"], image="passq-backend:1.4.0"), ())
    assert finding.outcome == "failed"
    assert finding.evidence.startswith("image=passq-backend:1.4.0 (tag '1.4.0'); app/Dockerfile:1")


def test_a_base_without_a_name_is_undecided_never_passed():
    finding = images.image_pinned(built(["golang:1.22", ""]), ())
    assert finding.outcome == "error" and "has no value" in finding.message
    assert finding.location == Location("app/Dockerfile", 2)


def test_an_image_built_from_scratch_only_has_nothing_to_float(tmp_path):
    stage = read(tmp_path, "FROM scratch AS a\nFROM scratch\nCOPY --from=a / /\n")
    assert stage.bases == ()
    subject = built([])
    finding = images.image_pinned(subject, ())
    assert finding.outcome == "passed" and "scratch" in finding.evidence


def test_a_run_mount_from_is_a_source_too(tmp_path):
    text = ("FROM x:1 AS tools\nFROM y:2\n"
            "RUN --mount=type=cache,target=/c --mount=type=bind,from=tools,source=/t,target=/t true\n"
            "RUN --mount=from=ghcr.io/astral-sh/uv:latest,source=/uv,target=/bin/uv uv sync\n")
    assert written(read(tmp_path, text)) == [
        ("FROM", "x:1", 1), ("FROM", "y:2", 2), ("RUN --mount from", "ghcr.io/astral-sh/uv:latest", 4)]
