"""Image references parsed the way the engine reads them (IMG-01 depends on it)."""

import pytest

from compliance.imageref import ImageRef, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("reference", "expected"), [
    ("registry:5000/app", ImageRef("registry:5000", "app", None, None)),
    ("registry:5000/app:1.2", ImageRef("registry:5000", "app", "1.2", None)),
    ("registry:5000/team/app:1.2", ImageRef("registry:5000", "team/app", "1.2", None)),
    ("localhost/app", ImageRef("localhost", "app", None, None)),
    ("localhost:5000/app:v2", ImageRef("localhost:5000", "app", "v2", None)),
    ("nginx", ImageRef(None, "nginx", None, None)),
    ("nginx:1.25.3-alpine", ImageRef(None, "nginx", "1.25.3-alpine", None)),
    ("library/postgres:15", ImageRef(None, "library/postgres", "15", None)),
    ("ghcr.io/passq/backend:2.0.1", ImageRef("ghcr.io", "passq/backend", "2.0.1", None)),
    (f"postgres@{DIGEST}", ImageRef(None, "postgres", None, DIGEST)),
    (f"postgres:15@{DIGEST}", ImageRef(None, "postgres", "15", DIGEST)),
    (f"registry:5000/app@{DIGEST}", ImageRef("registry:5000", "app", None, DIGEST)),
])
def test_parse(reference, expected):
    assert parse(reference) == expected


def test_image_id_is_its_own_reference():
    ref = parse(DIGEST)
    assert ref.is_image_id and ref.tag is None and ref.digest is None


def test_a_port_colon_is_not_a_tag():
    """The colon of `registry:5000/app` belongs to the registry's port: untagged."""
    assert parse("registry:5000/app").tag is None


@pytest.mark.parametrize("reference", [
    "", " nginx", "nginx ", "Nginx", "nginx:", "nginx:-dash", "app@sha256:short",
    "app@", "/app", "app//x", "registry:5000/", ":1.0", "app:1.0:2.0", None, 42,
])
def test_invalid_references_raise(reference):
    with pytest.raises(ValueError):
        parse(reference)


def test_registry_port_must_be_numeric():
    with pytest.raises(ValueError):
        parse("nginx:bad/tag")
