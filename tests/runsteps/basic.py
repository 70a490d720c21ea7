"""Small, well-behaved steps."""

from __future__ import annotations

import os
import sys


def numbers(start: int = 0) -> list[int]:
    return [start, start + 1, start + 2]


def total(values: list[int], extra: int = 0) -> int:
    print(f"adding {values} and {extra}")
    return sum(values) + extra


def metrics(score: float) -> dict[str, float]:
    return {"auc": score}


def describe(**kwargs: object) -> dict[str, object]:
    return dict(kwargs)


def environment(name: str) -> dict[str, object]:
    return {"value": os.environ.get(name), "cwd": os.getcwd(), "pid": os.getpid()}


def shout(text: str) -> str:
    sys.stderr.write(f"about to shout {text}\n")
    return text.upper()
