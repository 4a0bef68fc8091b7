"""IMG-05's layer reader on docker-save archives built here: layers stacked as the engine stacks them."""

import io
import json
import tarfile

import pytest

from compliance import layers


def tar_of(entries) -> bytes:
    """A tar from (name, mode, kind) entries; kind: "file", "dir", "link:<target>", "sym:<target>"."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, mode, kind in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind.startswith("link:"):
                info.type, info.linkname = tarfile.LNKTYPE, kind[5:]
            elif kind.startswith("sym:"):
                info.type, info.linkname = tarfile.SYMTYPE, kind[4:]
            data = b"x" * 600 if kind == "file" else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def save_of(layer_entries, oci=False, shared_last_layer=False) -> io.BytesIO:
    """A docker-save archive of the layers (bottom first). The legacy format puts manifest.json
    last (read after the layers), the OCI layout first; `shared_last_layer` stores the top
    layer as a symlink to the bottom one's tar, as the engine does for identical layers."""
    names = [f"blobs/sha256/{i:064x}" if oci else f"{i:064x}/layer.tar" for i in range(len(layer_entries))]
    manifest = ("manifest.json", json.dumps([{"Config": "config.json", "Layers": names}]).encode())
    members = [(name, tar_of(entries)) for name, entries in zip(names, layer_entries, strict=True)]
    members.append(("config.json", b'{"rootfs": {}}'))
    members = [manifest, *members] if oci else [*members, manifest]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members:
            if shared_last_layer and name == names[-1]:
                info = tarfile.TarInfo(name)
                info.type, info.linkname = tarfile.SYMTYPE, f"../{names[0]}"
                tar.addfile(info)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out.seek(0)
    return out


BASE = [("usr", 0o755, "dir"), ("usr/bin", 0o755, "dir"), ("usr/bin/su", 0o4755, "file"),
        ("usr/bin/chage", 0o2755, "file"), ("usr/bin/ls", 0o755, "file"),
        ("var/mail", 0o2775, "dir"), ("opt/tool", 0o755, "dir"), ("opt/tool/helper", 0o4711, "file")]


def paths(files) -> list[str]:
    return [f.path for f in files]


@pytest.mark.parametrize("oci", [False, True], ids=["docker-save", "oci-layout"])
def test_setid_regular_files_of_one_layer_not_directories(oci):
    files = layers.from_save(save_of([BASE], oci=oci))
    assert paths(files) == ["/opt/tool/helper", "/usr/bin/chage", "/usr/bin/su"]
    assert str(files[2]) == "/usr/bin/su (4755)"


def test_an_upper_layer_replaces_whites_out_and_hides_opaque_directories():
    upper = [("usr/bin/su", 0o755, "file"),                # chmod a-s: the copy replaces it
             ("usr/bin/.wh.chage", 0o644, "file"),         # rm: a whiteout
             ("opt/tool/.wh..wh..opq", 0o644, "file"),     # rm -rf + mkdir: opaque
             ("usr/bin/newgrp", 0o4755, "file")]           # a new one
    assert paths(layers.from_save(save_of([BASE, upper]))) == ["/usr/bin/newgrp"]


def test_a_whited_out_directory_takes_its_files_along():
    assert paths(layers.from_save(save_of([BASE, [("opt/.wh.tool", 0o644, "file")]]))) == [
        "/usr/bin/chage", "/usr/bin/su"]


def test_a_hard_link_to_a_setuid_file_is_one_too():
    entries = [*BASE, ("usr/bin/su2", 0o4755, "link:usr/bin/su"), ("usr/bin/sh", 0o777, "sym:ls")]
    assert "/usr/bin/su2" in paths(layers.from_save(save_of([entries])))


def test_a_layer_shared_by_symlink_in_the_archive_is_read_through_it():
    # the top layer's entry is a symlink to the bottom layer's tar: BASE twice
    assert paths(layers.from_save(save_of([BASE, []], shared_last_layer=True))) == [
        "/opt/tool/helper", "/usr/bin/chage", "/usr/bin/su"]


def test_a_stream_that_is_no_docker_save_archive_is_an_error():
    with pytest.raises(ValueError, match="not a docker-save archive"):
        layers.from_save(io.BytesIO(tar_of([("hello", 0o644, "file")])))


def test_chunks_are_read_as_one_stream():
    data = save_of([BASE]).getvalue()
    chunks = (data[i:i + 777] for i in range(0, len(data), 777))
    assert paths(layers.setid_files(chunks)) == ["/opt/tool/helper", "/usr/bin/chage", "/usr/bin/su"]


def test_the_answer_is_cached_by_image_id(tmp_path):
    reads = []

    def read():
        reads.append(1)
        return layers.from_save(save_of([BASE]))

    first = layers.cached("sha256:abc", read, tmp_path)
    again = layers.cached("sha256:abc", read, tmp_path)
    assert first == again and len(reads) == 1
    assert (tmp_path / "sha256-abc.json").is_file()
    assert len(layers.cached("sha256:def", read, tmp_path)) == 3 and len(reads) == 2
