"""The values a local run gives to parameters, execution variables and references.

They follow what the SageMaker job does, so that a spec means the same thing in both
places. Parameters arrive typed by their declaration (``_ParameterResolver`` in the
SDK's ``remote_function/core/pipeline_variables.py``: integers by ``int()``, booleans
by ``== "true"``); execution variables are strings; a condition or fail step reads a
function step's result from the JSON the job writes for it (``{"Result": ...}``,
``json_serialize_obj_to_s3``), so a result that is not JSON fails there as here.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from yamlpipe import plan as p
from yamlpipe.errors import UsageError, hint_for

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEAN = {"true": True, "false": False}
_KIND = {
    "string": "a string",
    "integer": "an integer",
    "float": "a number",
    "boolean": "true or false",
}
# The account in ARNs of a local run when the spec's role names none.
_LOCAL_ACCOUNT = "000000000000"


class ValueProblem(Exception):
    """A reference or condition that cannot be evaluated; the step fails with it."""


# -- parameters ---------------------------------------------------------------


def parse_params(plan: p.Plan, given: Mapping[str, object]) -> dict[str, Any]:
    """Every parameter's value: its default, overridden by ``given``.

    A string is parsed by the declared type (``--param epochs=3``); any other value
    must already have that type (``params={"epochs": 3}`` from Python).
    """
    declared = {param.name: param for param in plan.parameters}
    for name in given:
        if name not in declared:
            listing = ", ".join(sorted(declared)) or "no parameters"
            raise UsageError(
                f"unknown parameter '{name}'",
                hint_for(name, declared, f"the pipeline takes {listing}"),
            )
    values = {}
    for name, param in declared.items():
        if name in given:
            values[name] = _typed(param, given[name])
        elif param.default is None:
            raise UsageError(
                f"parameter '{name}' has no default",
                f"give it a value: --param {name}=VALUE",
            )
        else:
            values[name] = param.default
    return values


def _typed(param: p.Parameter, raw: object) -> Any:
    value = _parse(param.type, raw) if isinstance(raw, str) else _check(param.type, raw)
    if value is None:
        raise UsageError(
            f"parameter '{param.name}' is {_KIND[param.type]}, not {raw!r}",
            f"pass --param {param.name}=VALUE with {_KIND[param.type]}",
        )
    return value


def _parse(kind: p.ParamType, raw: str) -> Any:
    if kind == "string":
        return raw
    if kind == "integer":
        return int(raw) if _INTEGER.fullmatch(raw.strip()) else None
    if kind == "boolean":
        return _BOOLEAN.get(raw.strip().lower())
    try:
        return float(raw)
    except ValueError:
        return None


def _check(kind: p.ParamType, raw: object) -> Any:
    if kind == "boolean":
        return raw if isinstance(raw, bool) else None
    if isinstance(raw, bool):
        return None
    if kind == "integer":
        return raw if isinstance(raw, int) else None
    if kind == "float":
        return float(raw) if isinstance(raw, (int, float)) else None
    return raw if isinstance(raw, str) else None


# -- execution variables ------------------------------------------------------


def execution_values(plan: p.Plan, run_id: str, started: datetime) -> dict[str, str]:
    """Local stand-ins for ``ExecutionVariables``: the run id in place of the
    execution id, ARNs in the spec's region and account, ISO 8601 UTC times."""
    region = plan.target.region or "local"
    account = _account(plan.target.role)
    # SageMaker lowercases the pipeline name in its ARNs.
    pipeline_arn = f"arn:aws:sagemaker:{region}:{account}:pipeline/{plan.name.lower()}"
    return {
        "id": run_id,
        "arn": f"{pipeline_arn}/execution/{run_id}",
        "start_time": timestamp(started),
        "pipeline_name": plan.name,
        "pipeline_arn": pipeline_arn,
    }


def timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _account(role: str | None) -> str:
    found = re.match(r"arn:aws[\w-]*:iam::(\d{12}):", role or "")
    return found.group(1) if found else _LOCAL_ACCOUNT


# -- references, conditions and messages --------------------------------------


class Values:
    """Evaluates operands: literals, parameters, execution variables, results."""

    def __init__(
        self,
        params: Mapping[str, Any],
        execution: Mapping[str, str],
        now: Callable[[], str],
        result_json: Callable[[str], Any],
    ) -> None:
        self.params = params
        self.execution = execution
        self.now = now
        self.result_json = result_json

    def get(self, operand: Any) -> Any:
        if isinstance(operand, p.ParamRef):
            return self.params[operand.name]
        if isinstance(operand, p.ExecutionRef):
            if operand.name == "current_time":
                return self.now()
            return self.execution[operand.name]
        if isinstance(operand, p.StepRef):
            return self.step_value(operand)
        return operand

    def step_value(self, ref: p.StepRef) -> Any:
        document = self.result_json(ref.step)
        if document is None:
            raise ValueProblem(f"{ref} has no JSON result to read")
        if document.get("Exception"):
            raise ValueProblem(
                f"{ref}: step '{ref.step}' returned a value that is not JSON; "
                "SageMaker's condition and fail steps read results as JSON"
            )
        value = document["Result"]
        for key in ref.path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                raise ValueProblem(
                    f"{ref}: no [{key!r}] in {_short(value)}"
                ) from None
        return value

    def holds(self, expr: p.Expr) -> bool:
        if isinstance(expr, p.Not):
            return not self.holds(expr.expr)
        if isinstance(expr, p.Or):
            return any(self.holds(e) for e in expr.exprs)
        if isinstance(expr, p.In):
            found = self.get(expr.value) in [self.get(o) for o in expr.options]
            return found != expr.negated
        left, right = self.get(expr.left), self.get(expr.right)
        try:
            return bool(_COMPARE[expr.op](left, right))
        except TypeError:
            raise ValueProblem(
                f"cannot compare {_short(left)} {expr.op} {_short(right)}"
            ) from None

    def render(self, parts: tuple[str | p.Ref, ...]) -> str:
        """A fail message: literal text and the values of references, joined."""
        return "".join(
            part if isinstance(part, str) else _text(self.get(part)) for part in parts
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- cache keys ---------------------------------------------------------------


def step_key(
    step: p.FunctionStep,
    source_digest: str,
    arguments: Mapping[str, Any],
    refs: Mapping[str, tuple[str, tuple[int | str, ...]]],
) -> str:
    """The cache key of a function step: what it runs, on what, and how.

    A step result enters by the key of the step that produced it (and the index
    into it), not by its bytes: the key of a chain is known before anything runs,
    and a result is never unpickled in the parent.
    """
    document = {
        "python": list(sys.version_info[:2]),
        "entrypoint": step.entrypoint,
        "source": source_digest,
        "settings": step.settings,
        "arguments": arguments,
        "refs": {name: [key, list(path)] for name, (key, path) in refs.items()},
    }
    text = json.dumps(document, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()
