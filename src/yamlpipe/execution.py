"""Start a deployed pipeline and follow its executions, step by step.

``start_execution`` types each ``--param`` by the parameters the deployed
pipeline declares, starts an execution and, when asked to wait, polls it until it
ends, telling a ``Progress`` what changed. ``execution_status`` reads the latest
(or a given) execution once.

Per-step states come from ``ListPipelineExecutionSteps``. An endpoint that does not
implement it (moto answers HTTP 500) is told once through ``ExecutionResult.note``
and the execution's own status is followed instead.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from yamlpipe._aws import (
    Aws,
    client_error,
    describe_pipeline,
    error_code,
    translated,
)
from yamlpipe.errors import DeployError, RunError, UsageError, hint_for

logger = logging.getLogger(__name__)

# PipelineExecutionStatus in botocore's sagemaker service model.
FINISHED = frozenset({"Succeeded", "Failed", "Stopped", "CompletedWithFailures"})
POLL_SECONDS = 15.0
# What an endpoint without ListPipelineExecutionSteps answers: moto 5.2.5 raises
# NotImplementedError, which its server turns into HTTP 500.
_NO_STEP_LISTING = frozenset({
    "500", "501", "InternalFailure", "NotImplemented", "UnknownOperationException",
    "InvalidAction",
})
ParamType = Literal["String", "Integer", "Float", "Boolean"]


@dataclass(frozen=True)
class StepState:
    """One step of an execution as ``ListPipelineExecutionSteps`` tells it."""

    name: str
    status: str
    started: datetime | None = None
    ended: datetime | None = None
    failure_reason: str = ""
    attempts: int | None = None
    cached: bool = False

    def seconds(self, now: datetime) -> float | None:
        if self.started is None:
            return None
        return ((self.ended or now) - self.started).total_seconds()


@dataclass(frozen=True)
class ExecutionResult:
    """An execution at the moment it was last read."""

    pipeline: str
    arn: str
    status: str
    failure_reason: str = ""
    started: datetime | None = None
    modified: datetime | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    # None when the endpoint could not list the steps; ``note`` says why.
    steps: tuple[StepState, ...] | None = None
    note: str = ""
    read_at: datetime = field(default_factory=lambda: now())

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"

    def raise_for_status(self) -> None:
        """Raise ``RunError`` (exit 4) when the execution ended without success."""
        if not self.finished or self.succeeded:
            return
        reason = f": {self.failure_reason}" if self.failure_reason else ""
        raise RunError(
            f"execution {self.arn} of {self.pipeline} {self.status.lower()}{reason}",
            "yamlpipe status SPEC --execution ARN shows each step",
        )


def now() -> datetime:
    """The time a reading is taken (the view measures running steps from it)."""
    return datetime.now(timezone.utc)


class Progress(Protocol):
    """What a display of a followed execution is told."""

    def started(self, execution: ExecutionResult) -> None: ...

    def changed(self, execution: ExecutionResult) -> None: ...

    def finished(self, execution: ExecutionResult) -> None: ...


def start_execution(
    pipeline_name: str,
    params: Mapping[str, str],
    *,
    region: str | None = None,
    wait: bool = False,
    progress: Progress | None = None,
    poll_seconds: float = POLL_SECONDS,
    aws: Aws | None = None,
) -> ExecutionResult:
    """Start an execution with ``params`` (text from the command line).

    Each value is checked against the type the deployed pipeline declares and sent
    in the form the SDK sends (``Pipeline.start``'s ``format_start_parameters``).
    """
    aws = aws or Aws(region)
    declared = _declared_parameters(aws, pipeline_name)
    parameters = typed_parameters(params, declared)

    with translated(f"starting pipeline {pipeline_name}", "nothing was started"):
        response = aws.sagemaker.start_pipeline_execution(
            PipelineName=pipeline_name,
            PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        )
    arn = response["PipelineExecutionArn"]
    logger.info("started %s", arn)

    if not wait:
        return ExecutionResult(pipeline_name, arn, "Executing", parameters=parameters)
    return follow(aws, pipeline_name, arn, progress, poll_seconds)


def execution_status(
    pipeline_name: str,
    execution_arn: str | None = None,
    *,
    region: str | None = None,
    aws: Aws | None = None,
) -> ExecutionResult:
    """The latest execution of ``pipeline_name``, or ``execution_arn``, by step."""
    aws = aws or Aws(region)
    arn = execution_arn or _latest_execution(aws, pipeline_name)
    return _read(aws, pipeline_name, arn, list_steps=True)


def follow(
    aws: Aws,
    pipeline_name: str,
    arn: str,
    progress: Progress | None = None,
    poll_seconds: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecutionResult:
    """Poll an execution until it finishes, telling ``progress`` each reading.

    Once the endpoint has failed to list steps, it is not asked again.
    """
    current = _read(aws, pipeline_name, arn, list_steps=True)
    if progress:
        progress.started(current)
    while not current.finished:
        sleep(poll_seconds)
        latest = _read(aws, pipeline_name, arn, list_steps=current.steps is not None)
        current = replace(latest, note=latest.note or current.note)
        if progress:
            progress.changed(current)
    if progress:
        progress.finished(current)
    return current


def typed_parameters(
    params: Mapping[str, str], declared: Mapping[str, ParamType] | None
) -> dict[str, str]:
    """``params`` checked against the declared types, as the values AWS is sent.

    With ``declared`` None (a definition yamlpipe could not read) the values go
    as given and SageMaker checks them.
    """
    if declared is None:
        return dict(params)
    typed = {}
    for name, text in params.items():
        if name not in declared:
            fallback = "declared: " + (", ".join(sorted(declared)) or "none")
            raise UsageError(
                f"--param {name}: the pipeline has no parameter '{name}'",
                hint_for(name, declared, fallback),
            )
        typed[name] = _typed_value(name, text, declared[name])
    return typed


def _typed_value(name: str, text: str, kind: ParamType) -> str:
    if kind == "Boolean":
        return _boolean(name, text)
    if kind not in ("Integer", "Float"):
        return text
    convert: Callable[[str], float] = int if kind == "Integer" else float
    try:
        return str(convert(text))
    except ValueError:
        article, example = ("an", "3") if kind == "Integer" else ("a", "0.5")
        raise UsageError(
            f"--param {name}={text}: {name} is {article} {kind} parameter",
            f"write a number, like --param {name}={example}",
        ) from None


def _boolean(name: str, text: str) -> str:
    # The SDK sends str(True): "True" or "False".
    words = {"true": "True", "false": "False"}
    if text.lower() in words:
        return words[text.lower()]
    raise UsageError(
        f"--param {name}={text}: {name} is a Boolean parameter",
        f"write --param {name}=true or --param {name}=false",
    )


# -- reading from AWS ------------------------------------------------------------


def _declared_parameters(aws: Aws, pipeline_name: str) -> dict[str, ParamType] | None:
    text = _describe_pipeline(aws, pipeline_name)["PipelineDefinition"]
    try:
        definition = json.loads(text)
    except ValueError:
        # moto returns a Python repr for a definition created from S3.
        logger.warning("%s: the deployed definition is not JSON", pipeline_name)
        return None
    return {p["Name"]: p["Type"] for p in definition.get("Parameters", [])}


def _describe_pipeline(aws: Aws, pipeline_name: str) -> dict[str, Any]:
    described = describe_pipeline(aws, pipeline_name)
    if described is not None:
        return described
    raise DeployError(
        f"pipeline {pipeline_name} is not deployed",
        "run yamlpipe deploy SPEC first (and check the region)",
    )


def _latest_execution(aws: Aws, pipeline_name: str) -> str:
    _describe_pipeline(aws, pipeline_name)
    with translated(f"listing executions of {pipeline_name}"):
        page = aws.sagemaker.list_pipeline_executions(
            PipelineName=pipeline_name, SortBy="CreationTime", SortOrder="Descending"
        )
    summaries = page.get("PipelineExecutionSummaries", [])
    if not summaries:
        raise DeployError(
            f"pipeline {pipeline_name} has no executions",
            "start one with yamlpipe start SPEC",
        )
    # The newest is first when the endpoint sorts as asked; moto 5.2.5 ignores the
    # order and lists oldest first, so pick it by time.
    newest = max(summaries, key=lambda s: s["StartTime"])
    return str(newest["PipelineExecutionArn"])


def _read(
    aws: Aws, pipeline_name: str, arn: str, *, list_steps: bool
) -> ExecutionResult:
    with translated(f"reading execution {arn}"):
        described = aws.sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        parameters = _parameters(aws, arn)
    steps, note = _steps(aws, arn) if list_steps else (None, "")
    return ExecutionResult(
        pipeline=pipeline_name,
        arn=arn,
        status=described["PipelineExecutionStatus"],
        failure_reason=described.get("FailureReason") or "",
        started=described.get("CreationTime"),
        modified=described.get("LastModifiedTime"),
        parameters=parameters,
        steps=steps,
        note=note,
    )


def _parameters(aws: Aws, arn: str) -> dict[str, str]:
    paginator = aws.sagemaker.get_paginator("list_pipeline_parameters_for_execution")
    return {
        p["Name"]: p["Value"]
        for page in paginator.paginate(PipelineExecutionArn=arn)
        for p in page.get("PipelineParameters", [])
    }


def _steps(aws: Aws, arn: str) -> tuple[tuple[StepState, ...] | None, str]:
    from botocore.exceptions import ClientError

    paginator = aws.sagemaker.get_paginator("list_pipeline_execution_steps")
    try:
        pages = list(
            paginator.paginate(PipelineExecutionArn=arn, SortOrder="Ascending")
        )
    except ClientError as exc:
        code = error_code(exc)
        if code not in _NO_STEP_LISTING:
            raise client_error(exc, f"listing the steps of {arn}") from exc
        logger.debug("ListPipelineExecutionSteps failed: %s", exc)
        note = (
            f"this endpoint cannot list execution steps ({code}); "
            "following the execution's status only"
        )
        return None, note
    entries = [e for page in pages for e in page.get("PipelineExecutionSteps", [])]
    return tuple(_step(e) for e in entries), ""


def _step(entry: Mapping[str, Any]) -> StepState:
    cache = entry.get("CacheHitResult") or {}
    return StepState(
        name=entry["StepName"],
        status=entry.get("StepStatus", "Starting"),
        started=entry.get("StartTime"),
        ended=entry.get("EndTime"),
        failure_reason=entry.get("FailureReason") or "",
        attempts=entry.get("AttemptCount"),
        cached=bool(cache.get("SourcePipelineExecutionArn")),
    )

