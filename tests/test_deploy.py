"""deploy and diff over HTTP against a moto server on 127.0.0.1.

moto checks: the S3 objects and their metadata, that the pipeline exists with the
definition, role, description and tags sent, create versus update, and what is
called or not. moto does not check: the definition itself (it accepts anything,
even text that is not JSON), role trust, name rules, or IAM (it allows every
call); the errors AWS would give are injected (``Faults``, ``Stubber``).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.builds import BUCKET, LATER, ROLE, Shape, artifact_keys, write_build
from tests.moto_server import (
    Faults,
    MotoServer,
    fresh_aws,
    point_boto_at,
    record_calls,
    serve,
)
from yamlpipe._aws import Aws
from yamlpipe._build import read_build
from yamlpipe._compare import Deployed, compare
from yamlpipe.deploy import deploy_build, diff_deployed
from yamlpipe.errors import DeployError, UsageError


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from serve()


@pytest.fixture
def env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    moto.reset()
    point_boto_at(monkeypatch, moto.url)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return moto


@pytest.fixture
def aws(env: MotoServer) -> Aws:
    return fresh_aws()


def calls_of(aws: Aws) -> list[str]:
    """Every call either client makes from now on, S3 ones prefixed ``s3:``."""
    calls = record_calls(aws.sagemaker)
    return record_calls(aws.s3, calls, prefix="s3:")


def described(name: str = "demo") -> dict[str, Any]:
    client = boto3.client("sagemaker")
    pipeline: dict[str, Any] = client.describe_pipeline(PipelineName=name)
    return pipeline


# -- deploy ------------------------------------------------------------------------


def test_deploy_uploads_every_artifact_and_creates_the_pipeline(
    tmp_path: Path, aws: Aws
) -> None:
    build = write_build(tmp_path, Shape(tags={"team": "ml"}))

    result = deploy_build(build, aws=aws)

    assert (result.action, len(result.uploaded), result.skipped) == ("created", 13, ())
    s3 = boto3.client("s3")
    for key in artifact_keys():
        head = s3.head_object(Bucket=BUCKET, Key=key)
        local = (build / "artifacts" / BUCKET / key).read_bytes()
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body == local
        assert head["Metadata"]["sha256"] == _manifest_sha(build, key)
    pipeline = described()
    definition = json.loads((build / "definition.json").read_text())
    assert json.loads(pipeline["PipelineDefinition"]) == definition
    assert (pipeline["RoleArn"], pipeline["PipelineDescription"]) == (
        ROLE, "A demo pipeline",
    )
    tags = boto3.client("sagemaker").list_tags(ResourceArn=result.arn)["Tags"]
    assert tags == [{"Key": "team", "Value": "ml"}]
    last = result.summary().splitlines()[-1]
    assert last == "demo: created (13 uploaded, 0 already in S3)"


def test_second_deploy_of_the_same_build_uploads_and_updates_nothing(
    tmp_path: Path, aws: Aws
) -> None:
    build = write_build(tmp_path, Shape(tags={"team": "ml"}))
    deploy_build(build, aws=aws)
    before = described()["LastModifiedTime"]
    calls = calls_of(aws)

    result = deploy_build(build, aws=aws)

    assert result.action == "unchanged"
    assert result.summary() == "demo: unchanged (the deployed pipeline matches)"
    assert {c for c in calls if not c.startswith("s3:HeadObject")} == {
        "DescribePipeline", "ListTags",
    }
    assert described()["LastModifiedTime"] == before


def test_a_recompile_of_the_same_code_is_unchanged(tmp_path: Path, aws: Aws) -> None:
    # A new build time and signing key, so new keys and new metadata.json files:
    # the same pipeline, nothing to upload.
    deploy_build(write_build(tmp_path / "a"), aws=aws)
    again = write_build(tmp_path / "b", Shape(time=LATER, key="KEY-2"))
    calls = calls_of(aws)

    result = deploy_build(again, aws=aws)

    assert (result.action, result.uploaded) == ("unchanged", ())
    assert "s3:PutObject" not in calls and "UpdatePipeline" not in calls
    assert diff_deployed(again, aws=aws).equal


def test_a_changed_setting_updates_the_pipeline(tmp_path: Path, aws: Aws) -> None:
    deploy_build(write_build(tmp_path / "a"), aws=aws)
    changed = Shape(time=LATER, key="KEY-2", instance_type="ml.m5.2xlarge")
    build = write_build(tmp_path / "b", changed)
    calls = calls_of(aws)

    result = deploy_build(build, aws=aws)

    assert result.action == "updated"
    assert result.calls == ("UpdatePipeline demo",)
    assert "UpdatePipeline" in calls and "CreatePipeline" not in calls
    # The new build time makes every step's keys new; the bootstrap script is shared.
    assert result.summary() == """\
