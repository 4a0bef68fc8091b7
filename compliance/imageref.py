"""Parse Docker image references the way the engine does.

Substring tests get this wrong: `registry:5000/app` has a colon but no tag
(the colon belongs to the registry's port), and `app@sha256:...` is pinned
although it has no tag at all.
"""

import re
from dataclasses import dataclass

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_REGISTRY = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?$")


@dataclass(frozen=True)
class ImageRef:
    registry: str | None
    repository: str
    tag: str | None
    digest: str | None

    @property
    def is_image_id(self) -> bool:
        return self.repository.startswith("sha256:")


def parse(reference: str) -> ImageRef:
    """Split a reference into registry, repository, tag and digest; ValueError if invalid."""
    if not isinstance(reference, str) or not reference or reference != reference.strip():
        raise ValueError(f"not an image reference: {reference!r}")
    if _IMAGE_ID.match(reference):
        return ImageRef(None, reference, None, None)
    name, digest = reference, None
    if "@" in name:
        name, digest = name.split("@", 1)
        if not _DIGEST.match(digest):
            raise ValueError(f"invalid digest in image reference {reference!r}")
    last_slash = name.rfind("/")
    tag = None
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.match(tag):
            raise ValueError(f"invalid tag in image reference {reference!r}")
    parts = name.split("/")
    registry = None
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0)
        if not _REGISTRY.match(registry):
            raise ValueError(f"invalid registry in image reference {reference!r}")
    if not parts or not all(_COMPONENT.match(p) for p in parts):
        raise ValueError(f"invalid repository name in image reference {reference!r}")
    return ImageRef(registry, "/".join(parts), tag, digest)
