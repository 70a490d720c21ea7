"""tests/specs/kinds.yaml by hand."""

from __future__ import annotations

from typing import Any

import cloudpickle

try:  # SageMaker SDK v3
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.mlops.workflow.function_step import step
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )
except ImportError:  # SageMaker SDK v2
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.parameters import (
        ParameterBoolean,
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )

import demo_steps
from demo_steps.kinds import greet, stamp


def pipeline(session: Any, requirements: str) -> Pipeline:
    common = {
        "instance_type": "ml.m5.large",
        "image_uri": (
            "111122223333.dkr.ecr.ap-southeast-2.amazonaws.com/yamlpipe-tests:py311"
        ),
        "role": "arn:aws:iam::111122223333:role/StepRole",
        "dependencies": requirements,
    }
    team_tags = [{"Key": "team", "Value": "ml"}, {"Key": "cost-centre", "Value": "42"}]
    step_retry = StepRetryPolicy(
        exception_types=[
            StepExceptionTypeEnum.SERVICE_FAULT,
            StepExceptionTypeEnum.THROTTLING,
        ],
        interval_seconds=2,
        backoff_rate=1.5,
        max_attempts=4,
    )
    who = ParameterString(name="who", default_value="world")
    count = ParameterInteger(name="count", default_value=3)
    ratio = ParameterFloat(name="ratio", default_value=0.25)
    enabled = ParameterBoolean(name="enabled", default_value=True)
    text = ParameterString(name="text")

    cloudpickle.register_pickle_by_value(demo_steps)
    try:
        greeting = step(
            greet,
            name="greet",
            display_name="greet",
            description="Greet someone a number of times.",
            volume_size=50,
            max_runtime_in_seconds=3600,
            keep_alive_period_in_seconds=300,
            environment_variables={"LOG_LEVEL": "info", "GREETING": "hello"},
            tags=[*team_tags, {"Key": "step", "Value": "greet"}],
            retry_policies=[step_retry],
            **common,
        )(name=who, count=count, ratio=ratio, enabled=enabled, text=text)
        stamped = step(
            stamp,
            name="stamp",
            display_name="Stamp the greeting",
            description="Say where and when the greeting ran",
            use_spot_instances=True,
            max_wait_time_in_seconds=7200,
            pre_execution_commands=["echo ready"],
            job_name_prefix="stamp-job",
            max_retry_attempts=2,
            encrypt_inter_container_traffic=True,
            subnets=["subnet-0abc1234"],
            security_group_ids=["sg-0abc1234"],
            volume_kms_key=(
                "arn:aws:kms:ap-southeast-2:111122223333:key/"
                "1234abcd-12ab-34cd-56ef-1234567890ab"
            ),
            environment_variables={"LOG_LEVEL": "info"},
            tags=team_tags,
            retry_policies=[
                SageMakerJobStepRetryPolicy(
                    exception_types=[
                        SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
                        SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                    ],
                    interval_seconds=10,
                    expire_after_mins=30,
                ),
                SageMakerJobStepRetryPolicy(
                    exception_types=[SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT],
                    max_attempts=2,
                ),
            ],
            **common,
        )(
            execution_id=ExecutionVariables.PIPELINE_EXECUTION_ID,
            execution_arn=ExecutionVariables.PIPELINE_EXECUTION_ARN,
            started=ExecutionVariables.START_DATETIME,
            now=ExecutionVariables.CURRENT_DATETIME,
            pipeline=ExecutionVariables.PIPELINE_NAME,
            pipeline_arn=ExecutionVariables.PIPELINE_ARN,
            greeting=greeting,
        )
    finally:
        cloudpickle.unregister_pickle_by_value(demo_steps)

    return Pipeline(
        name="every-kind",
        parameters=[who, count, ratio, enabled, text],
        steps=[greeting, stamped],
        sagemaker_session=session,
    )
