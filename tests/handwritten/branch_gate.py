"""tests/specs/branches.yaml by hand."""

from __future__ import annotations

from typing import Any

import cloudpickle

try:  # SageMaker SDK v3
    from sagemaker.core.workflow.conditions import (
        ConditionEquals,
        ConditionGreaterThanOrEqualTo,
        ConditionIn,
        ConditionNot,
        ConditionOr,
    )
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterString,
    )
    from sagemaker.core.workflow.step_outputs import get_step
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.function_step import step
    from sagemaker.mlops.workflow.pipeline import Pipeline
except ImportError:  # SageMaker SDK v2
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import (
        ConditionEquals,
        ConditionGreaterThanOrEqualTo,
        ConditionIn,
        ConditionNot,
        ConditionOr,
    )
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterString,
    )
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.step_outputs import get_step

import demo_steps
from demo_steps.branches import archive, audit, publish, score


def pipeline(session: Any, requirements: str) -> Pipeline:
    common = {
        "instance_type": "ml.m5.large",
        "image_uri": (
            "111122223333.dkr.ecr.eu-west-1.amazonaws.com/yamlpipe-tests:py311"
        ),
        "role": "arn:aws:iam::111122223333:role/StepRole",
        "dependencies": requirements,
    }
    stage = ParameterString(name="stage", default_value="staging")
    threshold = ParameterFloat(name="threshold", default_value=0.5)
    force = ParameterBoolean(name="force", default_value=False)

    cloudpickle.register_pickle_by_value(demo_steps)
    try:
        scored = step(
            score,
            name="score",
            display_name="score",
            description="Score something from a seed.",
            **common,
        )(seed=7)
        published = step(
            publish,
            name="publish",
            display_name="publish",
            description="Publish the score to a stage.",
            **common,
        )(score=scored, stage=stage)
        audited = step(
            audit,
            name="audit",
            display_name="audit",
            description="Record who ran the pipeline.",
            **common,
        )(who=ExecutionVariables.PIPELINE_NAME)
        archived = step(
            archive,
            name="archive",
            display_name="archive",
            description="Keep a low score for later.",
            **common,
        )(score=scored["value"])
    finally:
        cloudpickle.unregister_pickle_by_value(demo_steps)
    get_step(audited).add_depends_on([get_step(published)])

    too_low = FailStep(
        name="too-low",
        display_name="too-low",
        error_message=Join(
            on="",
            values=[
                "score ", scored["value"], " is under ", threshold, " for ", stage,
                " (execution ", ExecutionVariables.PIPELINE_EXECUTION_ID, ")",
            ],
        ),
    )
    too_low.add_depends_on([get_step(archived)])
    gate = ConditionStep(
        name="gate",
        display_name="Gate on the score",
        description="Publish when the score clears the threshold",
        conditions=[
            ConditionGreaterThanOrEqualTo(left=scored["value"], right=threshold),
            ConditionOr(
                conditions=[
                    ConditionIn(value=stage, in_values=["staging", "prod"]),
                    ConditionEquals(left=force, right=True),
                ]
            ),
            ConditionNot(expression=ConditionEquals(left=scored["label"], right="bad")),
            ConditionNot(
                expression=ConditionNot(
                    expression=ConditionIn(value=stage, in_values=["dev"])
                )
            ),
        ],
        if_steps=[published, audited],
        else_steps=[archived, too_low],
    )
    return Pipeline(
        name="branch-gate",
        parameters=[stage, threshold, force],
        steps=[scored, gate],
        sagemaker_session=session,
    )
