"""The deploy, diff, start and status commands, end to end over HTTP against moto.

A hand-made build named like specs/churn.yaml's pipeline stands in for a compiled
one here (``test_deploy_sdk`` compiles the real spec); start and status read the
pipeline's name and region from the spec. What moto cannot check is said in
test_deploy.py and test_execution.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner, Result

from tests.builds import BUCKET, LATER, ROLE, Shape, write_build
from tests.moto_server import MotoServer, point_boto_at, serve
from yamlpipe.cli import main

SPEC = "specs/churn.yaml"
NAME = "churn-training"
OTHER_ROLE = "arn:aws:iam::123456789012:role/OtherRole"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    yield from serve()


@pytest.fixture
def env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch, in_repo: Path) -> None:
    moto.reset()
    point_boto_at(monkeypatch, moto.url)
    boto3.client("s3").create_bucket(Bucket=BUCKET)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_deploy_then_deploy_again_says_unchanged(tmp_path: Path, env: None) -> None:
    build = write_build(tmp_path, Shape(name=NAME))

    first, second = run("deploy", str(build)), run("deploy", str(build))

    assert (first.exit_code, first.output.splitlines()[-1]) == (
        0, f"{NAME}: created (13 uploaded, 0 already in S3)",
    )
    assert (second.exit_code, second.output) == (
        0, f"{NAME}: unchanged (the deployed pipeline matches)\n",
    )


def test_deploy_dry_run_creates_nothing(tmp_path: Path, env: None) -> None:
    result = run("deploy", str(write_build(tmp_path, Shape(name=NAME))), "--dry-run")

    assert result.exit_code == 0
    assert result.output.splitlines()[-2:] == [
        f"would call CreatePipeline {NAME}",
        f"{NAME}: would create (13 uploaded, 0 already in S3)",
    ]
    assert boto3.client("sagemaker").list_pipelines()["PipelineSummaries"] == []


def test_diff_exits_0_when_equal_and_1_when_different(
    tmp_path: Path, env: None
) -> None:
    build = write_build(tmp_path / "a", Shape(name=NAME))
    changed = write_build(tmp_path / "b", Shape(name=NAME, time=LATER, role=OTHER_ROLE))
    run("deploy", str(build))

    same, different = run("diff", str(build)), run("diff", str(changed))

    assert (same.exit_code, same.output) == (
        0, f"{NAME}: the deployed pipeline matches {build}\n",
    )
    assert different.exit_code == 1
    assert different.output.splitlines()[1:3] == [
        "~ pipeline: settings changed",
        f'    role: "{ROLE}" -> "{OTHER_ROLE}"',
    ]


def test_a_deploy_error_exits_5(tmp_path: Path, env: None) -> None:
    boto3.client("s3").delete_bucket(Bucket=BUCKET)

    result = run("deploy", str(write_build(tmp_path, Shape(name=NAME))))

    assert result.exit_code == 5
    assert "PutObject returned NoSuchBucket" in result.output


def test_start_prints_the_arn_and_status_shows_the_execution(
    tmp_path: Path, env: None
) -> None:
    run("deploy", str(write_build(tmp_path, Shape(name=NAME))))

    started = run("start", SPEC, "--param", "epochs=3", "--param", "min_auc=0.9")
    shown = run("status", SPEC)

    assert started.exit_code == 0
    arn = started.output.strip()
    pattern = rf"arn:aws:sagemaker:us-east-1:\d+:pipeline/{NAME}/execution/\w+"
    assert re.fullmatch(pattern, arn)
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert lines[:2] == [f"pipeline    {NAME}", f"execution   {arn}"]
    assert lines[2].startswith("status      Succeeded after ")
    assert "parameters  epochs=3, min_auc=0.9" in lines


def test_start_wait_exits_0_when_the_execution_succeeds(
    tmp_path: Path, env: None
) -> None:
    run("deploy", str(write_build(tmp_path, Shape(name=NAME))))

    result = run("start", SPEC, "--wait")

    assert result.exit_code == 0
    assert "execution: Succeeded" in result.output


def test_a_malformed_param_is_a_usage_error(tmp_path: Path, env: None) -> None:
    run("deploy", str(write_build(tmp_path, Shape(name=NAME))))

    bad, wrong = run("start", SPEC, "--param", "epochs"), run(
        "start", SPEC, "--param", "epochs=many"
    )

    assert (bad.exit_code, bad.output) == (
        2, "--param 'epochs' is not name=value; write --param n=v\n",
    )
    assert (wrong.exit_code, wrong.output) == (2, (
        "--param epochs=many: epochs is an Integer parameter; write a number, "
        "like --param epochs=3\n"
    ))
