"""Steps of kinds.yaml: every parameter type and every execution variable."""

from __future__ import annotations


def greet(name: str, count: int, ratio: float, enabled: bool, text: str) -> str:
    """Greet someone a number of times."""
    if not enabled:
        return ""
    return " ".join([f"hello {name}"] * count) + f" ({ratio:.2f}, {text})"


def stamp(
    execution_id: str,
    execution_arn: str,
    started: str,
    now: str,
    pipeline: str,
    pipeline_arn: str,
    greeting: str,
) -> dict[str, str]:
    """Stamp a greeting with where and when it ran."""
    return {
        "id": execution_id,
        "arn": execution_arn,
        "started": started,
        "now": now,
        "pipeline": pipeline,
        "pipeline_arn": pipeline_arn,
        "greeting": greeting,
    }
