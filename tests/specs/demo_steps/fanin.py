"""Steps of fanin.yaml: three producers, a split and one step that takes them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Part:
    """A class of the project, pickled by value with the function that uses it."""

    name: str
    size: int


def load(part: str, rows: int) -> dict[str, Any]:
    """Load one part of the data."""
    chosen = Part(part, rows)
    return {"part": chosen.name, "rows": [f"{part}{i}" for i in range(chosen.size)]}


def split(rows: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Split a part into head and tail."""
    middle = len(rows["rows"]) // 2
    return rows["rows"][:middle], rows["rows"][middle:]


def combine(
    a: dict[str, Any],
    b: list[str],
    head: list[str],
    tail: list[str],
    weights: list[int],
    options: dict[str, str],
) -> dict[str, Any]:
    """Combine every input into one summary."""
    rows = a["rows"] + b + head + tail
    parts = (a["rows"], b, head + tail)
    total = sum(w * len(r) for w, r in zip(weights, parts, strict=True))
    return {"rows": rows, "total": total, "mode": options["mode"]}


def report(total: int, summary: dict[str, Any]) -> str:
    """Report the combined total."""
    return f"{summary['mode']} of {len(summary['rows'])} rows: {total}"
