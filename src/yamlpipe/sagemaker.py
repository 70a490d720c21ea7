"""The one door to the SageMaker Python SDK: its imports and the offline session.

No other yamlpipe module imports ``sagemaker``. This one hides the two majors:

    what                     v2 (2.199+)           v3
    @step, Pipeline, steps   sagemaker.workflow.*  sagemaker.mlops.workflow.*
    parameters, conditions   sagemaker.workflow.*  sagemaker.core.workflow.*
    Session                  sagemaker.session     sagemaker.core.helper.session_helper

and gives the SDK a session that never reaches AWS. ``Pipeline.definition()`` talks to
S3 (bucket checks, then one upload per pickled function, argument and bootstrap
script); the session answers the bucket calls locally and writes every uploaded
object to ``<artifacts>/<bucket>/<key>``. Any other AWS call raises ``CompileError``
before a request is signed or sent. Nothing here reads a SageMaker config file: any
config makes every SDK lookup re-validate it (10 steps: 12 s instead of 0.15 s).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import inspect
import io
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

from yamlpipe.errors import CompileError
from yamlpipe.plan import (
    Compare,
    ConditionStep,
    ExecutionRef,
    Expr,
    FailStep,
    FunctionStep,
    In,
    Not,
    Parameter,
    ParamRef,
    Plan,
    StepRef,
)

logger = logging.getLogger(__name__)

# Where each SDK major keeps what yamlpipe uses: attribute -> (module, name).
_V2_NAMES = {
    "step": ("sagemaker.workflow.function_step", "step"),
    "DelayedReturn": ("sagemaker.workflow.function_step", "DelayedReturn"),
    "Pipeline": ("sagemaker.workflow.pipeline", "Pipeline"),
    "ConditionStep": ("sagemaker.workflow.condition_step", "ConditionStep"),
    "FailStep": ("sagemaker.workflow.fail_step", "FailStep"),
    "Session": ("sagemaker.session", "Session"),
    "Step": ("sagemaker.workflow.steps", "Step"),
}
_V3_NAMES = {
    "step": ("sagemaker.mlops.workflow.function_step", "step"),
    "DelayedReturn": ("sagemaker.mlops.workflow.function_step", "DelayedReturn"),
    "Pipeline": ("sagemaker.mlops.workflow.pipeline", "Pipeline"),
    "ConditionStep": ("sagemaker.mlops.workflow.condition_step", "ConditionStep"),
    "FailStep": ("sagemaker.mlops.workflow.fail_step", "FailStep"),
    "Session": ("sagemaker.core.helper.session_helper", "Session"),
    "Step": ("sagemaker.mlops.workflow.steps", "Step"),
}
# The same names in both majors, under ``sagemaker.workflow`` (v2),
# ``sagemaker.core.workflow`` (v3) or, for retries, next to the pipeline.
_SHARED_NAMES = {
    "parameters": (
        "ParameterString", "ParameterInteger", "ParameterFloat", "ParameterBoolean"
    ),
    "conditions": (
        "ConditionEquals", "ConditionGreaterThan", "ConditionGreaterThanOrEqualTo",
        "ConditionLessThan", "ConditionLessThanOrEqualTo", "ConditionIn",
        "ConditionNot", "ConditionOr",
    ),
    "functions": ("Join",),
    "execution_variables": ("ExecutionVariables",),
    "step_outputs": ("get_step",),
}
_RETRY_NAMES = (
    "StepRetryPolicy", "SageMakerJobStepRetryPolicy",
    "StepExceptionTypeEnum", "SageMakerJobExceptionTypeEnum",
)
# A region is needed before v3 is imported at all: sagemaker/ai_registry/air_hub.py
# builds ``boto3.client("sagemaker")`` in a class body.
_IMPORT_REGION = "us-east-1"
# Any fixed instant will do: the SDK only checks that the bucket has one.
_BUCKET_CREATED = datetime(2020, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Sdk:
    """The SDK objects yamlpipe builds pipelines from, whatever the major."""

    major: int
    version: str
    names: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.names[name]
        except KeyError:
            raise AttributeError(name) from None


def sdk_version() -> str:
    """The installed SageMaker SDK version, read without importing it."""
    return _dist_version("sagemaker")


@cache
def load() -> Sdk:
    """Import the SDK once, from the paths of the installed major."""
    version = sdk_version()
    major = int(version.split(".")[0])
    with quiet(), _import_session(), _root_logger_kept():
        names = _import_names(major)
    logger.debug("loaded SageMaker SDK %s", version)
    return Sdk(major, version, names)


def _import_names(major: int) -> dict[str, Any]:
    table = dict(_V3_NAMES if major >= 3 else _V2_NAMES)
    base = "sagemaker.core.workflow" if major >= 3 else "sagemaker.workflow"
    for module, attrs in _SHARED_NAMES.items():
        table.update({a: (f"{base}.{module}", a) for a in attrs})
    retry = f"sagemaker.{'mlops.' if major >= 3 else ''}workflow.retry"
    table.update({a: (retry, a) for a in _RETRY_NAMES})
    return {
        attr: getattr(importlib.import_module(module), name)
        for attr, (module, name) in table.items()
    }


@contextlib.contextmanager
def _import_session() -> Iterator[None]:
    """Lend boto3 an offline default session while the SDK builds import-time clients.

    Without one, ``boto3.client`` needs a region (v3 raises ``NoRegionError``) and
    walks the credential chain, whose last link asks the EC2 metadata service over
    the network (both majors). The user's AWS profile and files are hidden for the
    while too: the SDK also makes plain ``boto3.session.Session()`` objects at import
    (sagemaker/core/jumpstart/constants.py), which fail on a missing profile.
    """
    import boto3

    hidden = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
    files = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    saved = {name: os.environ.get(name) for name in hidden + files}
    previous = boto3.DEFAULT_SESSION
    for name in hidden:
        os.environ.pop(name, None)
    os.environ.update({name: os.devnull for name in files})
    boto3.DEFAULT_SESSION = _boto_session(_IMPORT_REGION, LocalS3(None))
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = previous
        _restore(saved)


@contextlib.contextmanager
def _root_logger_kept() -> Iterator[None]:
    """Undo the ``logging.basicConfig(level=INFO)`` that v3 runs on import.

    sagemaker/core/experiments/_metrics.py does it at module level; only the CLI
    may configure handlers.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Hide the SDK's warnings and log lines unless yamlpipe logs at DEBUG (``-v``).

    The SDK gives some of its loggers their own handlers and creates more while it
    imports, so logging is switched off as a whole for the while: yamlpipe itself
    logs nothing above DEBUG from inside these blocks.
    """
    if logging.getLogger("yamlpipe").isEnabledFor(logging.DEBUG):
        yield
        return
    previous = logging.root.manager.disable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(previous)


@contextlib.contextmanager
def no_sdk_config() -> Iterator[None]:
    """Point the SDK's admin and user config paths at an empty file.

    sagemaker/core/config/config.py (v3; sagemaker/config/config.py in v2) reads
    these variables on every ``Session()``; a missing path raises, an empty file
    parses to nothing and is skipped.
    """
    names = ("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", "SAGEMAKER_USER_CONFIG_OVERRIDE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({name: os.devnull for name in names})
    try:
        yield
    finally:
        _restore(saved)


def _restore(saved: Mapping[str, str | None]) -> None:
    """Put environment variables back as they were, unset ones unset."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# -- the offline session ----------------------------------------------------------


