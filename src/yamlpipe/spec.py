"""The spec language, version 1, as pydantic models.

The keys of a function step are the SageMaker SDK's ``@step`` keyword names, so a user
of the SDK has nothing new to learn. The models are strict (no ``"10"`` for ``10``) and
forbid unknown keys, so they accept exactly what the generated JSON Schema accepts.
Every field carries a description: the schema shows it in editors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)
from pydantic_core import PydanticCustomError

SCHEMA_VERSION = 1
SCHEMA_ID = "https://yamlpipe.dev/schemas/v1/yamlpipe.schema.json"

# Names SageMaker accepts (CreatePipeline API reference): neither the SDK nor moto
# checks them, so a bad name would first fail at deploy time.
PIPELINE_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$"
STEP_NAME = r"^[A-Za-z0-9_-]{1,64}$"
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
ENTRYPOINT = rf"^(?:{_DOTTED}|[^:]+\.py):[A-Za-z_][A-Za-z0-9_]*$"
INSTANCE_TYPE = r"^ml\.[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+$"
S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/.*)?$"

# Offered by editors as completions; the pattern still admits newer types.
KNOWN_INSTANCE_TYPES = (
    "ml.t3.medium", "ml.t3.large", "ml.t3.xlarge", "ml.t3.2xlarge",
    "ml.m5.large", "ml.m5.xlarge", "ml.m5.2xlarge", "ml.m5.4xlarge",
    "ml.m5.12xlarge", "ml.m5.24xlarge",
    "ml.m6i.large", "ml.m6i.xlarge", "ml.m6i.2xlarge", "ml.m6i.4xlarge",
    "ml.m7i.large", "ml.m7i.xlarge", "ml.m7i.2xlarge", "ml.m7i.4xlarge",
    "ml.c5.large", "ml.c5.xlarge", "ml.c5.2xlarge", "ml.c5.4xlarge",
    "ml.c5.9xlarge", "ml.c5.18xlarge",
    "ml.c6i.large", "ml.c6i.xlarge", "ml.c6i.2xlarge", "ml.c6i.4xlarge",
    "ml.r5.large", "ml.r5.xlarge", "ml.r5.2xlarge", "ml.r5.4xlarge",
    "ml.g4dn.xlarge", "ml.g4dn.2xlarge", "ml.g4dn.4xlarge", "ml.g4dn.12xlarge",
    "ml.g5.xlarge", "ml.g5.2xlarge", "ml.g5.4xlarge", "ml.g5.12xlarge",
    "ml.g5.48xlarge", "ml.g6.xlarge", "ml.g6.2xlarge", "ml.g6.12xlarge",
    "ml.p3.2xlarge", "ml.p3.8xlarge", "ml.p3.16xlarge",
    "ml.p4d.24xlarge", "ml.p5.48xlarge", "ml.trn1.2xlarge", "ml.trn1.32xlarge",
)

RETRY_EXCEPTION_TYPES = (
    "Step.SERVICE_FAULT",
    "Step.THROTTLING",
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.RESOURCE_LIMIT",
)

ExceptionType = Literal[RETRY_EXCEPTION_TYPES]  # type: ignore[valid-type]
StepName = Annotated[str, StringConstraints(pattern=STEP_NAME)]
ParamName = Annotated[str, StringConstraints(pattern=STEP_NAME)]
InputName = Annotated[str, StringConstraints(pattern=IDENTIFIER)]
InstanceType = Annotated[
    str,
    StringConstraints(pattern=INSTANCE_TYPE),
    Field(json_schema_extra={"examples": list(KNOWN_INSTANCE_TYPES)}),
]


def _whole_number(value: Any) -> Any:
    # JSON Schema counts 30.0 as an integer; so do the models, to accept the same
    # documents as the schema.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _not_boolean(value: Any) -> Any:
    # Literal[1] would take `true` (True == 1); the schema's const does not.
    if isinstance(value, bool):
        raise PydanticCustomError(
            "literal_error", "Input should be 1", {"expected": "1"}
        )
    return value


WholeInt = Annotated[int, BeforeValidator(_whole_number)]
PositiveInt = Annotated[WholeInt, Field(ge=1)]
NonNegativeInt = Annotated[WholeInt, Field(ge=0)]


def _doc(text: str, **kwargs: Any) -> Any:
    return Field(default=None, description=text, **kwargs)


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, regex_engine="python-re",
        # Built on first use: validating a spec needs only Spec's validator, and
        # building all fourteen models at import was a fifth of validate's time.
        defer_build=True,
    )


class RetryPolicy(Model):
    """A retry policy: Step.* types retry the step, SageMaker.* the job."""

    exception_types: list[ExceptionType] = Field(
        min_length=1,
        description="Failures to retry: Step.SERVICE_FAULT, Step.THROTTLING, or "
        "SageMaker.JOB_INTERNAL_ERROR, SageMaker.CAPACITY_ERROR, "
        "SageMaker.RESOURCE_LIMIT (do not mix Step.* and SageMaker.*).",
    )
    interval_seconds: PositiveInt | None = _doc("Seconds before the first retry.")
    backoff_rate: Annotated[float, Field(ge=1.0)] | None = _doc(
        "Factor by which the interval grows after each retry."
    )
    max_attempts: PositiveInt | None = _doc(
        "Maximum number of retries; give this or expire_after_mins."
    )
    expire_after_mins: PositiveInt | None = _doc(
        "Minutes after which no more retries start; give this or max_attempts."
    )


class Settings(Model):
    """``@step`` keyword arguments that ``defaults`` and function steps share."""

    instance_type: InstanceType | None = _doc(
        "SageMaker instance type, for example ml.m5.large."
    )
    instance_count: PositiveInt | None = _doc(
        "Number of instances; function steps run on one (more is Spark-only)."
    )
    volume_size: PositiveInt | None = _doc("Size in GB of the job's storage volume.")
    max_runtime_in_seconds: PositiveInt | None = _doc(
        "Stop the job after this many seconds."
    )
    keep_alive_period_in_seconds: NonNegativeInt | None = _doc(
        "Keep the instance warm this long after the job for the next step."
    )
    use_spot_instances: bool | None = _doc("Run on managed spot instances.")
    max_wait_time_in_seconds: PositiveInt | None = _doc(
        "With spot instances: the longest wait for capacity plus runtime."
    )
    image_uri: str | None = _doc("Container image the step runs in (ECR URI).")
    role: str | None = _doc("IAM role ARN the job runs as.")
    dependencies: str | None = _doc(
        "requirements.txt or environment.yml to install in the job, relative to the "
        "project root."
    )
    pre_execution_commands: list[str] | None = _doc(
        "Shell commands run in the job before the function."
    )
    pre_execution_script: str | None = _doc(
        "Script run in the job before the function, relative to the project root."
    )
    environment_variables: dict[str, str] | None = _doc(
        "Environment of the job; merged key by key over defaults."
    )
    tags: dict[str, str] | None = _doc(
        "Tags of the job as key: value; merged key by key over defaults."
    )
    subnets: list[str] | None = _doc("VPC subnet IDs for the job.")
    security_group_ids: list[str] | None = _doc("VPC security group IDs for the job.")
    volume_kms_key: str | None = _doc("KMS key that encrypts the storage volume.")
    encrypt_inter_container_traffic: bool | None = _doc(
        "Encrypt traffic between the job's containers."
    )
    job_conda_env: str | None = _doc("Conda environment the function runs in.")
    job_name_prefix: str | None = _doc("Prefix of the training job's name.")
    max_retry_attempts: NonNegativeInt | None = _doc(
        "Retries of the job on SageMaker internal errors."
    )
    retry_policies: list[RetryPolicy] | None = _doc(
        "Pipeline retry policies of the step."
    )


class Parameter(Model):
    description: str | None = _doc("Shown in SageMaker Studio and the README.")


class StringParameter(Parameter):
    type: Literal["string"] = Field(description="A ParameterString.")
    default: str | None = _doc("Value used when an execution does not set it.")


class IntegerParameter(Parameter):
    type: Literal["integer"] = Field(description="A ParameterInteger.")
    default: WholeInt | None = _doc("Value used when an execution does not set it.")


class FloatParameter(Parameter):
    type: Literal["float"] = Field(description="A ParameterFloat.")
    default: float | None = _doc("Value used when an execution does not set it.")


class BooleanParameter(Parameter):
    type: Literal["boolean"] = Field(description="A ParameterBoolean.")
    default: bool | None = _doc("Value used when an execution does not set it.")


AnyParameter = Annotated[
    Union[StringParameter, IntegerParameter, FloatParameter, BooleanParameter],
    Field(discriminator="type"),
]

After = Annotated[
    list[StepName],
    Field(description="Steps that must finish first, without passing data."),
]


class BaseStep(Model):
    name: StepName = Field(description="Step name, unique in the pipeline.")
    after: After = Field(default_factory=list)
    display_name: str | None = _doc("Name shown in SageMaker Studio.")
    description: str | None = _doc("Description shown in SageMaker Studio.")


class FunctionStep(BaseStep, Settings):
    entrypoint: Annotated[str, StringConstraints(pattern=ENTRYPOINT)] = Field(
        description="The function: module:function or path/to/file.py:function, "
        "relative to the project root."
    )
    inputs: dict[InputName, Any] = Field(
        default_factory=dict,
        description="Arguments of the function by name: literals or one reference "
        "each (${steps.NAME[0]['key']}, ${params.NAME}, ${execution.id}).",
    )


class ConditionStep(BaseStep):
    condition: Union[str, Annotated[list[str], Field(min_length=1)]] = Field(
        description="An expression, or a list that must all hold: operands are "
        "references or literals; ==, !=, >, >=, <, <=, in [..], not in [..], "
        "not, or."
    )
    then: list[StepName] = Field(
        default_factory=list, description="Steps run when the condition holds."
    )
    else_: list[StepName] = Field(
        default_factory=list,
        alias="else",
        description="Steps run when it does not.",
    )


class FailStep(BaseStep):
    fail: str = Field(
        description="Message of the failed execution; may embed references."
    )


STEP_KINDS = {"entrypoint": "function", "condition": "condition", "fail": "fail"}


def step_kind(value: Any) -> str | None:
    """Which step model applies: told apart by their one kind key."""
    if isinstance(value, BaseStep):
        return {FunctionStep: "function", ConditionStep: "condition"}.get(
            type(value), "fail"
        )
    if not isinstance(value, dict):
        return None
    kinds = [kind for key, kind in STEP_KINDS.items() if key in value]
    return kinds[0] if len(kinds) == 1 else None


AnyStep = Annotated[
    Union[
        Annotated[FunctionStep, Tag("function")],
        Annotated[ConditionStep, Tag("condition")],
        Annotated[FailStep, Tag("fail")],
    ],
    Discriminator(
        step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one of entrypoint, condition, fail",
    ),
]


class SageMakerTarget(Model):
    region: str | None = _doc("AWS region of the pipeline, e.g. us-east-1.")
    role: str | None = _doc("IAM role ARN the pipeline executes as.")
    s3_root: Annotated[str, StringConstraints(pattern=S3_URI)] | None = _doc(
        "S3 prefix for step code, arguments and results: s3://bucket/prefix."
    )
    tags: dict[str, str] | None = _doc("Tags of the pipeline as key: value.")


class Spec(Model):
    """A yamlpipe pipeline spec, version 1."""

    version: Annotated[Literal[1], BeforeValidator(_not_boolean)] = Field(
        description="Spec language version."
    )
    name: Annotated[str, StringConstraints(pattern=PIPELINE_NAME)] = Field(
        description="SageMaker pipeline name: letters, digits and hyphens."
    )
    description: str | None = _doc("Pipeline description.")
    sagemaker: SageMakerTarget = Field(
        default_factory=SageMakerTarget,
        description="Where the pipeline lives; used by compile and deploy.",
    )
    parameters: dict[ParamName, AnyParameter] = Field(
        default_factory=dict, description="Pipeline parameters by name."
    )
    defaults: Settings = Field(
        default_factory=Settings,
        description="Function step settings that every step inherits.",
    )
    steps: Annotated[list[AnyStep], Field(min_length=1)] = Field(
        description="The steps, in any order."
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec for editors, generated from the models."""
    from pydantic.json_schema import GenerateJsonSchema

    class _Generator(GenerateJsonSchema):
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

    schema = Spec.model_json_schema(schema_generator=_Generator, by_alias=True)
    _tidy(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def _tidy(node: Any) -> None:
    """Editor polish: no titles, closed key patterns, known instance types."""
    if isinstance(node, list):
        for item in node:
            _tidy(item)
        return
    if not isinstance(node, dict):
        return
    node.pop("title", None)
    if "patternProperties" in node:
        node["additionalProperties"] = False
    if node.get("pattern") == INSTANCE_TYPE and "examples" in node:
        examples = node.pop("examples")
        node["anyOf"] = [
            {"enum": examples},
            {"pattern": node.pop("pattern")},
        ]
    for value in node.values():
        _tidy(value)
