"""start and status: over HTTP against moto, and step by step with botocore's Stubber.

moto checks: that an execution starts with the parameters sent (as AWS would store
them), which execution is the latest, the execution's own status, and that an
endpoint without ListPipelineExecutionSteps is told once and followed anyway.
moto cannot check the rest: it does not implement ListPipelineExecutionSteps
(HTTP 500) and runs nothing (an execution is "Succeeded" at once). So the per-step
view, a failing or stopped execution, the polling until the end and the exit code
4 are checked with ``Stubber`` answers in the real API's shapes (botocore validates
each stubbed response against the service model).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.builds import BUCKET, write_build
from tests.moto_server import MotoServer, fresh_aws, point_boto_at, serve
from yamlpipe import execution
from yamlpipe._aws import Aws
from yamlpipe.deploy import deploy_build
from yamlpipe.errors import DeployError, RunError, UsageError
from yamlpipe.execution import execution_status, start_execution
from yamlpipe.watch import ExecutionView, render_execution

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/abc123"
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from serve()


@pytest.fixture
def deployed(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Aws:
    """The hand-made ``demo`` build, deployed to a fresh moto."""
    moto.reset()
    point_boto_at(monkeypatch, moto.url)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    aws = fresh_aws()
    deploy_build(write_build(tmp_path), aws=aws)
    return aws


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def masked(text: str) -> str:
    """Output with moto's execution ids and wall-clock times made stable."""
    text = re.sub(r"execution/\w+", "execution/ID", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "TIME", text)
    return re.sub(r"(after|for) \d+s", r"\1 Ns", text)


# -- over HTTP, against moto -----------------------------------------------------


def test_start_sends_each_parameter_typed_by_the_deployed_definition(
    deployed: Aws,
) -> None:
    params = {"epochs": "3", "min_auc": "8e-1", "dry": "TRUE", "raw_uri": "s3://x/y"}

    result = start_execution("demo", params, aws=deployed)

    stored = boto3.client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=result.arn
    )["PipelineParameters"]
    assert stored == [
        {"Name": "epochs", "Value": "3"},
        {"Name": "min_auc", "Value": "0.8"},
        {"Name": "dry", "Value": "True"},
        {"Name": "raw_uri", "Value": "s3://x/y"},
    ]
    assert (result.pipeline, result.status) == ("demo", "Executing")


@pytest.mark.parametrize(("params", "expected"), [
    ({"epoch": "3"},
     "--param epoch: the pipeline has no parameter 'epoch'; did you mean 'epochs'?"),
    ({"seed": "3"},
     "--param seed: the pipeline has no parameter 'seed'; declared: dry, epochs, "
     "min_auc, raw_uri"),
    ({"epochs": "3.5"},
     "--param epochs=3.5: epochs is an Integer parameter; write a number, like "
     "--param epochs=3"),
    ({"min_auc": "high"},
     "--param min_auc=high: min_auc is a Float parameter; write a number, like "
     "--param min_auc=0.5"),
    ({"dry": "yes"},
     "--param dry=yes: dry is a Boolean parameter; write --param dry=true or "
     "--param dry=false"),
])
def test_a_parameter_the_pipeline_would_refuse_is_a_usage_error(
    deployed: Aws, params: dict[str, str], expected: str
) -> None:
    with pytest.raises(UsageError) as caught:
        start_execution("demo", params, aws=deployed)
    assert (caught.value.render(), caught.value.exit_code) == (expected, 2)
    assert boto3.client("sagemaker").list_pipeline_executions(
        PipelineName="demo"
    )["PipelineExecutionSummaries"] == []


def test_starting_a_pipeline_not_deployed_says_to_deploy(deployed: Aws) -> None:
    with pytest.raises(DeployError) as caught:
        start_execution("other", {}, aws=deployed)
    assert caught.value.render() == (
        "pipeline other is not deployed; run yamlpipe deploy SPEC first (and check "
        "the region)"
    )


def test_status_reads_the_latest_execution_and_says_moto_cannot_list_steps(
    deployed: Aws,
) -> None:
    start_execution("demo", {"epochs": "1"}, aws=deployed)
    latest = start_execution("demo", {"epochs": "2"}, aws=deployed)

    result = execution_status("demo", aws=deployed)

    assert (result.arn, result.status, result.steps) == (latest.arn, "Succeeded", None)
    assert masked(render_execution(result)) == """\
pipeline    demo
execution   arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/ID
status      Succeeded after Ns
started     TIME
parameters  epochs=2

steps: this endpoint cannot list execution steps (500); following the execution's \
status only
"""


def test_status_of_a_given_execution(deployed: Aws) -> None:
    first = start_execution("demo", {"epochs": "1"}, aws=deployed)
    start_execution("demo", {"epochs": "2"}, aws=deployed)

    result = execution_status("demo", first.arn, aws=deployed)

    assert (result.arn, dict(result.parameters)) == (first.arn, {"epochs": "1"})


