"""Hand-made build directories in the layout ``yamlpipe compile`` writes.

The definitions have the shape the SageMaker SDK v3 gives function steps
(``ContainerArguments`` with ``--func_step_s3_dir``, the per-compile public key in
the environment), a condition with both branches and a fail step; the artifacts
sit under ``<s3_root>/<pipeline>/<step>/<build time>/`` like the SDK's. They let the
deploy tests run in a second, without the SDK; ``test_deploy_sdk`` covers a real
compile.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from yamlpipe.compile import INLINE_LIMIT, definition_text

BUCKET = "yamlpipe-test-bucket"
ROOT = f"s3://{BUCKET}/pipelines"
ROLE = "arn:aws:iam::123456789012:role/PipelineRole"
TIME = "2026-01-02-03-04-05-006"
LATER = "2026-02-03-04-05-06-007"
FUNCTIONS = ("prep", "train", "register")


@dataclass(frozen=True)
class Shape:
    """What a test build holds; ``replace`` one field to make a changed build."""

    name: str = "demo"
    time: str = TIME
    key: str = "KEY-1"
    instance_type: str = "ml.m5.large"
    code: dict[str, bytes] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    role: str = ROLE
    description: str = "A demo pipeline"
    padding: int = 0

    def changed(self, **changes: Any) -> Shape:
        return replace(self, **changes)

    def code_of(self, step: str) -> bytes:
        return self.code.get(step, f"code of {step}".encode())


def write_build(out: Path, shape: Shape = Shape()) -> Path:
    """Write ``out/<name>/`` and return it."""
    directory = out / shape.name
    directory.mkdir(parents=True, exist_ok=True)
    definition = _definition(shape)
    _write_json(directory / "definition.json", definition)
    objects = _artifacts(shape)
    for key, body in objects.items():
        path = directory / "artifacts" / BUCKET / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    _write_json(directory / "manifest.json", _manifest(shape, definition, objects))
    return directory


def artifact_keys(shape: Shape = Shape()) -> list[str]:
    return sorted(_artifacts(shape))


def _definition(shape: Shape) -> dict[str, Any]:
    register = _function_step(shape, "register", ["train"])
    fail = {
        "Arguments": {"ErrorMessage": "AUC too low"},
        "DependsOn": ["train"],
        "DisplayName": "too-low",
        "Name": "too-low",
        "Type": "Fail",
    }
    gate = {
        "Arguments": {
            "Conditions": [{
                "LeftValue": {"Get": "Parameters.epochs"},
                "RightValue": 1,
                "Type": "GreaterThanOrEqualTo",
            }],
            "ElseSteps": [fail],
            "IfSteps": [register],
        },
        "DependsOn": ["train"],
        "Name": "gate",
        "Type": "Condition",
    }
    return {
        "Metadata": {},
        "MlflowConfig": None,
        "Parameters": [
            {"DefaultValue": "data/in.csv", "Name": "raw_uri", "Type": "String"},
            {"DefaultValue": 0.75, "Name": "min_auc", "Type": "Float"},
            {"DefaultValue": 10, "Name": "epochs", "Type": "Integer"},
            {"DefaultValue": False, "Name": "dry", "Type": "Boolean"},
        ],
        "PipelineExperimentConfig": {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {"Get": "Execution.PipelineExecutionId"},
        },
        "Steps": [
            _function_step(shape, "prep", []),
            _function_step(shape, "train", ["prep"]),
            gate,
        ],
        "Version": "2020-12-01",
    }


def _function_step(shape: Shape, name: str, after: list[str]) -> dict[str, Any]:
    base = f"{ROOT}/{shape.name}"
    step: dict[str, Any] = {
        "Arguments": {
            "AlgorithmSpecification": {
                "ContainerArguments": [
                    "--s3_base_uri", base, "--region", "us-east-1",
                    "--pipeline_step_name", name,
                    "--func_step_s3_dir", shape.time,
                ],
                "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:py311",
            },
            "Environment": {"REMOTE_FUNCTION_SECRET_KEY": shape.key},
            "OutputDataConfig": {"S3OutputPath": {"Std:Join": {
                "On": "/",
                "Values": [base, name, shape.time, "results"],
            }}},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": shape.instance_type},
            "RoleArn": shape.role,
        },
        "Description": "x" * shape.padding if name == "prep" else f"the {name} step",
        "Name": name,
        "Type": "Training",
    }
    if after:
        step["DependsOn"] = after
    return step


def _artifacts(shape: Shape) -> dict[str, bytes]:
    prefix = f"pipelines/{shape.name}"
    objects = {
        f"{prefix}/sagemaker_remote_function_bootstrap/job_driver.sh": b"#!/bin/sh\n",
    }
    for step in FUNCTIONS:
        code = shape.code_of(step)
        for part, body in (("function", code), ("arguments", b"args " + code)):
            folder = f"{prefix}/{step}/{shape.time}/{part}"
            signed = {"sha256_hash": _sha(body), "signature": shape.key}
            objects[f"{folder}/payload.pkl"] = body
            objects[f"{folder}/metadata.json"] = json.dumps(signed).encode()
    return objects


def _manifest(
    shape: Shape, definition: dict[str, Any], objects: dict[str, bytes]
) -> dict[str, Any]:
    characters = len(definition_text(definition))
    record: dict[str, Any] = {
        "path": "definition.json",
        "sha256": _sha((_pretty(definition)).encode()),
        "characters": characters,
        "via_s3": characters > INLINE_LIMIT,
    }
    if record["via_s3"]:
        record["s3_uri"] = f"{ROOT}/{shape.name}/definition.json"
    return {
        "manifest_version": 1,
        "pipeline": {
            "name": shape.name,
            "description": shape.description,
            "region": "us-east-1",
            "role_arn": shape.role,
            "s3_root": ROOT,
            "tags": shape.tags,
        },
        "spec": {"path": "specs/demo.yaml", "sha256": "0" * 64},
        "versions": {"yamlpipe": "0.1.0", "sagemaker": "3.27.0", "python": "3.11.7"},
        "build_time": shape.time,
        "steps": 5,
        "definition": record,
        "artifacts": [
            {"path": f"artifacts/{BUCKET}/{key}", "s3_uri": f"s3://{BUCKET}/{key}",
             "sha256": _sha(body)}
            for key, body in sorted(objects.items())
        ],
    }


def _pretty(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write_json(path: Path, data: Any) -> None:
    path.write_text(_pretty(data), encoding="utf-8")


def _sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
