"""Kill `compile` and `run` at random moments: what they leave is whole.

Each test sends SIGKILL after a random delay, many times, then checks that the
build directory holds the old build or the new one (never a mix, never neither),
and that a run directory holds only complete files and resumes to the right result.
The delays are drawn from a seeded generator so a failure can be replayed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

KILLS = int(os.environ.get("YAMLPIPE_KILLS", "6"))


def _start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "yamlpipe", *args], cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def _kill_after(process: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL the process (and its group) after ``delay``; True if it had ended."""
    try:
        process.wait(timeout=delay)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False


# -- compile ----------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _whole_build(build: Path) -> str:
    """The spec hash of a complete build; fails on a partial or missing one."""
    manifest = json.loads((build / "manifest.json").read_text())
    json.loads((build / "definition.json").read_text())
    for artifact in manifest["artifacts"]:
        assert _sha256(build / artifact["path"]) == artifact["sha256"], artifact
    listed = {a["path"] for a in manifest["artifacts"]}
    present = {
        p.relative_to(build).as_posix()
        for p in (build / "artifacts").rglob("*") if p.is_file()
    }
    assert present == listed
    return str(manifest["spec"]["sha256"])


def test_killed_compiles_leave_the_old_build_or_the_new(tmp_path: Path) -> None:
    specs = []
    for epochs in (10, 11):
        text = (REPO / "specs" / "churn.yaml").read_text()
        spec = tmp_path / f"churn-{epochs}.yaml"
        spec.write_text(text.replace("default: 10}", f"default: {epochs}}}"))
        specs.append(spec)
    out = tmp_path / "build"
    args = ["compile", "--root", str(REPO), "-o", str(out)]
    started = time.monotonic()
    assert _start([*args, str(specs[0])], REPO).wait() == 0
    duration = time.monotonic() - started
    hashes = {_sha256(spec) for spec in specs}
    chance = random.Random(20261203)

    finished = 0
    for i in range(KILLS):
        process = _start([*args, str(specs[(i + 1) % 2])], REPO)
        finished += _kill_after(process, chance.uniform(0.2, duration * 1.1))
        assert _whole_build(out / "churn-training") in hashes
    assert finished < KILLS, "every compile ended before its kill: nothing tested"


# -- run --------------------------------------------------------------------------

STEPS = '''
import time


def work(x: int) -> int:
    time.sleep(0.05)
    return x + 1
'''


def _run_spec(steps: int) -> str:
    lines = ["version: 1", "name: chain", "steps:",
             "  - name: s0", "    entrypoint: chain:work", "    inputs: {x: 0}"]
    for i in range(1, steps):
        lines += [f"  - name: s{i}", "    entrypoint: chain:work",
                  "    inputs:", f"      x: ${{steps.s{i - 1}}}"]
    lines += ["  - name: side", "    entrypoint: chain:work", "    inputs: {x: 100}"]
    return "\n".join(lines) + "\n"


def _whole_run(run_dir: Path) -> None:
    for path in run_dir.rglob("*"):
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pkl":
            pickle.loads(path.read_bytes())
    for status_file in run_dir.glob("steps/*/status.json"):
        if json.loads(status_file.read_text())["status"] == "done":
            assert (status_file.parent / "result.pkl").is_file(), status_file


@pytest.mark.parametrize("steps", [12])
def test_killed_runs_hold_whole_files_and_resume(tmp_path: Path, steps: int) -> None:
    (tmp_path / "chain.py").write_text(STEPS)
    spec = tmp_path / "chain.yaml"
    spec.write_text(_run_spec(steps))
    runs = tmp_path / ".yamlpipe" / "runs"
    chance = random.Random(4)
    cut_short = 0

    for _ in range(KILLS * 2):
        before = set(runs.iterdir()) if runs.exists() else set()
        process = _start(["run", str(spec), "--root", str(tmp_path), "--no-cache"],
                         tmp_path)
        _kill_after(process, chance.uniform(0.0, 1.2))
        created = (set(runs.iterdir()) if runs.exists() else set()) - before
        for run_dir in created:
            _whole_run(run_dir)
            last_status = run_dir / "steps" / f"s{steps - 1}" / "status.json"
            cut_short += not last_status.is_file() or json.loads(
                last_status.read_text())["status"] != "done"
            resumed = subprocess.run(
                [sys.executable, "-m", "yamlpipe", "run", str(spec), "--root",
                 str(tmp_path), "--resume", run_dir.name],
                cwd=tmp_path, capture_output=True, text=True,
            )
            assert resumed.returncode == 0, resumed.stderr
            last = pickle.loads((run_dir / "steps" / f"s{steps - 1}" / "result.pkl")
                                .read_bytes())
            assert last == steps
    assert cut_short, "no run was killed before its end: nothing tested"