@dataclass
class LocalS3:
    """Where the SDK's S3 writes land: ``root/<bucket>/<key>``, and what it tried."""

    root: Path | None
    region: str = _IMPORT_REGION
    buckets: set[str] = field(default_factory=set)
    objects: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    _folders: set[Path] = field(default_factory=set, repr=False)

    def put(self, bucket: str, key: str, body: bytes) -> None:
        if self.root is None:
            raise self.refuse("s3", "PutObject")
        path = self.root / bucket / key
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        path.write_bytes(body)
        self.objects[f"{bucket}/{key}"] = hashlib.sha256(body).hexdigest()
        logger.debug("staged s3://%s/%s (%d bytes)", bucket, key, len(body))

    def refuse(self, service: str, operation: str) -> CompileError:
        call = f"{service}:{operation}"
        self.refused.append(call)
        return CompileError(
            f"the SageMaker SDK tried to call {call} while compiling",
            "compile runs offline; please report this with the spec",
        )


def offline_session(
    region: str,
    bucket: str,
    prefix: str | None,
    store: LocalS3,
    *,
    direct_uploads: bool = False,
) -> Any:
    """A SageMaker ``Session`` whose S3 calls ``store`` answers; nothing else allowed.

    With ``direct_uploads`` the SDK's uploads skip boto3's transfer manager (a
    thread pool and a request per object) and go straight to ``store``: the same
    bytes under the same keys, several times faster.
    """
    store.region = region
    store.buckets.add(bucket)
    sdk = load()
    with quiet(), no_sdk_config():
        session = sdk.Session(
            boto_session=_boto_session(region, store),
            default_bucket=bucket,
            default_bucket_prefix=prefix or None,
        )
    if direct_uploads:
        session.s3_resource = _DirectS3(session.s3_resource, store)
    return session


