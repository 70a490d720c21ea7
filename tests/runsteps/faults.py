"""Steps that go wrong in every way the run must report, until a marker exists.

Each fault happens only while the file ``marker`` is missing, so that a test can
fix the pipeline by creating it and then check that ``--resume`` picks up.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path


def faulty(kind: str, marker: str, value: int = 0) -> int:
    if Path(marker).exists():
        return value + 1
    print(f"about to fail: {kind}", flush=True)
    if kind == "raise":
        raise ValueError(f"bad value {value}")
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "exit":
        os._exit(3)
    if kind == "memory":
        _exhaust_memory()
    if kind == "unpicklable":
        return threading.Lock()  # type: ignore[return-value]
    if kind == "hang":
        _hang()
    if kind == "segfault":
        ctypes.string_at(0)
    raise AssertionError(f"unknown fault {kind}")


def _exhaust_memory() -> None:
    # A job on too small an instance: here an address-space limit stands in for
    # the instance's memory, and the allocation fails with MemoryError.
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (512 * 2**20, hard))
    hoard = [bytearray(64 * 2**20) for _ in range(64)]
    print(len(hoard))


def _hang() -> None:
    while True:
        time.sleep(0.05)


def slow(seconds: float, value: int = 0) -> int:
    time.sleep(seconds)
    return value


def sleeper(pid_file: str, marker: str) -> str:
    """Sleep, with a child process, until killed; return at once once fixed."""
    if Path(marker).exists():
        return "woke"
    child = subprocess.Popen(["sleep", "60"])
    Path(pid_file).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(60)
    return "slept"


def stamp(label: str, seconds: float) -> tuple[str, float, float]:
    """When the step ran: to see which steps overlapped."""
    start = time.time()
    time.sleep(seconds)
    return label, start, time.time()
