"""Show a local run while it works, then a table of how every step ended.

On a terminal each step has a line that is redrawn in place (waiting, running with
its elapsed time, cached, done, failed); elsewhere (CI logs, a pipe) each change is
one plain line. Both end with the same table and, for each failed step, its
traceback under the step's name and spec line.

Written with ANSI escapes and plain writes: importing rich costs about 60 ms
(measured with ``python -X importtime`` on Python 3.11), more than the whole
per-step overhead a run is allowed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

from yamlpipe.runner import RunResult, RunStart, StepRecord

_COLORS = {
    "waiting": "2",
    "running": "33",
    "done": "32",
    "cached": "36",
    "failed": "31",
    "skipped": "2",
    "cancelled": "2",
}
_REDRAW_EVERY = 0.05
_NAME_WIDTH = 32


class Display:
    """A ``runner.Progress`` that writes to a stream, live on a terminal."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        live: bool | None = None,
        color: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.clock = clock
        tty = self.stream.isatty()
        self.live = tty and os.environ.get("TERM") != "dumb" if live is None else live
        self.color = tty and "NO_COLOR" not in os.environ if color is None else color
        self.records: dict[str, StepRecord] = {}
        self.started_at = self.clock()
        self.drawn = 0
        self.drawn_at = 0.0
        self.width = _NAME_WIDTH

    # -- Progress ----------------------------------------------------------------

    def started(self, run: RunStart) -> None:
        self.started_at = self.clock()
        self.records = {step.name: step for step in run.steps}
        self.width = min(_NAME_WIDTH, max((len(n) for n in self.records), default=4))
        again = "resuming" if run.resumed else "run"
        self.write(
            f"{again} {run.run_id} of {run.pipeline}: {len(run.steps)} steps, "
            f"{run.jobs} at a time\n"
        )
        for warning in run.warnings:
            self.write(f"{self.paint('warning', '33')}: {warning.render()}\n")
        if self.live:
            self.draw(force=True)

    def changed(self, step: StepRecord) -> None:
        self.records[step.name] = step
        if self.live:
            self.draw(force=False)
        elif step.status != "waiting":
            self.write(self.plain_line(step))

    def tick(self) -> None:
        if self.live:
            self.draw(force=False)

    def finished(self, result: RunResult) -> None:
        self.records = dict(result.steps)
        if self.live:
            self.erase()
        self.write(self.table())
        for record in result.steps.values():
            if record.status == "failed":
                self.write(self.failure(record))
        self.write(self.summary(result))

    # -- live lines ----------------------------------------------------------------

    def draw(self, force: bool) -> None:
        now = self.clock()
        if not force and now - self.drawn_at < _REDRAW_EVERY:
            return
        self.drawn_at = now
        columns, rows = shutil.get_terminal_size()
        lines = [self.cut(line, columns - 1) for line in self.live_lines(rows - 2)]
        parts = [f"\x1b[{self.drawn}F"] if self.drawn else []
        parts += [f"\x1b[2K{line}\n" for line in lines]
        if len(lines) < self.drawn:
            parts.append("\x1b[J")
        self.drawn = len(lines)
        self.write("".join(parts))

    def erase(self) -> None:
        if self.drawn:
            self.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def live_lines(self, room: int) -> list[str]:
        records = list(self.records.values())
        if len(records) <= room:
            return [self.live_line(r) for r in records]
        # Too many for the screen: what is running, then a count of the rest.
        shown = [r for r in records if r.status in ("running", "failed")]
        shown = shown[: max(room - 1, 0)]
        return [self.live_line(r) for r in shown] + [self.counts(records)]

    def live_line(self, record: StepRecord) -> str:
        seconds = record.seconds
        if record.status == "running" and record.started is not None:
            seconds = self.clock() - record.started
        time_text = f"{seconds:7.2f}s" if seconds is not None else " " * 8
        status = self.paint(f"{record.status:<9}", _COLORS[record.status])
        line = f"  {record.name:<{self.width}}  {status} {time_text}  {record.note}"
        return line.rstrip()

    def counts(self, records: list[StepRecord]) -> str:
        tally: dict[str, int] = {}
        for record in records:
            tally[record.status] = tally.get(record.status, 0) + 1
        return "  " + ", ".join(f"{n} {status}" for status, n in tally.items())

    def cut(self, line: str, columns: int) -> str:
        # Escapes take no room on screen; counting them only cuts a little early.
        return line if len(line) <= columns else line[: max(columns, 1)] + "\x1b[0m"

    # -- plain lines and the end ---------------------------------------------------

    def plain_line(self, record: StepRecord) -> str:
        elapsed = self.clock() - self.started_at
        parts = [f"[{elapsed:8.2f}s] {record.name}: {record.status}"]
        if record.seconds is not None and record.status != "running":
            parts.append(f" in {record.seconds:.2f}s")
        if record.note:
            parts.append(f" ({record.note})")
        return "".join(parts) + "\n"

    def table(self) -> str:
        header = f"  {'step':<{self.width}}  {'status':<9} {'time':>8}  note\n"
        rows = []
        for record in self.records.values():
            time_text = f"{record.seconds:7.2f}s" if record.seconds else " " * 8
            status = self.paint(f"{record.status:<9}", _COLORS[record.status])
            rows.append(
                f"  {record.name:<{self.width}}  {status} {time_text}  {record.note}"
                .rstrip() + "\n"
            )
        return header + "".join(rows)

    def failure(self, record: StepRecord) -> str:
        where = f" ({record.location})" if record.location else ""
        lines = [f"\n{self.paint(record.name, '1')} failed{where}:\n"]
        if record.detail:
            lines += [f"  {line}\n" for line in record.detail.rstrip().splitlines()]
        if record.log is not None:
            lines.append(f"  log: {_shown(record.log)}\n")
        return "".join(lines)

    def summary(self, result: RunResult) -> str:
        tally: dict[str, int] = {}
        for record in result.steps.values():
            tally[record.status] = tally.get(record.status, 0) + 1
        counts = ", ".join(f"{n} {status}" for status, n in tally.items())
        status = self.paint(result.status, "32" if result.exit_code == 0 else "31")
        return (
            f"\nrun {result.run_id} {status} in {result.seconds:.2f}s ({counts}); "
            f"files in {_shown(result.run_dir)}\n"
        )

    # -- output --------------------------------------------------------------------

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _shown(path: os.PathLike[str]) -> str:
    text = os.fspath(path)
    relative = os.path.relpath(text)
    return relative if not relative.startswith("..") else text
