"""specs/churn.yaml compiled with the SageMaker SDK, then deployed to moto over HTTP.

The one place the deploy tests meet a real compile: ``yamlpipe deploy SPEC``
compiles into a build directory and ships it; the same build deployed again is
unchanged, and ``diff`` finds it equal. moto checks what it can (objects, the
definition stored, the parameters an execution starts with); see test_deploy.py
for what it cannot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from tests.moto_server import MotoServer, point_boto_at, serve
from yamlpipe.cli import main

pytestmark = pytest.mark.sdk

SPEC = "specs/churn.yaml"
NAME = "churn-training"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from serve()


def test_churn_compiles_deploys_and_then_is_unchanged(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch, in_repo: Path, tmp_path: Path
) -> None:
    moto.reset()
    point_boto_at(monkeypatch, moto.url)
    boto3.client("s3").create_bucket(Bucket="my-bucket")
    runner = CliRunner()

    first = runner.invoke(main, ["deploy", SPEC, "-o", str(tmp_path)])
    build = tmp_path / NAME
    again = runner.invoke(main, ["deploy", str(build)])
    diff = runner.invoke(main, ["diff", str(build)])

    manifest = json.loads((build / "manifest.json").read_text())
    count = len(manifest["artifacts"])
    assert (first.exit_code, first.output.splitlines()[-1]) == (
        0, f"{NAME}: created ({count} uploaded, 0 already in S3)",
    )
    s3 = boto3.client("s3")
    for artifact in manifest["artifacts"]:
        bucket, _, key = artifact["s3_uri"].removeprefix("s3://").partition("/")
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["Metadata"] == {"sha256": artifact["sha256"]}
    described = boto3.client("sagemaker").describe_pipeline(PipelineName=NAME)
    definition = json.loads((build / "definition.json").read_text())
    assert json.loads(described["PipelineDefinition"]) == definition
    assert described["RoleArn"] == manifest["pipeline"]["role_arn"]

    assert (again.exit_code, again.output) == (
        0, f"{NAME}: unchanged (the deployed pipeline matches)\n",
    )
    assert (diff.exit_code, diff.output) == (
        0, f"{NAME}: the deployed pipeline matches {build}\n",
    )

    started = runner.invoke(main, ["start", SPEC, "--param", "epochs=3",
                                   "--param", "min_auc=0.8"])
    assert started.exit_code == 0
    stored = boto3.client("sagemaker").list_pipeline_parameters_for_execution(
        PipelineExecutionArn=started.output.strip()
    )["PipelineParameters"]
    assert stored == [
        {"Name": "epochs", "Value": "3"}, {"Name": "min_auc", "Value": "0.8"},
    ]
