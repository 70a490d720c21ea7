"""One function step in a process of its own, as the SageMaker job would run it.

The parent starts a worker per step and reads back only files (see ``_runstore``):
the worker imports the step's module afresh, loads its arguments and the results
of the steps it reads with cloudpickle, calls the function, and writes the return
value with cloudpickle. The SDK resolves a ``DelayedReturn`` the same way inside the
job: it deserializes the upstream step's pickled results and indexes them
(``_retrieve_child_item`` in ``sagemaker/core/remote_function/core/
pipeline_variables.py``), so a value that would not survive that trip fails here.

Two ways to start a worker:

- ``fork`` (the default where ``os.fork`` exists): the warm parent forks, so a step
  starts in about a millisecond instead of the ~50 ms of a fresh interpreter. The
  parent runs no threads and imports no step code, so the child starts clean; the
  step's own package is dropped from ``sys.modules`` so that an edited file is
  read again, as the job would.
- ``spawn``: ``python -m yamlpipe._worker STEP_DIR`` through ``posix_spawn``, a
  fresh interpreter per step. Slower, for platforms where forking a process is
  unsafe (set ``YAMLPIPE_START_METHOD=spawn``, for example on macOS if a library
  imported by the caller complains about fork).

Either way the worker leads its own process group, so a Ctrl-C at the terminal
reaches only the parent, which then kills each group: the step and whatever it
started.
"""

from __future__ import annotations

import faulthandler
import functools
import gc
import importlib
import json
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

import cloudpickle  # type: ignore[import-untyped]

from yamlpipe import _runstore as store

StartMethod = Literal["fork", "spawn"]
Phase = Literal["load", "call", "result"]

# Exit codes of a worker: anything else means the step's process ended on its own
# (os._exit, a signal) before the worker could report.
DONE = 0
RAISED = 1
# From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1
# Sent before the kill of a step past its max_runtime_in_seconds: faulthandler then
# writes where every thread of the step was into its log.
DUMP_SIGNAL = signal.SIGUSR2


@dataclass
class Worker:
    """A running worker as the parent sees it."""

    name: str
    pid: int
    started: float
    deadline: float
    exit_fd: int | None
    timed_out: bool = False
    kill_at: float | None = None

    def poll(self) -> int | None:
        """The exit code once the worker has ended (negative: killed by a signal)."""
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.close()
        return os.waitstatus_to_exitcode(status)

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        self.close()
        return os.waitstatus_to_exitcode(status)

    def dump_stacks(self) -> None:
        _signal_group(self.pid, DUMP_SIGNAL)

    def kill(self) -> None:
        _signal_group(self.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        # Not yet a group leader, or already gone: the process itself is enough.
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def start(step_dir: Path, method: StartMethod) -> tuple[int, int | None]:
    """Start the worker of the step in ``step_dir``: its pid and an exit fd."""
    log_fd = os.open(
        step_dir / store.LOG_PARTIAL, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644
    )
    try:
        pid = _fork(step_dir, log_fd) if method == "fork" else _spawn(step_dir, log_fd)
    finally:
        os.close(log_fd)
    return pid, _exit_fd(pid)


def _exit_fd(pid: int) -> int | None:
    """A descriptor that turns readable when ``pid`` exits (Linux 5.3+), else None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _fork(step_dir: Path, log_fd: int) -> int:
    for stream in (sys.stdout, sys.stderr):
        # Unflushed output of the parent would otherwise be written twice.
        if stream is not None:
            stream.flush()
    parent = os.getpid()
    prctl = _prctl()
    pid = os.fork()
    if pid:
        _lead_group(pid)
        return pid
    code = 70
    try:
        _die_with(parent, prctl)
        _become_worker(log_fd)
        code = work(step_dir)
    finally:
        _exit(code)


@functools.cache
def _prctl() -> Any:
    """Linux's prctl(2), looked up once in the parent; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None


def _die_with(parent: int, prctl: Any) -> None:
    """Have the kernel kill this worker if the run dies without cleaning up.

    A worker leads its own process group, so nothing else reaches it when the
    run is killed with SIGKILL; PR_SET_PDEATHSIG (Linux) closes that gap.
    """
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        _exit(70)  # the run died before the line above took effect


def _lead_group(pid: int) -> None:
    # Both sides set the group, so that it is in place whichever runs first.
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass


def _become_worker(log_fd: int) -> None:
    # The parent's objects are never garbage here: leaving them out of every
    # collection spares the copy-on-write of the pages that hold them.
    gc.freeze()
    _lead_group(0)
    if hasattr(signal, "set_wakeup_fd"):
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_DFL)
        except ValueError:
            pass  # forked from a thread other than the main one
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    _line_buffered_streams()


