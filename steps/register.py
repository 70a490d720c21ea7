"""Describe a trained model as a registry record and, if asked, store it as JSON.

The record has the shape of a SageMaker model package (name, version, metrics,
approval status) without calling AWS, so a local run and a test can register.
Set ``MODEL_REGISTRY_DIR`` to keep the records as files.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

MODEL_NAME = "churn-logistic-regression"
CREATED_BY = "yamlpipe example"
REGISTRY_DIR_VARIABLE = "MODEL_REGISTRY_DIR"
# New packages wait for a person, as SageMaker's ModelApprovalStatus default does.
APPROVAL_STATUS = "PendingManualApproval"


def register(model: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """Return the registry record; write it under ``$MODEL_REGISTRY_DIR`` if set."""
    parameters = {
        "bias": model["bias"],
        "weights": dict(zip(model["features"], model["weights"], strict=True)),
    }
    record = {
        "name": MODEL_NAME,
        "version": _version(parameters),
        "metrics": dict(sorted(metrics.items())),
        "approval_status": APPROVAL_STATUS,
        "created_by": CREATED_BY,
        "epochs": model["epochs"],
        "parameters": parameters,
    }

    directory = os.environ.get(REGISTRY_DIR_VARIABLE)
    if directory:
        _write(Path(directory), record)
    return record


def _version(parameters: dict[str, Any]) -> str:
    # Canonical JSON (sorted keys, no spaces) so that the same weights always
    # hash to the same version, whatever order the features arrived in.
    text = json.dumps(parameters, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _write(directory: Path, record: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record['name']}-{record['version'][:12]}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path
