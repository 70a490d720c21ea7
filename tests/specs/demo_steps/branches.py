"""Steps of branches.yaml: a score, then one of two branches."""

from __future__ import annotations

from typing import Any

LABELS = ("bad", "fair", "good")


def score(seed: int) -> dict[str, Any]:
    """Score something from a seed."""
    value = (seed * 37 % 100) / 100
    return {"value": value, "label": LABELS[min(int(value * 3), 2)]}


def publish(score: dict[str, Any], stage: str) -> str:
    """Publish the score to a stage."""
    return f"{stage}:{score['label']}:{score['value']:.2f}"


def audit(who: str) -> str:
    """Record who ran the pipeline."""
    return f"audited by {who}"


def archive(score: float) -> float:
    """Keep a low score for later."""
    return round(score, 3)
