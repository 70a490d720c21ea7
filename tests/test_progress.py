"""The run display: plain lines off a terminal, a live block on one, then a table."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from yamlpipe._differences import LocalDifference
from yamlpipe.errors import Location, RunError
from yamlpipe.progress import Display
from yamlpipe.runner import RunResult, RunStart, StepRecord

GOLDEN = Path(__file__).resolve().parent / "golden"
SPEC = "pipeline.yaml"
RUN_ID = "20260101-120000-abcd"
TRACEBACK = """\
Traceback (most recent call last):
  File "steps/boom.py", line 3, in boom
    raise ValueError("bad value 2")
ValueError: bad value 2"""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def step(name: str, line: int, kind: str = "function", **changes: object) -> StepRecord:
    return StepRecord(name, kind, Location(SPEC, line, 5), **changes)  # type: ignore[arg-type]


def play(display: Display, clock: Clock) -> None:
    """A run of five steps: done, cached, a condition, a skip and a failure."""
    steps = {
        "prepare": step("prepare", 7),
        "train": step("train", 10),
        "gate": step("gate", 14, "condition"),
        "low": step("low", 18, "fail"),
        "boom": step("boom", 20),
    }
    warning = LocalDifference(
        "instance_type ml.m5.large is not used by a local run (train)",
        "steps run on this machine's CPUs and memory",
        Location(SPEC, 4, 18),
    )
    display.started(RunStart(RUN_ID, Path("runs") / RUN_ID, "demo",
                             tuple(steps.values()), (warning,), False, 2))
    changes = [
        (0.1, "prepare", {"status": "running", "started": 0.1}),
        (0.6, "prepare", {"status": "done", "seconds": 0.5}),
        (0.6, "train", {"status": "cached", "note": "from cache"}),
        (0.6, "gate", {"status": "done", "seconds": 0.0, "note": "then branch"}),
        (0.6, "low", {"status": "skipped", "note": "'gate' chose then"}),
        (0.7, "boom", {"status": "running", "started": 0.7}),
        (1.9, "boom", {
            "status": "failed", "seconds": 1.2, "note": "raised ValueError",
            "detail": TRACEBACK, "log": Path("runs", RUN_ID, "steps/boom/log.txt"),
            "error": RunError("step 'boom' raised ValueError: bad value 2"),
        }),
    ]
    for moment, name, change in changes:
        clock.now = moment
        steps[name] = StepRecord(**{**steps[name].__dict__, **change})
        display.changed(steps[name])
        display.tick()
    display.finished(RunResult(RUN_ID, Path("runs") / RUN_ID, "demo", "failed",
                               steps, (warning,), 2.0))


def check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("YAMLPIPE_REGEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_plain_display_writes_a_line_per_change_then_a_table():
    out, clock = io.StringIO(), Clock()

    play(Display(out, live=False, color=False, clock=clock), clock)

    check_golden("run.display.plain.txt", out.getvalue())


def test_live_display_redraws_lines_in_place_then_leaves_the_table(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("LINES", "40")
    out, clock = io.StringIO(), Clock()

    play(Display(out, live=True, color=True, clock=clock), clock)

    check_golden("run.display.live.txt", out.getvalue())


@pytest.mark.parametrize("lines", ["4", "40"])
def test_live_display_fits_the_terminal(monkeypatch, lines):
    monkeypatch.setenv("COLUMNS", "30")
    monkeypatch.setenv("LINES", lines)
    out, clock = io.StringIO(), Clock()
    display = Display(out, live=True, color=False, clock=clock)

    play(display, clock)

    drawn = [part.split("\n")[0] for part in out.getvalue().split("\x1b[2K")[1:]]
    assert drawn
    assert all(len(line.replace("\x1b[0m", "")) < 30 for line in drawn)