def _boto_session(region: str, store: LocalS3) -> Any:
    """A boto3 session with fixed dummy credentials and no user AWS files.

    Explicit credentials stop the credential chain (and its metadata-service
    request); the ``before-call`` handler answers a call before botocore signs or
    sends it.
    """
    import boto3

    core = _hermetic_core()
    core.register_component("data_loader", _loader())
    core.register("before-parameter-build", _remember_params)
    core.register("before-call", _Answer(store))
    return boto3.Session(
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
        region_name=region,
        botocore_session=core,
    )


@cache
def _loader() -> Any:
    """One botocore model loader for every offline session of the process.

    Each loader parses the service models (SageMaker's is megabytes of JSON) once
    and keeps them; a fresh one per compile would spend most of a small compile
    parsing them again.
    """
    return _hermetic_core().get_component("data_loader")


def _hermetic_core() -> Any:
    """A botocore session that reads no AWS config or credentials file or profile.

    ``AWS_PROFILE`` naming a profile that is not there would otherwise fail the
    first lookup of any setting.
    """
    import botocore.session

    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    for name in ("config_file", "credentials_file"):
        core.set_config_variable(name, os.devnull)
    return core


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    # The before-call event sees the serialised request; keep the API parameters.
    context["yamlpipe_params"] = params


class _Answer:
    """A botocore ``before-call`` handler: a local answer for S3, a refusal else."""

    def __init__(self, store: LocalS3) -> None:
        self.store = store

    def __call__(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        service = model.service_model.service_name
        params = context.get("yamlpipe_params", {})
        answer = getattr(self, f"_{service}_{model.name}", None)
        if service != "s3" or answer is None:
            raise self.store.refuse(service, model.name)
        parsed = answer(params)
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "HTTPHeaders": {}}
        return AWSResponse("https://offline.invalid", 200, {}, None), parsed

    def _s3_ListBuckets(self, params: dict[str, Any]) -> dict[str, Any]:
        buckets = [
            {"Name": name, "CreationDate": _BUCKET_CREATED}
            for name in sorted(self.store.buckets)
        ]
        return {"Buckets": buckets, "Owner": {"ID": "offline"}}

    def _s3_HeadBucket(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"BucketRegion": self.store.region}

    def _s3_GetBucketLocation(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"LocationConstraint": self.store.region}

    def _s3_CreateBucket(self, params: dict[str, Any]) -> dict[str, Any]:
        self.store.buckets.add(params["Bucket"])
        return {"Location": f"/{params['Bucket']}"}

    def _s3_PutObject(self, params: dict[str, Any]) -> dict[str, Any]:
        body = _read_body(params.get("Body", b""))
        self.store.put(params["Bucket"], params["Key"], body)
        return {"ETag": f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'}


def _read_body(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "seek"):
        body.seek(0)
    data = body.read()
    return data if isinstance(data, bytes) else data.encode()


class _DirectS3:
    """The session's boto3 S3 resource, with uploads written straight to the store.

    The SDK uploads through ``s3_resource.Bucket(b).upload_fileobj`` (pickles,
    sagemaker/core/s3/client.py) and ``s3_resource.Object(b, k).upload_file``
    (bootstrap scripts and requirements, ``Session.upload_data``). Everything else
    goes to the real resource, and so through the offline handler. The real
    resource objects are made only when needed: boto3 builds each one's class,
    docstrings and all, which costs more than the upload itself.
    """

    def __init__(self, resource: Any, store: LocalS3) -> None:
        self._resource = resource
        self._store = store

    def Bucket(self, name: str) -> Any:  # noqa: N802 - boto3's spelling
        return _DirectBucket(lambda: self._resource.Bucket(name), name, self._store)

    def Object(self, bucket: str, key: str) -> Any:  # noqa: N802
        real = lambda: self._resource.Object(bucket, key)  # noqa: E731
        return _DirectObject(real, bucket, key, self._store)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resource, name)


