"""Compare a build with the deployed pipeline, step by step.

Definitions are compared after ``compile.normalize_definition``, so the SDK's
per-compile values (build timestamp, signing key) are not differences. Code is
compared by content: each staged object of a step against the object at the same
place under the deployed build's timestamp. ``metadata.json`` beside a payload is
skipped: it holds the payload's sha256 and a signature made with a per-compile
key, so it differs on every compile even when the payload does not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from yamlpipe._build import Artifact, Build
from yamlpipe.compile import build_times, normalize_definition

ChangeKind = Literal["added", "removed", "settings", "code"]
_MARKS = {"added": "+", "removed": "-", "settings": "~", "code": "~"}
_SIGNED = "metadata.json"
_SHOWN = 72
# The step keys that nest other steps (a condition's branches).
_BRANCHES = ("IfSteps", "ElseSteps")

# Whether the object at (bucket, key) holds the artifact's bytes.
SameObject = Callable[[Artifact, str, str], bool]


@dataclass(frozen=True)
class Deployed:
    """The pipeline as ``DescribePipeline`` and ``ListTags`` tell it."""

    arn: str
    text: str
    role: str | None
    description: str
    tags: Mapping[str, str]

    @cached_property
    def definition(self) -> dict[str, Any] | None:
        # moto returns a Python repr for a definition created from S3.
        try:
            parsed = json.loads(self.text)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None


@dataclass(frozen=True)
class Change:
    """One difference: a pipeline setting, the parameters, or one step."""

    subject: str
    kind: ChangeKind
    details: tuple[str, ...] = ()

    def render(self) -> str:
        head = f"{_MARKS[self.kind]} {self.subject}"
        if self.kind in ("settings", "code"):
            head = f"{head}: {self.kind} changed"
        return "\n".join([head, *(f"    {line}" for line in self.details)])


def compare(build: Build, deployed: Deployed, same: SameObject) -> list[Change]:
    """Every difference between ``build`` and ``deployed``, in build order."""
    if deployed.definition is None:
        return [Change("pipeline", "settings", (
            "the deployed definition is not JSON; it cannot be compared",
        ))]
    new = normalize_definition(build.definition)
    old = normalize_definition(deployed.definition)
    return [
        *_pipeline_changes(build, deployed, _top(new), _top(old)),
        *_parameter_changes(new, old),
        *_step_changes(build, deployed.definition, _steps(new), _steps(old), same),
    ]


# -- the pipeline and its parameters ---------------------------------------------


def _pipeline_changes(
    build: Build, deployed: Deployed, new: dict[str, Any], old: dict[str, Any]
) -> Iterator[Change]:
    details = [
        *_value_changes("description", deployed.description, build.description),
        *_value_changes("role", deployed.role, build.role),
        *_value_changes("definition", old, new),
    ]
    if details:
        yield Change("pipeline", "settings", tuple(details))
    tags = [
        line
        for name, value in sorted(build.tags.items())
        for line in _value_changes(name, deployed.tags.get(name, _ABSENT), value)
    ]
    if tags:
        yield Change("tags", "settings", tuple(tags))


def _top(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k not in ("Steps", "Parameters")}


def _parameter_changes(
    build: dict[str, Any], deployed: dict[str, Any]
) -> Iterator[Change]:
    new = {p["Name"]: p for p in build.get("Parameters", [])}
    old = {p["Name"]: p for p in deployed.get("Parameters", [])}
    details = [f"+ {_parameter(new[n])}" for n in new if n not in old]
    details += [f"- {_parameter(old[n])}" for n in old if n not in new]
    details += [
        f"~ {name}: {line}"
        for name in new
        if name in old
        for line in _value_changes("", _bare(old[name]), _bare(new[name]))
    ]
    if details:
        yield Change("parameters", "settings", tuple(details))


def _parameter(record: Mapping[str, Any]) -> str:
    default = json.dumps(record.get("DefaultValue"))
    return f"{record['Name']} ({record['Type']}, default {default})"


def _bare(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "Name"}


# -- steps ---------------------------------------------------------------------------


def _step_changes(
    build: Build,
    deployed: dict[str, Any],
    new: dict[str, dict[str, Any]],
    old: dict[str, dict[str, Any]],
    same: SameObject,
) -> Iterator[Change]:
    """Steps added, removed, or changed in their settings or their code.

    ``new`` and ``old`` are the normalised steps; the raw ones give each step's
    build time, which places its deployed objects.
    """
    new_raw, old_raw = _steps(build.definition), _steps(deployed)
    owned = _artifacts_by_step(build)

    for name, step in new.items():
        if name not in old:
            yield Change(f"step {name}", "added")
            continue
        settings = _value_changes("", old[name], step)
        if settings:
            yield Change(f"step {name}", "settings", tuple(settings))
        moved = _step_times(new_raw[name], old_raw[name])
        code = _code_changes(owned.get(name, []), moved, same)
        if code:
            yield Change(f"step {name}", "code", tuple(code))
    for name in old:
        if name not in new:
            yield Change(f"step {name}", "removed")

    shared = _code_changes(owned.get(None, []), {}, same)
    if shared:
        yield Change("shared code", "code", tuple(shared))


def _steps(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step by name, a condition's branches named rather than nested."""
    found: dict[str, dict[str, Any]] = {}

    def visit(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            arguments = step.get("Arguments") or {}
            nested = {k: arguments[k] for k in _BRANCHES if k in arguments}
            if nested:
                branches = {k: [s["Name"] for s in v] for k, v in nested.items()}
                step = {**step, "Arguments": {**arguments, **branches}}
            found[step["Name"]] = step
            for branch in nested.values():
                visit(branch)

    visit(definition.get("Steps", []))
    return found


def _artifacts_by_step(build: Build) -> dict[str | None, list[Artifact]]:
    """The staged objects of each function step; ``None`` holds the shared ones.

    The SDK stages a step's objects under ``<s3_root>/<pipeline>/<step>/<build
    time>/`` (sagemaker/core/remote_function/job.py); the rest, the bootstrap
    scripts, are shared by every step.
    """
    times = set(build_times(build.definition))
    owned: dict[str | None, list[Artifact]] = {}
    for artifact in build.artifacts:
        parts = artifact.key.split("/")
        owner = next(
            (parts[i - 1] for i in range(1, len(parts)) if parts[i] in times), None
        )
        owned.setdefault(owner, []).append(artifact)
    return owned


def _step_times(new: dict[str, Any], old: dict[str, Any]) -> dict[str, str]:
    """The build time of a step in the build, mapped to its deployed one."""
    return dict(zip(build_times(new), build_times(old), strict=False))


def _code_changes(
    artifacts: list[Artifact], moved: Mapping[str, str], same: SameObject
) -> list[str]:
    changed = []
    for artifact in artifacts:
        parts = artifact.key.split("/")
        if parts[-1] == _SIGNED:
            continue
        deployed_key = "/".join(moved.get(part, part) for part in parts)
        if not same(artifact, artifact.bucket, deployed_key):
            changed.append(_relative(parts, moved) or artifact.uri)
    return changed


def _relative(parts: list[str], moved: Mapping[str, str]) -> str:
    """What follows the build time in a step's key: ``function/payload.pkl``."""
    for i, part in enumerate(parts):
        if part in moved:
            return "/".join(parts[i + 1:])
    return ""


# -- values ------------------------------------------------------------------------


def _value_changes(path: str, old: Any, new: Any) -> list[str]:
    """``path: old -> new`` for every leaf that differs, keys sorted."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            line
            for key in sorted(old.keys() | new.keys())
            for line in _value_changes(
                _join(path, key), old.get(key, _ABSENT), new.get(key, _ABSENT)
            )
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            line
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for line in _value_changes(f"{path}[{i}]", a, b)
        ]
    if old == new:
        return []
    return [f"{path or 'value'}: {_shown(old)} -> {_shown(new)}"]


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