~ step prep: settings changed
    Arguments.ResourceConfig.InstanceType: "ml.m5.large" -> "ml.m5.2xlarge"
~ step train: settings changed
    Arguments.ResourceConfig.InstanceType: "ml.m5.large" -> "ml.m5.2xlarge"
~ step register: settings changed
    Arguments.ResourceConfig.InstanceType: "ml.m5.large" -> "ml.m5.2xlarge"
demo: updated (12 uploaded, 1 already in S3)"""
    deployed = json.loads(described()["PipelineDefinition"])
    assert deployed == json.loads((build / "definition.json").read_text())


def test_changed_code_alone_updates_the_pipeline(tmp_path: Path, aws: Aws) -> None:
    deploy_build(write_build(tmp_path / "a"), aws=aws)
    changed = Shape(time=LATER, key="KEY-2", code={"train": b"better training"})

    result = deploy_build(write_build(tmp_path / "b", changed), aws=aws)

    assert result.action == "updated"
    assert [c.render() for c in result.changes] == [
        "~ step train: code changed\n"
        "    arguments/payload.pkl\n"
        "    function/payload.pkl",
    ]


def test_a_cleared_description_is_sent_empty(tmp_path: Path, aws: Aws) -> None:
    deploy_build(write_build(tmp_path / "a"), aws=aws)
    sent: list[dict[str, Any]] = []
    aws.sagemaker.meta.events.register(
        "provide-client-params.sagemaker.UpdatePipeline",
        lambda params, **_: sent.append(dict(params)),
    )

    result = deploy_build(write_build(tmp_path / "b", Shape(description="")), aws=aws)

    assert result.calls == ("UpdatePipeline demo",)
    # AWS takes an empty description (min length 0); moto ignores it and keeps
    # the old one, so whether it is cleared cannot be checked here.
    assert sent[0]["PipelineDescription"] == ""


def test_only_new_tags_are_added_without_an_update(tmp_path: Path, aws: Aws) -> None:
    deploy_build(write_build(tmp_path / "a", Shape(tags={"team": "ml"})), aws=aws)
    build = write_build(tmp_path / "b", Shape(tags={"team": "ml", "cost": "42"}))
    calls = calls_of(aws)

    result = deploy_build(build, aws=aws)

    assert (result.action, result.calls) == ("updated", ("AddTags demo cost",))
    assert "UpdatePipeline" not in calls
    tags = boto3.client("sagemaker").list_tags(ResourceArn=result.arn)["Tags"]
    assert sorted(t["Key"] for t in tags) == ["cost", "team"]


def test_dry_run_says_what_it_would_do_and_does_nothing(
    tmp_path: Path, aws: Aws
) -> None:
    build = write_build(tmp_path)
    calls = calls_of(aws)

    result = deploy_build(build, aws=aws, dry_run=True)

    lines = result.summary().splitlines()
    assert lines[0] == f"would upload s3://{BUCKET}/{artifact_keys()[0]}"
    assert lines[-2:] == [
        "would call CreatePipeline demo",
        "demo: would create (13 uploaded, 0 already in S3)",
    ]
    assert set(calls) == {"s3:HeadObject", "DescribePipeline"}
    assert boto3.client("sagemaker").list_pipelines()["PipelineSummaries"] == []


def test_a_definition_past_the_inline_limit_goes_through_s3(
    tmp_path: Path, aws: Aws
) -> None:
    build = write_build(tmp_path, Shape(padding=1_100_000))

    result = deploy_build(build, aws=aws)

    uri = f"s3://{BUCKET}/pipelines/demo/definition.json"
    assert result.action == "created" and uri in result.uploaded
    key = "pipelines/demo/definition.json"
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    sent = json.loads(body)
    assert sent == json.loads((build / "definition.json").read_text())
    # moto then describes the pipeline with a Python repr, not JSON, so whether a
    # second deploy is "unchanged" cannot be checked here: it updates instead.
    assert not described()["PipelineDefinition"].startswith('{"')


def test_a_directory_without_a_manifest_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        deploy_build(tmp_path)
    assert caught.value.render() == (
        f"{tmp_path} is not a yamlpipe build: it has no manifest.json; give a spec, "
        "or a directory that yamlpipe compile wrote (build/<pipeline>/)"
    )


def test_an_artifact_changed_after_compile_is_refused(tmp_path: Path) -> None:
    build = write_build(tmp_path)
    key = artifact_keys()[0]
    (build / "artifacts" / BUCKET / key).write_bytes(b"tampered")

    with pytest.raises(DeployError) as caught:
        deploy_build(build)

    assert caught.value.render() == (
        f"{build}: artifacts/{BUCKET}/{key} changed after compile; compile again "
        "(yamlpipe compile SPEC) and deploy the new build"
    )


def test_a_region_other_than_the_builds_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        deploy_build(write_build(tmp_path), region="eu-west-1")
    assert caught.value.render() == (
        "--region eu-west-1: demo was compiled for us-east-1; change "
        "sagemaker.region in the spec and compile again"
    )


# -- faults ------------------------------------------------------------------------


def test_uploads_cut_off_halfway_create_nothing_and_the_next_deploy_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = MotoServer()
    server.start()
    try:
        server.reset()  # moto's state is per process, shared with the other server
        point_boto_at(monkeypatch, server.url)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        build = write_build(tmp_path)
        aws = fresh_aws()
        _stop_after_three_uploads(aws, server)

        with pytest.raises(DeployError) as caught:
            deploy_build(build, aws=aws)

        error = caught.value
        assert error.exit_code == 5
        assert error.message.startswith(f"uploading s3://{BUCKET}/pipelines/demo/")
        assert "failed: Could not connect to the endpoint URL" in error.message
        assert error.hint == (
            "check the network, the region and AWS_ENDPOINT_URL; 3 of 13 objects "
            "were uploaded and nothing was created or updated; deploy again to finish"
        )

        server.start()  # the same port and, in this process, the same state
        assert boto3.client("sagemaker").list_pipelines()["PipelineSummaries"] == []
        result = deploy_build(build, aws=fresh_aws())
        assert (result.action, len(result.skipped), len(result.uploaded)) == (
            "created", 3, 10,
        )
    finally:
        server.stop()


def _stop_after_three_uploads(aws: Aws, server: MotoServer) -> None:
    """Let three uploads finish, then stop the server before the fourth is sent.

    Uploads run on several threads: the fourth waits for the first three to land,
    stops the server and goes on to a refused connection; later ones wait for the
    stop. So exactly three objects land, whatever the thread timing. Every S3
    request asks for its connection to be closed after it: a stopped server
    refuses new connections, but one kept alive would still be served.
    """
    lock = threading.Lock()
    counts = {"sent": 0, "landed": 0}
    three_landed, stopped = threading.Event(), threading.Event()

    def close_after(request: Any, **_: Any) -> None:
        request.headers["Connection"] = "close"

    def before_send(**_: Any) -> None:
        with lock:
            counts["sent"] += 1
            mine = counts["sent"]
        if mine == 4:
            three_landed.wait(10)
            server.stop()
            stopped.set()
        elif mine > 4:
            stopped.wait(10)

    def after_call(**_: Any) -> None:
        with lock:
            counts["landed"] += 1
            if counts["landed"] == 3:
                three_landed.set()

    aws.s3.meta.events.register("before-send.s3", close_after)
    aws.s3.meta.events.register("before-send.s3.PutObject", before_send)
    aws.s3.meta.events.register("after-call.s3.PutObject", after_call)


def test_a_failed_update_names_the_pipeline_and_code_and_keeps_the_old_version(
    tmp_path: Path, aws: Aws
) -> None:
    deploy_build(write_build(tmp_path / "a"), aws=aws)
    before = described()["PipelineDefinition"]
    shape = Shape(time=LATER, instance_type="ml.c5.xlarge")
    changed = write_build(tmp_path / "b", shape)
    Faults(aws.sagemaker, "UpdatePipeline").fail(
        400, "ValidationException", "Step train: InstanceType is not supported"
    )

    with pytest.raises(DeployError) as caught:
        deploy_build(changed, aws=aws)

    assert caught.value.exit_code == 5
    assert caught.value.render() == (
        "updating pipeline demo failed: UpdatePipeline returned ValidationException "
        "(Step train: InstanceType is not supported); the deployed version was left "
        "as it was"
    )
    assert described()["PipelineDefinition"] == before


def test_a_failed_create_is_reported_with_its_code(tmp_path: Path, aws: Aws) -> None:
    # Stubber answers SageMaker from botocore's own response shapes; S3 stays moto.
    build = write_build(tmp_path)
    with Stubber(aws.sagemaker) as stub:
        stub.add_client_error(
            "describe_pipeline", "ResourceNotFound", "Pipeline demo does not exist"
        )
        stub.add_client_error(
            "create_pipeline", "ValidationException", "Invalid pipeline definition",
            http_status_code=400,
        )
        with pytest.raises(DeployError) as caught:
            deploy_build(build, aws=aws)
        stub.assert_no_pending_responses()

    assert caught.value.render() == (
        "creating pipeline demo failed: CreatePipeline returned ValidationException "
        "(Invalid pipeline definition); nothing was created"
    )


def test_access_denied_is_not_retried_and_names_the_missing_permission(
    tmp_path: Path, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    aws = fresh_aws()
    message = (
        "User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to "
        "perform: iam:PassRole on resource: " + ROLE
    )
    faults = Faults(aws.sagemaker, "CreatePipeline").fail(
        400, "AccessDeniedException", message, times=3
    )

    with pytest.raises(DeployError) as caught:
        deploy_build(write_build(tmp_path), aws=aws)

    assert faults.attempts == 1
    assert caught.value.hint == (
        "the caller is not allowed iam:PassRole; grant it in IAM; nothing was created"
    )


def test_access_denied_without_an_action_in_the_message_names_the_call(
    tmp_path: Path, aws: Aws
) -> None:
    Faults(aws.sagemaker, "CreatePipeline").fail(400, "AccessDeniedException", "denied")

    with pytest.raises(DeployError) as caught:
        deploy_build(write_build(tmp_path), aws=aws)

    assert "not allowed sagemaker:CreatePipeline" in caught.value.hint


def test_throttling_is_retried_with_backoff_until_it_passes(
    tmp_path: Path, env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.endpoint

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", delays.append)
    aws = fresh_aws()
    faults = Faults(aws.sagemaker, "CreatePipeline").fail(
        400, "ThrottlingException", "Rate exceeded", times=2
    )

    result = deploy_build(write_build(tmp_path), aws=aws)

    assert result.action == "created"
    assert faults.attempts == 3 and len(delays) == 2
    assert described()["PipelineName"] == "demo"


def test_throttling_that_outlasts_the_retries_fails_and_says_so(
    tmp_path: Path, env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.endpoint

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda seconds: None)
    aws = fresh_aws()
    Faults(aws.sagemaker, "CreatePipeline").fail(
        400, "ThrottlingException", "Rate exceeded", times=3
    )

    with pytest.raises(DeployError) as caught:
        deploy_build(write_build(tmp_path), aws=aws)

    assert caught.value.render() == (
        "creating pipeline demo failed: CreatePipeline returned ThrottlingException "
        "(Rate exceeded); AWS was still throttling after 3 attempts; retry later; "
        "nothing was created"
    )


def test_a_missing_bucket_says_to_create_it(tmp_path: Path, aws: Aws) -> None:
    boto3.client("s3").delete_bucket(Bucket=BUCKET)

    with pytest.raises(DeployError) as caught:
        deploy_build(write_build(tmp_path), aws=aws)

    assert "PutObject returned NoSuchBucket" in caught.value.message
    assert caught.value.hint.startswith(
        "the bucket does not exist; create it or change sagemaker.s3_root"
    )


# -- diff --------------------------------------------------------------------------


def test_diff_of_a_pipeline_not_deployed(tmp_path: Path, aws: Aws) -> None:
    result = diff_deployed(write_build(tmp_path), aws=aws)
    assert (result.equal, result.text) == (
        False, "demo: not deployed; the whole build is new\n",
    )


def test_diff_is_equal_right_after_a_deploy(tmp_path: Path, aws: Aws) -> None:
    build = write_build(tmp_path)
    deploy_build(build, aws=aws)

    result = diff_deployed(build, aws=aws)

    assert result.equal
    assert result.text == f"demo: the deployed pipeline matches {build}\n"


def test_diff_tells_each_changed_step(tmp_path: Path, aws: Aws) -> None:
    deploy_build(write_build(tmp_path / "a"), aws=aws)
    changed = Shape(
        time=LATER, key="KEY-2", instance_type="ml.m5.xlarge",
        code={"prep": b"new prep"}, description="Better", tags={"team": "ml"},
    )
    build = write_build(tmp_path / "b", changed)

    result = diff_deployed(build, aws=aws)

    assert not result.equal
    assert result.text == f"""\