class _DirectBucket:
    def __init__(self, real: Callable[[], Any], name: str, store: LocalS3) -> None:
        self._real = real
        self.name = name
        self._store = store

    def upload_fileobj(self, fileobj: io.IOBase, key: str, **_: Any) -> None:
        self._store.put(self.name, key, _read_body(fileobj))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


class _DirectObject:
    def __init__(
        self, real: Callable[[], Any], bucket: str, key: str, store: LocalS3
    ) -> None:
        self._real = real
        self.bucket_name = bucket
        self.key = key
        self._store = store

    def upload_file(self, filename: str, **_: Any) -> None:
        self._store.put(self.bucket_name, self.key, Path(filename).read_bytes())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


# -- from a Plan to SDK objects ----------------------------------------------------

_EXECUTION = {
    "id": "PIPELINE_EXECUTION_ID",
    "arn": "PIPELINE_EXECUTION_ARN",
    "start_time": "START_DATETIME",
    "current_time": "CURRENT_DATETIME",
    "pipeline_name": "PIPELINE_NAME",
    "pipeline_arn": "PIPELINE_ARN",
}
_PARAMETER = {
    "string": ("ParameterString", str),
    "integer": ("ParameterInteger", int),
    "float": ("ParameterFloat", float),
    "boolean": ("ParameterBoolean", bool),
}
_COMPARE = {
    "==": "ConditionEquals",
    ">": "ConditionGreaterThan",
    ">=": "ConditionGreaterThanOrEqualTo",
    "<": "ConditionLessThan",
    "<=": "ConditionLessThanOrEqualTo",
}
# Names the SDK gives a dependencies file it is handed; the job reads the name
# from ``--dependency_settings``, so it must not depend on the user's file name.
_DEPENDENCY_NAMES = {".txt": "requirements.txt", ".yml": "environment.yml"}
_DEPENDENCY_NAMES[".yaml"] = "environment.yaml"
_REFS = (StepRef, ParamRef, ExecutionRef)
# What CPython interns among string constants (Objects/codeobject.c, all_name_chars).
_IDENTIFIER_CHARACTERS = re.compile(r"[A-Za-z0-9_]*")



@dataclass(frozen=True)
class Build:
    """What the SDK made of a plan: the definition text and the staged S3 objects."""

    definition: str
    objects: dict[str, str]
    sdk_version: str


def build(
    plan: Plan,
    functions: Mapping[str, Callable[..., Any]],
    artifacts: Path,
    scratch: Path,
) -> Build:
    """Run the SDK on ``plan`` offline; uploads land under ``artifacts``.

    ``functions`` maps each function step to its imported Python function;
    ``scratch`` takes the fixed-name copies of dependencies files that the SDK is
    given instead of the user's own.
    """
    sdk = load()
    bucket, prefix = split_s3_uri(str(plan.target.s3_root))
    store = LocalS3(artifacts)
    session = offline_session(
        str(plan.target.region), bucket, prefix, store, direct_uploads=True
    )
    builder = _Builder(sdk, plan, functions, scratch)
    with quiet(), no_sdk_config():
        steps = builder.build()
        pipeline = sdk.Pipeline(
            name=plan.name,
            parameters=list(builder.params.values()),
            steps=steps,
            sagemaker_session=session,
        )
        definition = _definition(pipeline, plan, sdk, store)
    return Build(definition, dict(store.objects), sdk.version)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def _definition(pipeline: Any, plan: Plan, sdk: Sdk, store: LocalS3) -> str:
    try:
        text: str = pipeline.definition()
    except CompileError as exc:
        raise _locate(exc, _step_at_fault(exc, plan, sdk)) from None
    except Exception as exc:
        step = _step_at_fault(exc, plan, sdk)
        if store.refused:
            raise _locate(store.refuse(*store.refused[0].split(":")), step) from exc
        raise _rejected(step, exc) if step else _sdk_failure(plan, exc) from exc
    return text


