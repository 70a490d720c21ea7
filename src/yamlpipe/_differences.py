"""What a local run does differently from the SageMaker job, told up front.

A local run executes each step in this Python environment on this machine. So the
settings that choose the machine, its image and its network have no effect, the
packages of ``dependencies`` are the ones installed here rather than the ones the job
installs, and the job's environment variables exist only inside each step's
worker. Each difference is a warning with the spec line it comes from.
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from yamlpipe import plan as p
from yamlpipe.errors import Location, YamlpipeError

# The settings that pick where a job runs, with what a local run does instead.
_MACHINE = {
    "instance_type": "steps run on this machine's CPUs and memory",
    "use_spot_instances": "there are no spot interruptions locally",
    "image_uri": f"steps run in this Python {sys.version.split()[0]}, not in the image",
    "subnets": "steps have this machine's network, not the VPC's",
    "security_group_ids": "steps have this machine's network, not the VPC's",
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CLAUSE = re.compile(r"\s*(===|==|!=|~=|>=|<=|>|<)\s*([^\s,]+)\s*")
_RELEASE = re.compile(r"\d+(?:\.\d+)*")


class LocalDifference(YamlpipeError):
    """A warning: this part of the spec behaves differently in a local run."""

    kind = "warning"


def local_differences(plan: p.Plan) -> list[LocalDifference]:
    """Every difference, in file order."""
    found = [
        *_machine_settings(plan),
        *_dependencies(plan),
        *_job_environment(plan),
    ]
    return sorted(found, key=_order)


def _order(warning: LocalDifference) -> tuple[str, int, int, str]:
    loc = warning.location
    return (loc.path, loc.line, loc.col, warning.message) if loc else ("", 0, 0, "")


def _machine_settings(plan: p.Plan) -> Iterator[LocalDifference]:
    groups: dict[tuple[str, str, Location], list[str]] = defaultdict(list)
    for step in plan.function_steps():
        for key in _MACHINE:
            value = step.settings.get(key)
            if value in (None, False, []):
                continue
            groups[key, _shown_value(value), _where(step, key)].append(step.name)
    for (key, value, loc), names in groups.items():
        yield LocalDifference(
            f"{key} {value} is not used by a local run ({_listing(names)})",
            _MACHINE[key],
            loc,
        )


def _job_environment(plan: p.Plan) -> Iterator[LocalDifference]:
    for step in plan.function_steps():
        names = [
            name
            for name in step.settings.get("environment_variables") or {}
            if name not in os.environ
        ]
        if names:
            many = len(names) > 1
            are = "variables {} are" if many else "variable {} is"
            yield LocalDifference(
                f"environment {are.format(_listing(names))} set for the job of "
                f"'{step.name}' but not in this shell",
                f"the local run sets {'them' if many else 'it'} inside the step's "
                "worker only",
                _where(step, "environment_variables"),
            )


def _where(step: p.FunctionStep, key: str) -> Location:
    return step.where.get(key, step.location)


def _shown_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true"
    return f"[{_listing(value)}]" if isinstance(value, list) else str(value)


def _listing(values: Any) -> str:
    return ", ".join(str(v) for v in values)


# -- dependencies --------------------------------------------------------------


def _dependencies(plan: p.Plan) -> Iterator[LocalDifference]:
    users: dict[str, list[p.FunctionStep]] = defaultdict(list)
    for step in plan.function_steps():
        if step.settings.get("dependencies"):
            users[step.settings["dependencies"]].append(step)
    for file, steps in users.items():
        yield from _requirements(Path(file), steps)


def _requirements(file: Path, steps: list[p.FunctionStep]) -> Iterator[LocalDifference]:
    names = _listing(s.name for s in steps)
    if file.suffix in (".yml", ".yaml"):
        # A conda environment: the job creates it; this run does not look inside.
        yield LocalDifference(
            f"conda environment {file.name} is not created by a local run ({names})",
            "the steps import what this Python environment has",
            _where(steps[0], "dependencies"),
        )
        return
    try:
        lines = file.read_text().splitlines()
    except OSError as exc:
        yield LocalDifference(
            f"cannot read dependencies {file}: {exc.strerror}",
            "the job would fail to install them too",
            _where(steps[0], "dependencies"),
        )
        return
    for number, line in enumerate(lines, start=1):
        problem = requirement_problem(line)
        if problem:
            yield LocalDifference(
                f"{problem} ({names})",
                f"the job installs what the file asks for; pip install -r "
                f"{_shown(file)} to match",
                Location(_shown(file), number, 1),
            )


def requirement_problem(line: str) -> str | None:
    """Why ``line`` of a requirements file is not met here, or None.

    A deliberately small reading of the format, without ``packaging``: a name,
    optional extras, and version clauses compared on their release numbers. Lines
    it cannot judge (options, URLs, environment markers) are left alone: this only
    warns, and a wrong warning is worse than none.
    """
    text = line.split(" #", 1)[0].strip()
    if not text or text.startswith(("#", "-")) or ";" in text or "://" in text:
        return None
    name = _NAME.match(text)
    if name is None:
        return None
    rest = re.sub(r"^\[[^\]]*\]", "", text[name.end():].strip()).strip()
    if rest.startswith("@"):
        rest = ""
    try:
        installed = metadata.version(name.group())
    except metadata.PackageNotFoundError:
        return f"{text}: {name.group()} is not installed here"
    for clause in rest.split(",") if rest else ():
        found = _CLAUSE.fullmatch(clause)
        if found and not _satisfies(installed, found.group(1), found.group(2)):
            return f"{text}: {name.group()} {installed} is installed here"
    return None


def _satisfies(installed: str, op: str, wanted: str) -> bool:
    """Compare release numbers; anything this cannot read counts as satisfied."""
    if op == "===":
        return installed == wanted
    have, want = _release(installed), _release(wanted.removesuffix(".*"))
    if have is None or want is None:
        return True
    if wanted.endswith(".*"):
        matches = have[: len(want)] == want
        return matches if op == "==" else op != "!=" or not matches
    if op == "~=":
        same_series = have[: len(want) - 1] == want[:-1]
        return same_series and _satisfies(installed, ">=", wanted)
    width = max(len(have), len(want))
    have, want = _pad(have, width), _pad(want, width)
    return {
        "==": have == want,
        "!=": have != want,
        ">=": have >= want,
        "<=": have <= want,
        ">": have > want,
        "<": have < want,
    }[op]


def _release(version: str) -> tuple[int, ...] | None:
    found = _RELEASE.match(version)
    return tuple(int(n) for n in found.group().split(".")) if found else None


def _pad(release: tuple[int, ...], width: int) -> tuple[int, ...]:
    return release + (0,) * (width - len(release))


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