def test_status_without_executions_says_to_start_one(deployed: Aws) -> None:
    with pytest.raises(DeployError) as caught:
        execution_status("demo", aws=deployed)
    assert caught.value.render() == (
        "pipeline demo has no executions; start one with yamlpipe start SPEC"
    )


def test_no_region_anywhere_says_where_to_give_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_boto_at(monkeypatch, "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    with pytest.raises(DeployError) as caught:
        execution_status("demo")

    assert caught.value.render() == (
        "connecting to sagemaker failed: You must specify a region.; pass --region, "
        "or set AWS_DEFAULT_REGION or a profile's region"
    )


def test_start_and_wait_on_moto_follows_the_execution_status(deployed: Aws) -> None:
    out = io.StringIO()

    result = start_execution(
        "demo", {}, aws=deployed, wait=True, progress=ExecutionView(out, live=False)
    )

    assert result.succeeded
    result.raise_for_status()
    assert masked(out.getvalue()) == """\
following arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/ID
note: this endpoint cannot list execution steps (500); following the execution's \
status only
execution: Succeeded after Ns

pipeline    demo
execution   arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo/execution/ID
status      Succeeded after Ns
started     TIME

steps: this endpoint cannot list execution steps (500); following the execution's \
status only
"""


# -- step by step, with Stubber -------------------------------------------------------


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Aws, Stubber]]:
    """A SageMaker client answered only by the stub; no endpoint is reachable."""
    point_boto_at(monkeypatch, "http://127.0.0.1:9")
    aws = fresh_aws()
    with Stubber(aws.sagemaker) as stub:
        yield aws, stub
        stub.assert_no_pending_responses()


def reading(
    stub: Stubber,
    status: str,
    steps: list[dict[str, Any]] | None,
    *,
    reason: str = "",
    modified: float = 0,
) -> None:
    """Queue the answers to one reading of the execution."""
    described = {
        "PipelineExecutionArn": ARN,
        "PipelineExecutionStatus": status,
        "CreationTime": T0,
        "LastModifiedTime": at(modified),
    }
    if reason:
        described["FailureReason"] = reason
    arn = {"PipelineExecutionArn": ARN}
    stub.add_response("describe_pipeline_execution", described, arn)
    stub.add_response(
        "list_pipeline_parameters_for_execution",
        {"PipelineParameters": [{"Name": "epochs", "Value": "3"}]},
        arn,
    )
    if steps is not None:
        stub.add_response(
            "list_pipeline_execution_steps",
            {"PipelineExecutionSteps": steps},
            {**arn, "SortOrder": "Ascending"},
        )


def step(name: str, status: str, start: float, end: float | None = None,
         reason: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"StepName": name, "StepStatus": status,
                             "StartTime": at(start), "AttemptCount": 1}
    if end is not None:
        entry["EndTime"] = at(end)
    if reason:
        entry["FailureReason"] = reason
    return entry


def starting(stub: Stubber) -> None:
    definition = {"Parameters": [{"Name": "epochs", "Type": "Integer",
                                  "DefaultValue": 10}], "Steps": []}
    stub.add_response(
        "describe_pipeline",
        {"PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/demo",
         "PipelineDefinition": json.dumps(definition)},
        {"PipelineName": "demo"},
    )
    stub.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": ARN},
        {"PipelineName": "demo",
         "PipelineParameters": [{"Name": "epochs", "Value": "3"}]},
    )


TRAIN_FAILED = (
    "AlgorithmError: ValueError: train_df has no rows, exit code: 1"
)