def _step_at_fault(exc: BaseException, plan: Plan, sdk: Sdk) -> FunctionStep | None:
    """The plan step whose SDK object was being compiled when ``exc`` was raised.

    The SDK's compiler builds one step at a time (``StepsCompiler._build_step(step)``
    in both majors); the innermost frame holding a step of ours names it.
    """
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        for value in (frame.f_locals.get("step"), frame.f_locals.get("self")):
            if isinstance(value, sdk.Step) and value.name in plan.steps:
                found = plan.steps[value.name]
    return found if isinstance(found, FunctionStep) else None


def _locate(error: CompileError, step: FunctionStep | None) -> CompileError:
    if step is not None and error.location is None:
        error.location = step.location
    return error


def _rejected(step: FunctionStep, exc: BaseException) -> CompileError:
    """The SDK's reason, placed at the first setting it names, if it names one."""
    reason = _reason(exc)
    found = {k: re.search(rf"\b{k}\b", reason) for k in _step_keywords()}
    at = {k: m.start() for k, m in found.items() if m}
    named = sorted(at, key=at.__getitem__)
    given = [k for k in named if k in step.settings]
    message = f"step '{step.name}': the SageMaker SDK rejected its settings: {reason}"
    if given:
        where = step.where.get(given[0], step.location)
        return CompileError(message, f"fix '{given[0]}'", where)
    if named:
        hint = f"set '{named[0]}' under 'defaults:' or on the step"
        return CompileError(message, hint, step.location)
    hint = "check the step's settings and defaults"
    return CompileError(message, hint, step.location)


@cache
def _step_keywords() -> tuple[str, ...]:
    """The keyword arguments ``@step`` takes: the setting names an error may name."""
    return tuple(n for n in inspect.signature(load().step).parameters if n != "_func")


def _sdk_failure(plan: Plan, exc: BaseException) -> CompileError:
    return CompileError(
        f"the SageMaker SDK could not build pipeline '{plan.name}': {_reason(exc)}",
        "run with -v for the SDK's own log",
    )


