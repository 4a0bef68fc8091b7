"""Atomic report files: a reader sees the old report or the new one, never half of one.

A killed run (CI timeout, OOM) must not leave a truncated compliance.json that a
later step parses as "no failures". So each report is written to a temporary
file in the same directory (same filesystem) and moved over the old one with
os.replace, which is atomic on POSIX.
"""

import json
import os
import tempfile
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, document) -> None:
    """Unindented: with `indent` Python encodes in pure Python, several times slower than its
    C encoder (benchmarks/README.md); `jq .` indents a report for reading."""
    write_text(path, json.dumps(document, ensure_ascii=False) + "\n")
