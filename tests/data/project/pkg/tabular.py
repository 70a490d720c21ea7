"""A small tabular pipeline: each return annotation gives ``validate`` a shape."""

from __future__ import annotations

from typing import Any, TypedDict


class Metrics(TypedDict):
    auc: float
    accuracy: float


def load(uri: str) -> tuple[list[float], list[float]]:
    """Split the rows at ``uri`` into a train and a test half."""
    rows = [float(i) for i in range(10)]
    return rows[:5], rows[5:]


def train(train_df: list[float], epochs: int = 10, rate: float = 0.1) -> dict[str, Any]:
    """Fit a model."""
    return {"weights": [x * rate for x in train_df], "epochs": epochs}


def evaluate(model: dict[str, Any], test_df: list[float]) -> Metrics:
    """Score the model."""
    return Metrics(auc=0.9, accuracy=0.8)


def report(model: dict[str, Any], *, metrics: Metrics) -> tuple[Metrics, int]:
    """The metrics and the model's size."""
    return metrics, len(model)


def count(values: list[float]) -> int:
    """How many values there are."""
    return len(values)


def mean(values: list[float]) -> float:
    """The mean of the values."""
    return sum(values) / len(values)


def register(model: dict[str, Any], metrics: Metrics, stage: str = "staging") -> None:
    """Record the model."""


def positional(uri: str, /, limit: int = 10) -> list[str]:
    """Takes its first argument by position only."""
    return [uri] * limit


def flexible(first: Any, **options: Any) -> dict[str, Any]:
    """Accepts any keyword."""
    return {"first": first, **options}


def echo(value: Any = None) -> Any:
    """Return what it was given."""
    return value


def ranked(metrics: Metrics) -> tuple[int, Metrics]:
    """The model's rank and its metrics."""
    return 1, metrics