def _reason(exc: BaseException) -> str:
    """The exception as one line: SDK messages carry indented continuation lines."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


class _Builder:
    """Turns the plan's steps into SDK steps, one small method per kind."""

    def __init__(
        self,
        sdk: Sdk,
        plan: Plan,
        functions: Mapping[str, Callable[..., Any]],
        scratch: Path,
    ) -> None:
        self.sdk = sdk
        self.plan = plan
        self.functions = functions
        self.scratch = scratch
        self.params = {p.name: self.parameter(p) for p in plan.parameters}
        self.outputs: dict[str, Any] = {}
        self.steps: dict[str, Any] = {}
        self.copies: dict[str, str] = {}

    def build(self) -> list[Any]:
        """SDK steps for the pipeline's top level, in the plan's order.

        Function steps come first (in topological order, so that every producer
        exists before its consumers), then fail steps, then condition steps from the
        innermost out, since a condition needs its branches' steps built.
        """
        plan_steps = list(self.plan.steps.values())
        for step in plan_steps:
            if isinstance(step, FunctionStep):
                self.function_step(step)
        for step in plan_steps:
            if isinstance(step, FailStep):
                self.fail_step(step)
        for step in reversed(plan_steps):
            if isinstance(step, ConditionStep):
                self.condition_step(step)
        for step in plan_steps:
            if step.after:
                self.steps[step.name].add_depends_on(
                    [self.steps[name] for name in step.after]
                )
        return [self.steps[n] for n in self.plan.steps if n not in self.plan.branch]

    # -- parameters and references -------------------------------------------

    def parameter(self, param: Parameter) -> Any:
        kind, python_type = _PARAMETER[param.type]
        default = param.default
        if default is not None:
            default = python_type(default)
        made = getattr(self.sdk, kind)
        return made(name=_interned(param.name), default_value=_interned(default))

    def value(self, value: Any) -> Any:
        """A plan value for the SDK: references become pipeline variables."""
        if isinstance(value, StepRef):
            output = self.outputs[value.step]
            for key in value.path:
                output = output[_interned(key)]
            return output
        if isinstance(value, ParamRef):
            return self.params[value.name]
        if isinstance(value, ExecutionRef):
            return getattr(self.sdk.ExecutionVariables, _EXECUTION[value.name])
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {_interned(k): self.value(item) for k, item in value.items()}
        return _interned(value)

    # -- function steps ------------------------------------------------------

    def function_step(self, step: FunctionStep) -> None:
        inputs = {
            _interned(key): self.input(step, key, value)
            for key, value in step.inputs.items()
        }
        settings = self.settings(step)
        try:
            decorator = self.sdk.step(name=step.name, **settings)
            output = decorator(self.functions[step.name])(**inputs)
        except Exception as exc:
            raise self.call_error(step, exc) from exc
        self.outputs[step.name] = output
        self.steps[step.name] = self.sdk.get_step(output)

    def input(self, step: FunctionStep, key: str, value: Any) -> Any:
        try:
            return self.value(value)
        except (TypeError, KeyError) as exc:
            # A string index on a ``-> tuple`` return: _DelayedSequence refuses it.
            raise CompileError(
                f"step '{step.name}': the SageMaker SDK cannot index {value}: "
                f"{_reason(exc)}",
                "index a tuple or list return with an integer",
                step.where.get(f"inputs.{key}", step.location),
            ) from exc

    def settings(self, step: FunctionStep) -> dict[str, Any]:
        """The ``@step`` keyword arguments, in the shapes the SDK takes."""
        settings = copy.deepcopy(dict(step.settings))
        if "tags" in settings:
            tags = settings["tags"].items()
            settings["tags"] = [{"Key": k, "Value": v} for k, v in tags]
        if "retry_policies" in settings:
            policies = settings["retry_policies"]
            settings["retry_policies"] = [self.retry_policy(p) for p in policies]
        if "pre_execution_script" in settings:
            self.existing(step, "pre_execution_script", "pre-execution script")
        dependencies = self.dependencies(step)
        if dependencies is not None:
            settings["dependencies"] = dependencies
        return settings

    def retry_policy(self, policy: Mapping[str, Any]) -> Any:
        names = list(policy["exception_types"])
        options = {k: v for k, v in policy.items() if k != "exception_types"}
        if all(name.startswith("Step.") for name in names):
            kinds = _members(self.sdk.StepExceptionTypeEnum, names)
            return self.sdk.StepRetryPolicy(exception_types=kinds, **options)
        kinds = _members(self.sdk.SageMakerJobExceptionTypeEnum, names)
        return self.sdk.SageMakerJobStepRetryPolicy(exception_types=kinds, **options)

    def dependencies(self, step: FunctionStep) -> str | None:
        """A fixed-name copy of the step's dependencies file, made once per file.

        v2 appends a ``sagemaker`` pin to the file it is given, in place, and with
        none it writes a randomly named one per step (sagemaker/remote_function/
        job.py, ``_ensure_sagemaker_dependency``): it gets an empty copy instead.
        """
        path = step.settings.get("dependencies")
        if path is None and self.sdk.major >= 3:
            return None
        if path is not None:
            self.existing(step, "dependencies", "dependencies file")
        source = str(path or "")
        if source not in self.copies:
            suffix = Path(source).suffix if source else ".txt"
            name = _DEPENDENCY_NAMES.get(suffix, f"dependencies{suffix}")
            target = self.scratch / str(len(self.copies)) / name
            target.parent.mkdir(parents=True)
            target.write_bytes(Path(source).read_bytes() if source else b"")
            self.copies[source] = str(target)
        return self.copies[source]

    def existing(self, step: FunctionStep, key: str, what: str) -> None:
        path = Path(step.settings[key])
        if path.is_file():
            return
        shown = _shown(path, self.plan.root)
        raise CompileError(
            f"step '{step.name}': the {what} {shown} does not exist",
            f"create it or fix '{key}' (paths are relative to the project root)",
            step.where.get(key, step.location),
        )

    def call_error(self, step: FunctionStep, exc: Exception) -> CompileError:
        """Place an error raised while applying ``@step`` and calling the function."""
        if isinstance(exc, CompileError):
            return _locate(exc, step)
        if isinstance(exc, TypeError) and "keyword argument" in str(exc):
            return _rejected(step, exc)
        if _unpicklable(self.functions[step.name]):
            return CompileError(
                f"step '{step.name}': cannot pickle {step.entrypoint}: "
                f"{_unpicklable(self.functions[step.name])}",
                "what the function uses must pickle with cloudpickle; create "
                "locks, clients and open files inside the function",
                step.where.get("entrypoint", step.location),
            )
        key = next((k for k, v in step.inputs.items() if _nested_ref(v)), None)
        if type(exc).__name__ == "SerializationError":
            where = step.where.get("inputs", step.location)
            return CompileError(
                f"step '{step.name}': the SageMaker SDK cannot serialise "
                f"{f'input {key!r}' if key else 'the inputs'}: {_reason(exc)}",
                "pass each reference as an input of its own, not inside a list "
                "or a mapping",
                step.where.get(f"inputs.{key}", where),
            )
        return _rejected(step, exc)

    # -- condition and fail steps --------------------------------------------

    def fail_step(self, step: FailStep) -> None:
        parts = [self.value(part) for part in step.message]
        if all(isinstance(part, str) for part in parts):
            message: Any = "".join(parts)
        else:
            message = self.sdk.Join(on="", values=parts)
        self.steps[step.name] = self.sdk.FailStep(
            name=step.name,
            error_message=message,
            display_name=step.display_name,
            description=step.description,
        )

    def condition_step(self, step: ConditionStep) -> None:
        self.steps[step.name] = self.sdk.ConditionStep(
            name=step.name,
            display_name=step.display_name,
            description=step.description,
            conditions=[self.condition(expr) for expr in step.conditions],
            if_steps=[self.steps[name] for name in step.then],
            else_steps=[self.steps[name] for name in step.else_],
        )

    def condition(self, expr: Expr) -> Any:
        sdk = self.sdk
        if isinstance(expr, Compare):
            left, right = self.value(expr.left), self.value(expr.right)
            kind = _COMPARE.get(expr.op, "ConditionEquals")
            made = getattr(sdk, kind)(left=left, right=right)
            return sdk.ConditionNot(expression=made) if expr.op == "!=" else made
        if isinstance(expr, In):
            options = [self.value(option) for option in expr.options]
            made = sdk.ConditionIn(value=self.value(expr.value), in_values=options)
            return sdk.ConditionNot(expression=made) if expr.negated else made
        if isinstance(expr, Not):
            return sdk.ConditionNot(expression=self.condition(expr.expr))
        return sdk.ConditionOr(conditions=[self.condition(e) for e in expr.exprs])