demo: the deployed pipeline differs from {build}
~ pipeline: settings changed
    description: "A demo pipeline" -> "Better"
~ tags: settings changed
    team: (absent) -> "ml"
~ step prep: settings changed
    Arguments.ResourceConfig.InstanceType: "ml.m5.large" -> "ml.m5.xlarge"
~ step prep: code changed
    arguments/payload.pkl
    function/payload.pkl
~ step train: settings changed
    Arguments.ResourceConfig.InstanceType: "ml.m5.large" -> "ml.m5.xlarge"
~ step register: settings changed
    Arguments.ResourceConfig.InstanceType: "ml.m5.large" -> "ml.m5.xlarge"
"""


def test_diff_tells_parameters_branches_and_steps_added_or_removed(
    tmp_path: Path,
) -> None:
    build = read_build(write_build(tmp_path))
    old = copy.deepcopy(build.definition)
    old["Parameters"] = [
        {**p, "DefaultValue": 5} if p["Name"] == "epochs" else p
        for p in old["Parameters"] if p["Name"] != "dry"
    ] + [{"Name": "seed", "Type": "Integer", "DefaultValue": 1}]
    gate = old["Steps"][2]["Arguments"]
    gate["IfSteps"], gate["ElseSteps"] = gate["ElseSteps"], []
    old["Steps"].append({"Name": "legacy", "Type": "Fail", "Arguments": {}})
    deployed = Deployed("arn", json.dumps(old), ROLE, "A demo pipeline", {})

    changes = compare(build, deployed, lambda artifact, bucket, key: True)

    assert "\n".join(c.render() for c in changes) == """\
~ parameters: settings changed
    + dry (Boolean, default false)
    - seed (Integer, default 1)
    ~ epochs: DefaultValue: 5 -> 10
~ step gate: settings changed
    Arguments.ElseSteps: [] -> ["too-low"]
    Arguments.IfSteps[0]: "too-low" -> "register"
+ step register
- step legacy"""


def _manifest_sha(build: Path, key: str) -> str:
    manifest = json.loads((build / "manifest.json").read_text())
    uri = f"s3://{BUCKET}/{key}"
    return str(next(a["sha256"] for a in manifest["artifacts"] if a["s3_uri"] == uri))
