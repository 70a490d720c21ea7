"""tests/specs/fanin.yaml by hand."""

from __future__ import annotations

from typing import Any

import cloudpickle

try:  # SageMaker SDK v3
    from sagemaker.mlops.workflow.function_step import step
    from sagemaker.mlops.workflow.pipeline import Pipeline
except ImportError:  # SageMaker SDK v2
    from sagemaker.workflow.function_step import step
    from sagemaker.workflow.pipeline import Pipeline

import demo_steps
from demo_steps.fanin import combine, load, report, split


def pipeline(session: Any, requirements: str) -> Pipeline:
    common = {
        "instance_type": "ml.m5.xlarge",
        "image_uri": (
            "111122223333.dkr.ecr.us-west-2.amazonaws.com/yamlpipe-tests:py311"
        ),
        "role": "arn:aws:iam::111122223333:role/StepRole",
        "dependencies": requirements,
    }
    load_doc = "Load one part of the data."

    cloudpickle.register_pickle_by_value(demo_steps)
    try:
        a = step(
            load, name="load-a", display_name="load-a", description=load_doc, **common
        )(part="a", rows=3)
        b = step(
            load, name="load-b", display_name="load-b", description=load_doc, **common
        )(part="b", rows=4)
        c = step(
            load, name="load-c", display_name="load-c", description=load_doc, **common
        )(part="c", rows=5)
        halves = step(
            split,
            name="split",
            display_name="split",
            description="Split a part into head and tail.",
            **common,
        )(rows=c)
        combined = step(
            combine,
            name="combine",
            display_name="combine",
            description="Combine every input into one summary.",
            **{**common, "instance_type": "ml.m5.2xlarge"},
        )(
            a=a,
            b=b["rows"],
            head=halves[0],
            tail=halves[1],
            weights=[1, 2, 3],
            options={"mode": "sum"},
        )
        reported = step(
            report,
            name="report",
            display_name="report",
            description="Report the combined total.",
            **common,
        )(total=combined["total"], summary=combined)
    finally:
        cloudpickle.unregister_pickle_by_value(demo_steps)

    return Pipeline(
        name="fan-in",
        steps=[a, b, c, halves, combined, reported],
        sagemaker_session=session,
    )
