"""specs/churn.yaml by hand."""

from __future__ import annotations

from typing import Any

import cloudpickle

try:  # SageMaker SDK v3
    from sagemaker.core.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.function_step import step
    from sagemaker.mlops.workflow.pipeline import Pipeline
except ImportError:  # SageMaker SDK v2
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.workflow.pipeline import Pipeline

import steps
from steps.evaluate import evaluate
from steps.preprocess import preprocess
from steps.register import register
from steps.train import train

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:py311"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def pipeline(session: Any, requirements: str) -> Pipeline:
    common = {
        "instance_type": "ml.m5.large",
        "image_uri": IMAGE,
        "role": ROLE,
        "dependencies": requirements,
    }
    raw_uri = ParameterString(name="raw_uri", default_value="data/churn.csv")
    min_auc = ParameterFloat(name="min_auc", default_value=0.75)
    epochs = ParameterInteger(name="epochs", default_value=10)

    cloudpickle.register_pickle_by_value(steps)
    try:
        split = step(
            preprocess,
            name="preprocess",
            display_name="preprocess",
            description=(
                "Read ``raw_uri`` and return ``(train_df, test_df)`` ready for "
                "``train``."
            ),
            **common,
        )(raw_uri=raw_uri)
        model = step(
            train,
            name="train",
            display_name="train",
            description=(
                "Return a picklable model: features, weights, bias and the loss per "
                "epoch."
            ),
            **{**common, "instance_type": "ml.m5.2xlarge"},
        )(train_df=split[0], epochs=epochs)
        metrics = step(
            evaluate,
            name="evaluate",
            display_name="evaluate",
            description=(
                "Return the model's metrics on ``test_df`` (the label column is the "
                "model's)."
            ),
            **common,
        )(model=model, test_df=split[1])
        record = step(
            register,
            name="register",
            display_name="register",
            description=(
                "Return the registry record; write it under ``$MODEL_REGISTRY_DIR`` "
                "if set."
            ),
            **common,
        )(model=model, metrics=metrics)
    finally:
        cloudpickle.unregister_pickle_by_value(steps)

    too_low = FailStep(
        name="fail-low-auc",
        display_name="fail-low-auc",
        error_message=Join(
            on="", values=["AUC ", metrics["auc"], " is below ", min_auc]
        ),
    )
    gate = ConditionStep(
        name="check-auc",
        display_name="check-auc",
        conditions=[ConditionGreaterThanOrEqualTo(left=metrics["auc"], right=min_auc)],
        if_steps=[record],
        else_steps=[too_low],
    )
    return Pipeline(
        name="churn-training",
        parameters=[raw_uri, min_auc, epochs],
        steps=[split, model, metrics, gate],
        sagemaker_session=session,
    )