def _interned(value: Any) -> Any:
    """``value``, interned when it is a string made of identifier characters.

    Python interns such string constants in source code, so in a hand-written
    script the keyword ``stage=`` and the parameter name ``"stage"`` are one
    object, and the argument pickle refers back to it instead of repeating it.
    Strings read from YAML are distinct objects; interning them the same way keeps
    the pickles byte for byte those of the hand-written script.
    """
    if isinstance(value, str) and _IDENTIFIER_CHARACTERS.fullmatch(value):
        return sys.intern(value)
    return value


def _members(enum: Any, values: list[str]) -> list[Any]:
    """Enum members by value, looked up by hand.

    The SDK's enums use ``DefaultEnumMeta`` (sagemaker/core/workflow/entities.py),
    whose ``Enum("value")`` ignores a positional value and returns the first member.
    """
    by_value = {member.value: member for member in enum}
    return [by_value[value] for value in values]


def _unpicklable(function: Callable[..., Any]) -> str:
    """Why cloudpickle cannot pickle ``function``, or an empty string."""
    import cloudpickle  # type: ignore[import-untyped]

    try:
        cloudpickle.dumps(function)
    except Exception as exc:
        return _reason(exc)
    return ""


def _nested_ref(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    if not isinstance(value, (list, dict)):
        return False
    return any(isinstance(v, _REFS) or _nested_ref(v) for v in items)


def _shown(path: Path, root: Path) -> str:
    """``path`` relative to the project root when it lies under it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
