"""Errors a user can cause, each knowing where it happened and its exit code.

    YamlpipeError                 exit 1   base; a message, a hint, a location
    ├── SpecError                 exit 1   the spec is wrong (load, resolve, check)
    ├── UsageError                exit 2   the command line is wrong
    ├── CompileError              exit 3   the SDK refused or could not build it
    ├── RunError                  exit 4   a step failed or a fail step was hit,
    │                                      locally or in a SageMaker execution
    └── DeployError               exit 5   AWS refused or failed a call

    ErrorGroup                    several errors reported at once (exit of the worst)

Every error renders as ``path:line:col: what is wrong; what to do``. The CLI decides
between text, JSON and GitHub annotations; the library only raises.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column in a file."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class YamlpipeError(Exception):
    """Base of every error a user can cause."""

    exit_code = 1
    kind = "error"

    def __init__(
        self, message: str, hint: str = "", location: Location | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def render(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text}; {self.hint}"
        if self.location is None:
            return text
        return f"{self.location}: {text}"

    def __str__(self) -> str:
        return self.render()

    def as_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "path": loc.path if loc else None,
            "line": loc.line if loc else None,
            "col": loc.col if loc else None,
            "message": self.message,
            "hint": self.hint,
            "kind": type(self).__name__,
        }


class SpecError(YamlpipeError):
    """The spec file is wrong."""


class UsageError(YamlpipeError):
    """The command line is wrong."""

    exit_code = 2


class CompileError(YamlpipeError):
    """The SageMaker SDK could not build the pipeline from a valid spec."""

    exit_code = 3


class RunError(YamlpipeError):
    """A run failed: a step raised or a fail step was reached, on this machine or
    in a SageMaker execution that failed or was stopped."""

    exit_code = 4


class DeployError(YamlpipeError):
    """An AWS call failed while deploying or starting a pipeline."""

    exit_code = 5


class ErrorGroup(YamlpipeError):
    """Several errors found in one pass, reported together."""

    def __init__(self, errors: Sequence[YamlpipeError]) -> None:
        ordered = sorted(errors, key=_error_order)
        super().__init__(f"{len(ordered)} problem(s)")
        self.errors: list[YamlpipeError] = ordered
        self.exit_code = max((e.exit_code for e in ordered), default=1)

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


def _error_order(error: YamlpipeError) -> tuple[str, int, int, str]:
    loc = error.location
    if loc is None:
        return ("", 0, 0, error.message)
    return (loc.path, loc.line, loc.col, error.message)


def flatten(errors: Iterable[YamlpipeError]) -> list[YamlpipeError]:
    """Unpack nested groups into one flat list."""
    flat: list[YamlpipeError] = []
    for error in errors:
        if isinstance(error, ErrorGroup):
            flat.extend(flatten(error.errors))
        else:
            flat.append(error)
    return flat


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``did you mean 'x'?`` hint, or an empty string when nothing is close.

    A unique choice that starts with the word wins (``acc`` -> ``accuracy``), then
    the closest by difflib's ratio, ties broken alphabetically so the hint is
    stable.
    """
    options = sorted(set(choices) - {word})
    prefixed = [c for c in options if word and c.startswith(word)]
    if len(prefixed) == 1:
        return f"did you mean '{prefixed[0]}'?"
    scored = [
        (difflib.SequenceMatcher(None, word, c).ratio(), c) for c in options
    ]
    close = [c for score, c in sorted(scored, key=lambda x: (-x[0], x[1]))
             if score >= 0.6]
    return f"did you mean '{close[0]}'?" if close else ""


def hint_for(word: str, choices: Iterable[str], fallback: str) -> str:
    """The did-you-mean hint when there is one, else ``fallback``."""
    return did_you_mean(word, choices) or fallback
