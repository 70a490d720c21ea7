"""``yamlpipe validate`` as a whole process: it reads user code, never runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT, REPO

YAMLPIPE = Path(sys.executable).with_name("yamlpipe")
SPEC = """version: 1
name: side-effects
steps:
  - name: by-module
    entrypoint: pkg.side_effect:run
    inputs: {x: 1}
  - name: by-file
    entrypoint: pkg/side_effect.py:run
    inputs: {x: "${steps.by-module}"}
"""


def run(
    command: list[str], marker: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YAMLPIPE_IMPORT_MARKER": str(marker)}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_importing_the_marker_module_does_create_the_file(tmp_path: Path) -> None:
    marker = tmp_path / "imported"

    run([sys.executable, "-c", "import pkg.side_effect"], marker, PROJECT)

    assert marker.read_text() == "imported\n"


def test_validate_never_imports_user_code(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    marker = tmp_path / "imported"

    result = run(
        [str(YAMLPIPE), "validate", "--root", str(PROJECT), str(spec)], marker, REPO
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"ok {spec}: 2 steps\n"
    assert not marker.exists()