def _line_buffered_streams() -> None:
    # Line buffering keeps a killed step's last lines in its log.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(  # noqa: SIM115
        2, "w", buffering=1, closefd=False, errors="backslashreplace"
    )


def _spawn(step_dir: Path, log_fd: int) -> int:
    package_root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": package_root + (os.pathsep + path if path else ""),
    }
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        return os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "yamlpipe._worker", str(step_dir), str(os.getpid())],
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
            setsigmask=(),
        )
    finally:
        os.close(null)


# -- inside the worker --------------------------------------------------------


def work(step_dir: Path) -> int:
    """Run the step described in ``step_dir``; the exit code of the worker."""
    task = json.loads((step_dir / store.TASK).read_text())
    # Where the step was goes to its log: on a crash (SIGSEGV in an extension)
    # and when the run stops it for running too long.
    faulthandler.enable(file=sys.stderr, all_threads=True)
    faulthandler.register(DUMP_SIGNAL, file=sys.stderr, all_threads=True)

    try:
        _enter(task)
        function = _function(task)
        arguments = _arguments(step_dir, task)
    except BaseException as exc:
        return _report(step_dir, exc, "load")

    try:
        result = function(**arguments)
    except BaseException as exc:
        return _report(step_dir, exc, "call")

    return _save(step_dir, result, task["json_result"])


def _enter(task: dict[str, Any]) -> None:
    """The job's surroundings: working directory, import path, environment."""
    os.chdir(task["cwd"])
    sys.path.insert(0, task["import_root"])
    os.environ.update(task["environment"])
    top = task["module"].partition(".")[0]
    # A submodule is never imported without its package, so one look suffices.
    if top in sys.modules and top != "yamlpipe":
        stale = [m for m in sys.modules if m == top or m.startswith(top + ".")]
        for name in stale:
            del sys.modules[name]
        importlib.invalidate_caches()


def _function(task: dict[str, Any]) -> Any:
    module = importlib.import_module(task["module"])
    return getattr(module, task["function"])


def _arguments(step_dir: Path, task: dict[str, Any]) -> dict[str, Any]:
    pickled = (step_dir / store.ARGUMENTS).read_bytes()
    arguments: dict[str, Any] = cloudpickle.loads(pickled)
    loaded: dict[str, Any] = {}
    for name, ref in task["refs"].items():
        step = ref["step"]
        if step not in loaded:
            result = step_dir.parent / step / store.RESULT
            loaded[step] = cloudpickle.loads(result.read_bytes())
        value = loaded[step]
        for key in ref["path"]:
            value = value[key]
        arguments[name] = value
    return {name: arguments[name] for name in task["order"]}


def _save(step_dir: Path, result: Any, json_result: bool) -> int:
    try:
        data = cloudpickle.dumps(result)
    except BaseException as exc:
        return _report(step_dir, exc, "result")
    if json_result:
        store.write_atomic(step_dir / store.RESULT_JSON, _result_json(result))
    store.write_atomic(step_dir / store.RESULT, data)
    return DONE


def _result_json(result: Any) -> bytes:
    """What the SDK uploads for condition steps (``json_serialize_obj_to_s3``)."""
    try:
        return json.dumps({"Result": result, "Exception": None}).encode()
    except (TypeError, ValueError):
        problem = f"The function return ({result!r:.200}) is not JSON serializable."
        return json.dumps({"Result": None, "Exception": problem}).encode()


def _report(step_dir: Path, exc: BaseException, phase: Phase) -> int:
    # Our own frame is noise: the traceback starts in the step's code.
    tb = exc.__traceback__.tb_next if exc.__traceback__ else None
    lines = traceback.format_exception(type(exc), exc, tb)
    text = "".join(lines)
    sys.stderr.write(text)
    sys.stderr.flush()
    error = {
        "phase": phase,
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": text,
    }
    store.write_json(step_dir / store.ERROR, error)
    return RAISED


def main() -> None:
    """``python -m yamlpipe._worker STEP_DIR PARENT_PID``: the spawn method."""
    code = 70
    try:
        _die_with(int(sys.argv[2]), _prctl())
        code = work(Path(sys.argv[1]))
    finally:
        _exit(code)


def _exit(code: int) -> NoReturn:
    # os._exit: the worker must never return into the caller's code (the parent's
    # loop, a test runner) nor run the atexit handlers it inherited.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
