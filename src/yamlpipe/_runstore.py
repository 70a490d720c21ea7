"""Where a local run keeps its files, each one written whole or not at all.

    .yamlpipe/runs/<run-id>/
        run.json              pipeline, parameters, execution values, status, steps
        steps/<step>/
            task.json         what the worker was asked to do: entrypoint, inputs
            arguments.pkl     the arguments that are not step results, cloudpickled
            result.pkl        the return value, cloudpickled as the SageMaker job does
            result.json       {"Result": ...} for condition and fail steps to read
            error.json        the exception and its traceback when the step raised
            log.txt           the step's stdout and stderr
            status.json       status, cache key, timings
    .yamlpipe/cache/<key>.pkl results of successful steps by cache key (hard links)

Every file is written under a temporary name and renamed into place, so a reader
(``--resume``, a later cache hit, a person) never sees half of one, whether the
worker or the run itself was killed. Leftover temporary files are removed when the
run is resumed. Renames protect against killed processes, not power loss: nothing
is fsynced, to keep a step's overhead in the milliseconds.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

TASK = "task.json"
ARGUMENTS = "arguments.pkl"
RESULT = "result.pkl"
RESULT_JSON = "result.json"
ERROR = "error.json"
LOG = "log.txt"
LOG_PARTIAL = ".log.txt.partial"
STATUS = "status.json"
RUN = "run.json"

# Removed before a step runs again, status first: a run killed in between then
# reads as "did not run", never as a stale success.
_STEP_FILES = (STATUS, RESULT, RESULT_JSON, ERROR, LOG, LOG_PARTIAL)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling and rename it over ``path``."""
    temporary = _temporary(path)
    with open(temporary, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def write_json(path: Path, value: Any) -> None:
    write_atomic(path, dump_json(value).encode())


def dump_json(value: Any) -> str:
    """Sorted, indented JSON; values JSON cannot hold are shown by ``repr``."""
    return json.dumps(value, indent=2, sort_keys=True, default=repr) + "\n"


def read_json(path: Path) -> Any:
    """The file's JSON, or None when it is missing."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def link_atomic(source: Path, target: Path) -> None:
    """Make ``target`` the same file as ``source``: a hard link, else a copy."""
    temporary = _temporary(target)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


class RunStore:
    """The directory of one run and the cache it shares with the others."""

    def __init__(self, run_dir: Path, cache_dir: Path) -> None:
        self.run_dir = run_dir
        self.cache_dir = cache_dir

    def create(self) -> None:
        (self.run_dir / "steps").mkdir(parents=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    def reopen(self) -> None:
        """Prepare a run to be resumed: clear what a killed run left half-done."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.run_dir.glob("**/.*.tmp"):
            leftover.unlink(missing_ok=True)
        for partial in self.run_dir.glob(f"steps/*/{LOG_PARTIAL}"):
            os.replace(partial, partial.with_name(LOG))

    def step_dir(self, name: str) -> Path:
        return self.run_dir / "steps" / name

    def summary(self) -> Any:
        return read_json(self.run_dir / RUN)

    def write_summary(self, summary: dict[str, Any]) -> None:
        write_json(self.run_dir / RUN, summary)

    def status(self, name: str) -> Any:
        return read_json(self.step_dir(name) / STATUS)

    def write_status(self, name: str, status: dict[str, Any]) -> None:
        write_json(self.step_dir(name) / STATUS, status)

    def clear_step(self, name: str) -> Path:
        """An empty directory for the step, keeping nothing of an earlier attempt."""
        folder = self.step_dir(name)
        folder.mkdir(exist_ok=True)
        for file in _STEP_FILES:
            (folder / file).unlink(missing_ok=True)
        return folder

    def finish_log(self, name: str) -> None:
        partial = self.step_dir(name) / LOG_PARTIAL
        if partial.exists():
            os.replace(partial, partial.with_name(LOG))

    def has_result(self, name: str, need_json: bool) -> bool:
        folder = self.step_dir(name)
        found = (folder / RESULT).exists()
        return found and (not need_json or (folder / RESULT_JSON).exists())

    # -- cache ----------------------------------------------------------------

    def cached(self, key: str, need_json: bool) -> bool:
        found = (self.cache_dir / f"{key}.pkl").exists()
        return found and (not need_json or (self.cache_dir / f"{key}.json").exists())

    def fetch(self, key: str, name: str) -> None:
        """Put the cached result of ``key`` in place as the result of ``name``."""
        folder = self.clear_step(name)
        encoded = self.cache_dir / f"{key}.json"
        if encoded.exists():
            link_atomic(encoded, folder / RESULT_JSON)
        link_atomic(self.cache_dir / f"{key}.pkl", folder / RESULT)

    def keep(self, key: str, name: str) -> None:
        """Remember the result of ``name`` under ``key``; the pickle goes last."""
        folder = self.step_dir(name)
        if (folder / RESULT_JSON).exists():
            link_atomic(folder / RESULT_JSON, self.cache_dir / f"{key}.json")
        link_atomic(folder / RESULT, self.cache_dir / f"{key}.pkl")
