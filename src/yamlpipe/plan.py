"""The resolved pipeline: plain data that compile, run and graph consume.

A ``Plan`` knows nothing of YAML. Every value a user wrote is already parsed: inputs
are literals or references, conditions are small expression trees, settings are merged
over ``defaults``, and the steps stand in topological order with a name tie-break.
Each step keeps the file locations of its values so that later stages (the SDK
compile, a local run) can still point at the line that caused a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from yamlpipe.errors import Location

ParamType = Literal["string", "integer", "float", "boolean"]
ExecutionName = Literal[
    "id", "arn", "start_time", "current_time", "pipeline_name", "pipeline_arn"
]
CompareOp = Literal["==", "!=", ">", ">=", "<", "<="]
Branch = Literal["then", "else"]


@dataclass(frozen=True)
class StepRef:
    """The return value of a function step, indexed by ``path`` (``[1]['auc']``)."""

    step: str
    path: tuple[int | str, ...] = ()

    def __str__(self) -> str:
        index = "".join(f"[{k!r}]" for k in self.path)
        return f"${{steps.{self.step}{index}}}"


@dataclass(frozen=True)
class ParamRef:
    """A pipeline parameter."""

    name: str

    def __str__(self) -> str:
        return f"${{params.{self.name}}}"


@dataclass(frozen=True)
class ExecutionRef:
    """A SageMaker execution variable (``ExecutionVariables.PIPELINE_EXECUTION_ID``)."""

    name: ExecutionName

    def __str__(self) -> str:
        return f"${{execution.{self.name}}}"


Ref = Union[StepRef, ParamRef, ExecutionRef]
# A literal is any YAML value without references: None, bool, int, float, str,
# or lists and dicts of them. References stand only at the top level of an input.
Operand = Any


@dataclass(frozen=True)
class Compare:
    op: CompareOp
    left: Operand
    right: Operand


@dataclass(frozen=True)
class In:
    value: Operand
    options: tuple[Operand, ...]
    negated: bool = False


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class Or:
    exprs: tuple[Expr, ...]


Expr = Union[Compare, In, Not, Or]


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParamType
    default: Any
    description: str | None = None


@dataclass(frozen=True)
class Target:
    """Where the pipeline lives on AWS (the spec's ``sagemaker:`` block)."""

    region: str | None = None
    role: str | None = None
    s3_root: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionStep:
    name: str
    module: str
    function: str
    source: Path
    inputs: Mapping[str, Any]
    settings: Mapping[str, Any]
    after: tuple[str, ...]
    location: Location
    where: Mapping[str, Location] = field(default_factory=dict)

    kind: Literal["function"] = "function"

    @property
    def entrypoint(self) -> str:
        return f"{self.module}:{self.function}"


@dataclass(frozen=True)
class ConditionStep:
    name: str
    conditions: tuple[Expr, ...]
    then: tuple[str, ...]
    else_: tuple[str, ...]
    after: tuple[str, ...]
    display_name: str
    description: str
    location: Location
    where: Mapping[str, Location] = field(default_factory=dict)

    kind: Literal["condition"] = "condition"


@dataclass(frozen=True)
class FailStep:
    name: str
    message: tuple[str | Ref, ...]
    after: tuple[str, ...]
    display_name: str
    description: str
    location: Location
    where: Mapping[str, Location] = field(default_factory=dict)

    kind: Literal["fail"] = "fail"


Step = Union[FunctionStep, ConditionStep, FailStep]


@dataclass(frozen=True)
class Plan:
    name: str
    description: str
    target: Target
    parameters: tuple[Parameter, ...]
    steps: Mapping[str, Step]
    upstream: Mapping[str, tuple[str, ...]]
    branch: Mapping[str, tuple[str, Branch]]
    spec_path: Path
    root: Path
    spec_sha256: str
    # Locations of top-level keys ("sagemaker", "sagemaker.role", ...), for errors
    # about the pipeline as a whole.
    where: Mapping[str, Location] = field(default_factory=dict)

    def function_steps(self) -> list[FunctionStep]:
        return [s for s in self.steps.values() if isinstance(s, FunctionStep)]

    def parameter(self, name: str) -> Parameter:
        return next(p for p in self.parameters if p.name == name)