def test_start_and_wait_follows_each_step_until_a_failure(
    stubbed: tuple[Aws, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, stub = stubbed
    starting(stub)
    reading(stub, "Executing", [step("prep", "Executing", 0)])
    reading(stub, "Executing", [step("prep", "Succeeded", 0, 65),
                                step("train", "Executing", 66)])
    reading(stub, "Executing", [step("prep", "Succeeded", 0, 65),
                                step("train", "Executing", 66)])
    reading(stub, "Failed", [step("prep", "Succeeded", 0, 65),
                             step("train", "Failed", 66, 3790, TRAIN_FAILED)],
            reason="Step failure: One or multiple steps failed.", modified=3800)
    readings = iter([at(30), at(90), at(200), at(3800)])
    monkeypatch.setattr(execution, "now", lambda: next(readings))
    out = io.StringIO()

    result = start_execution("demo", {"epochs": "3"}, aws=aws, wait=True,
                             progress=ExecutionView(out, live=False), poll_seconds=0)

    assert out.getvalue() == f"""\
following {ARN}
prep: Executing
execution: Executing for 30s
prep: Succeeded in 1m05s
train: Executing
train: Failed in 1h02m ({TRAIN_FAILED})
execution: Failed after 1h03m

pipeline    demo
execution   {ARN}
status      Failed after 1h03m
started     2026-01-02 03:04:05 UTC
reason      Step failure: One or multiple steps failed.
parameters  epochs=3

  step   status       time  note
  prep   Succeeded   1m05s
  train  Failed      1h02m  {TRAIN_FAILED}
"""
    with pytest.raises(RunError) as caught:
        result.raise_for_status()
    assert (caught.value.exit_code, caught.value.render()) == (4, (
        f"execution {ARN} of demo failed: Step failure: One or multiple steps "
        "failed.; yamlpipe status SPEC --execution ARN shows each step"
    ))


def test_a_stopped_execution_ends_the_wait_with_exit_4(
    stubbed: tuple[Aws, Stubber]
) -> None:
    aws, stub = stubbed
    starting(stub)
    reading(stub, "Stopped", [step("prep", "Stopped", 0, 12)], modified=13)

    result = start_execution("demo", {"epochs": "3"}, aws=aws, wait=True)

    with pytest.raises(RunError) as caught:
        result.raise_for_status()
    assert caught.value.message == f"execution {ARN} of demo stopped"


def test_the_live_view_redraws_its_lines_in_place(
    stubbed: tuple[Aws, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, stub = stubbed
    reading(stub, "Executing", [step("prep", "Executing", 0)])
    reading(stub, "Succeeded", [step("prep", "Succeeded", 0, 70),
                                step("train", "Succeeded", 71, 80)], modified=81)
    readings = iter([at(5), at(81)])
    monkeypatch.setattr(execution, "now", lambda: next(readings))
    out = io.StringIO()

    result = execution.follow(aws, "demo", ARN, ExecutionView(out, live=True), 0)

    up, clear, rest = "\x1b[{}F", "\x1b[2K", "\x1b[J"
    assert out.getvalue() == (
        f"following {ARN}\n"
        f"{clear}execution Executing for 5s\n"
        f"{clear}  prep  Executing      5s\n"
        f"{up.format(2)}{clear}execution Succeeded after 1m21s\n"
        f"{clear}  prep   Succeeded   1m10s\n"
        f"{clear}  train  Succeeded      9s\n"
        f"{up.format(3)}{rest}"
        f"\n{render_execution(result)}"
    )


def test_steps_that_cannot_be_listed_are_told_once_and_not_asked_again(
    stubbed: tuple[Aws, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, stub = stubbed
    reading(stub, "Executing", None)
    stub.add_client_error("list_pipeline_execution_steps", "InternalFailure",
                          "Internal error", http_status_code=500)
    reading(stub, "Executing", None)  # no ListPipelineExecutionSteps queued:
    reading(stub, "Succeeded", None, modified=40)  # a call would fail the stub
    readings = iter([at(10), at(20), at(40)])
    monkeypatch.setattr(execution, "now", lambda: next(readings))
    out = io.StringIO()

    result = execution.follow(aws, "demo", ARN, ExecutionView(out, live=False), 0)

    assert result.succeeded and result.steps is None
    assert out.getvalue().splitlines()[:4] == [
        f"following {ARN}",
        "note: this endpoint cannot list execution steps (InternalFailure); "
        "following the execution's status only",
        "execution: Executing for 10s",
        "execution: Succeeded after 40s",
    ]


def test_access_denied_listing_steps_names_the_permission(
    stubbed: tuple[Aws, Stubber]
) -> None:
    aws, stub = stubbed
    reading(stub, "Executing", None)
    stub.add_client_error("list_pipeline_execution_steps", "AccessDeniedException",
                          "denied", http_status_code=400)

    with pytest.raises(DeployError) as caught:
        execution_status("demo", ARN, aws=aws)

    assert caught.value.render() == (
        f"listing the steps of {ARN} failed: ListPipelineExecutionSteps returned "
        "AccessDeniedException (denied); the caller is not allowed "
        "sagemaker:ListPipelineExecutionSteps; grant it in IAM"
    )


def test_status_shows_cached_steps_and_a_step_not_finished(
    stubbed: tuple[Aws, Stubber], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws, stub = stubbed
    cached = step("prep", "Succeeded", 0, 1)
    cached["CacheHitResult"] = {"SourcePipelineExecutionArn": ARN + "0"}
    reading(stub, "Executing", [cached, step("train", "Executing", 2)])
    monkeypatch.setattr(execution, "now", lambda: at(125))

    result = execution_status("demo", ARN, aws=aws)

    assert render_execution(result).split("\n\n")[1] == (
        "  step   status       time  note\n"
        "  prep   Succeeded      1s  cached\n"
        "  train  Executing   2m03s\n"
    )
