"""The setuid/setgid files of an image, read from its layers through the engine (IMG-05).

`GET /images/{id}/get` streams the image in docker-save format: an outer tar
holding one tar per layer and a manifest.json naming the layers bottom-up.
Both tars are read as streams (tarfile mode `r|`), headers only: a file's
content is skipped, never kept, so a shell-less image needs no exec and a
500 MB image costs one pass over the stream and little memory. The layers
are then stacked as the engine stacks them: a path written again in an upper
layer replaces the lower one, a whiteout (`.wh.NAME`) deletes it, and an
opaque directory (`.wh..wh..opq`) hides everything below it.

An image's content never changes under its ID, so the result is cached by
image ID in `$XDG_CACHE_HOME/passq-compliance/setid/` (else
`~/.cache/passq-compliance/setid/`): only the first audit of an image reads
its layers.
"""

import io
import json
import os
import posixpath
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SETID_BITS = 0o6000
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
BUFFER = 1 << 20


@dataclass(frozen=True)
class SetidFile:
    """A regular file with the setuid or setgid bit, as the image's top layer leaves it."""

    path: str
    mode: int

    def __str__(self) -> str:
        return f"{self.path} ({self.mode & 0o7777:04o})"


@dataclass
class _Layer:
    written: set[str] = field(default_factory=set)  # every path the layer holds
    deleted: set[str] = field(default_factory=set)  # whiteouts: paths it removes from below
    opaque: set[str] = field(default_factory=set)  # directories whose lower content it hides
    setid: dict[str, SetidFile] = field(default_factory=dict)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "passq-compliance" / "setid"


class _Chunks(io.RawIOBase):
    """A readable stream over the byte chunks the SDK yields for a streamed response."""

    def __init__(self, chunks: Iterable[bytes]):
        self._chunks = iter(chunks)
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def _absolute(name: str) -> str:
    return posixpath.normpath(posixpath.join("/", name))


def _layer(stream) -> _Layer:
    """One layer tar, headers only."""
    layer = _Layer()
    with tarfile.open(fileobj=stream, mode="r|", bufsize=BUFFER) as tar:
        for member in tar:
            path = _absolute(member.name)
            parent, base = posixpath.split(path)
            if base == OPAQUE:
                layer.opaque.add(parent)
            elif base.startswith(WHITEOUT):
                layer.deleted.add(posixpath.join(parent, base[len(WHITEOUT):]))
            else:
                layer.written.add(path)
                if (member.isreg() or member.islnk()) and member.mode & SETID_BITS:
                    layer.setid[path] = SetidFile(path, member.mode)
    return layer


def _hidden(path: str, layer: _Layer) -> bool:
    """Whether an upper layer replaces or removes a path of the layers below it."""
    if path in layer.written or path in layer.deleted:
        return True
    return any(path.startswith(d.rstrip("/") + "/") for d in layer.deleted | layer.opaque)


def stacked(layers: Iterable[_Layer]) -> tuple[SetidFile, ...]:
    """The setuid/setgid files left when the layers (bottom first) are stacked."""
    current: dict[str, SetidFile] = {}
    for layer in layers:
        current = {p: f for p, f in current.items() if not _hidden(p, layer)}
        current.update(layer.setid)
    return tuple(sorted(current.values(), key=lambda f: f.path))


def from_save(stream) -> tuple[SetidFile, ...]:
    """The setuid/setgid files of the image in a docker-save stream. Every regular member
    is tried as a layer tar (the format names layers `<id>/layer.tar` or, as OCI, blobs);
    the manifest, read whenever it comes, says which are layers and in which order.
    ValueError when the stream is no docker-save archive."""
    read: dict[str, _Layer] = {}
    links: dict[str, str] = {}
    manifest = None
    with tarfile.open(fileobj=stream, mode="r|", bufsize=BUFFER) as outer:
        for member in outer:
            if member.name == "manifest.json":
                manifest = json.load(outer.extractfile(member))
            elif member.issym():  # a layer shared with another image entry
                links[member.name] = posixpath.normpath(
                    posixpath.join(posixpath.dirname(member.name), member.linkname))
            elif member.isreg():
                try:
                    read[member.name] = _layer(outer.extractfile(member))
                except tarfile.TarError:
                    continue  # a config or VERSION file, not a layer
    try:
        names = [links.get(n, n) for n in manifest[0]["Layers"]]
        return stacked(read[n] for n in names)
    except (TypeError, LookupError) as exc:
        raise ValueError(f"not a docker-save archive (manifest.json: {exc!r})") from None


def setid_files(chunks: Iterator[bytes]) -> tuple[SetidFile, ...]:
    """From the chunks of a `GET /images/{id}/get` response."""
    return from_save(io.BufferedReader(_Chunks(chunks), BUFFER))


def cached(image_id: str, read, directory: Path | None = None) -> tuple[SetidFile, ...]:
    """The image's setuid/setgid files from the cache, else `read()` them and keep the
    answer (a cache that cannot be written only costs the next run another read)."""
    path = (directory or cache_dir()) / f"{image_id.replace(':', '-')}.json"
    try:
        return tuple(SetidFile(p, m) for p, m in json.loads(path.read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    files = read()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"image": image_id, "files": [[f.path, f.mode] for f in files]}))
        partial.replace(path)
    except OSError:
        pass
    return files
