"""Show a SageMaker execution: live while ``start --wait`` follows it, then a table.

On a terminal the execution and each started step have a line redrawn in place at
every poll; elsewhere (CI logs, a pipe) each change is one plain line. Both end with
the table ``yamlpipe status`` prints. Written with ANSI escapes, like the local
run's display (``yamlpipe.progress``), and for the same reason: no rich import.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime, timezone
from typing import TextIO

from yamlpipe.execution import ExecutionResult, StepState

_COLORS = {
    "Starting": "2",
    "Executing": "33",
    "Stopping": "33",
    "Succeeded": "32",
    "Failed": "31",
    "Stopped": "31",
    "CompletedWithFailures": "31",
}


def render_execution(execution: ExecutionResult, *, color: bool = False) -> str:
    """The execution, its parameters and a row per started step."""
    now = execution.read_at
    lines = [
        f"pipeline    {execution.pipeline}",
        f"execution   {execution.arn}",
        f"status      {_paint(execution.status, color)}{_took(execution)}",
    ]
    if execution.started is not None:
        lines.append(f"started     {_when(execution.started)}")
    if execution.failure_reason:
        lines.append(f"reason      {execution.failure_reason}")
    if execution.parameters:
        values = ", ".join(f"{k}={v}" for k, v in sorted(execution.parameters.items()))
        lines.append(f"parameters  {values}")
    return "\n".join(lines) + "\n\n" + _step_table(execution, now, color)


def _step_table(execution: ExecutionResult, now: datetime, color: bool) -> str:
    if execution.steps is None:
        return f"steps: {execution.note}\n"
    if not execution.steps:
        return "no step has started\n"
    width = max(len(s.name) for s in execution.steps)
    header = f"  {'step':<{width}}  {'status':<9}  {'time':>6}  note\n"
    rows = [_step_row(s, width, now, color) + "\n" for s in execution.steps]
    return header + "".join(rows)


def _step_row(step: StepState, width: int, now: datetime, color: bool) -> str:
    seconds = step.seconds(now)
    time_text = duration(seconds) if seconds is not None else ""
    note = step.failure_reason or ("cached" if step.cached else "")
    status = _paint(f"{step.status:<9}", color, step.status)
    return f"  {step.name:<{width}}  {status}  {time_text:>6}  {note}".rstrip()


def duration(seconds: float) -> str:
    """``42s``, ``2m05s`` or ``1h02m``: as long as it needs to be, no longer."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _took(execution: ExecutionResult) -> str:
    if execution.started is None:
        return ""
    end = execution.modified if execution.finished else execution.read_at
    if end is None:
        return ""
    word = "after" if execution.finished else "for"
    return f" {word} {duration((end - execution.started).total_seconds())}"


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _paint(text: str, color: bool, status: str | None = None) -> str:
    code = _COLORS.get(status or text.strip())
    return f"\x1b[{code}m{text}\x1b[0m" if color and code else text


class ExecutionView:
    """An ``execution.Progress`` that writes to a stream, live on a terminal."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        live: bool | None = None,
        color: bool | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        tty = self.stream.isatty()
        self.live = tty and os.environ.get("TERM") != "dumb" if live is None else live
        self.color = tty and "NO_COLOR" not in os.environ if color is None else color
        self.seen: dict[str, str] = {}
        self.noted = False
        self.drawn = 0

    def started(self, execution: ExecutionResult) -> None:
        self.write(f"following {execution.arn}\n")
        self.changed(execution)

    def changed(self, execution: ExecutionResult) -> None:
        if execution.note and not self.noted:
            self.noted = True
            self.write(f"note: {execution.note}\n")
        if self.live:
            self.draw(execution)
        else:
            self.write("".join(self.plain_lines(execution)))

    def finished(self, execution: ExecutionResult) -> None:
        self.erase()
        self.write("\n" + render_execution(execution, color=self.color))

    # -- plain lines: one per change ------------------------------------------------

    def plain_lines(self, execution: ExecutionResult) -> list[str]:
        lines = []
        for step in execution.steps or ():
            if self.seen.get(step.name) != step.status:
                self.seen[step.name] = step.status
                lines.append(self.step_line(step, execution.read_at))
        if self.seen.get("") != execution.status:
            self.seen[""] = execution.status
            lines.append(f"execution: {execution.status}{_took(execution)}\n")
        return lines

    def step_line(self, step: StepState, now: datetime) -> str:
        text = f"{step.name}: {step.status}"
        if step.ended is not None and step.started is not None:
            text += f" in {duration(step.seconds(now) or 0)}"
        if step.failure_reason:
            text += f" ({step.failure_reason})"
        return text + "\n"

    # -- live lines: redrawn in place -----------------------------------------------

    def draw(self, execution: ExecutionResult) -> None:
        columns, _ = shutil.get_terminal_size()
        status = _paint(execution.status, self.color)
        lines = [f"execution {status}{_took(execution)}"]
        lines += [
            _step_row(step, self.width(execution), execution.read_at, self.color)
            for step in execution.steps or ()
        ]
        parts = [f"\x1b[{self.drawn}F"] if self.drawn else []
        parts += [f"\x1b[2K{_cut(line, columns - 1)}\n" for line in lines]
        if len(lines) < self.drawn:
            parts.append("\x1b[J")
        self.drawn = len(lines)
        self.write("".join(parts))

    def width(self, execution: ExecutionResult) -> int:
        return max((len(s.name) for s in execution.steps or ()), default=4)

    def erase(self) -> None:
        if self.drawn:
            self.write(f"\x1b[{self.drawn}F\x1b[J")
            self.drawn = 0

    def write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()


def _cut(line: str, columns: int) -> str:
    # Escapes take no room on screen; counting them only cuts a little early.
    return line if len(line) <= columns else line[: max(columns, 1)] + "\x1b[0m"
