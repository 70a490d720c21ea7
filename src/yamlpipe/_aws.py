"""The boto3 clients deploy uses, and AWS failures turned into ``DeployError``.

Credentials, region and endpoint come from boto3's standard chain (profile,
environment, ``AWS_ENDPOINT_URL``); ``--region`` only overrides the region.
Nothing here reads, stores or prints a credential.

Retries are botocore's standard mode: throttling and transient errors (5xx,
connection resets) are retried with jittered exponential backoff, up to
``AWS_MAX_ATTEMPTS`` attempts (3 by default); access-denied and validation
errors are not (botocore/retries/standard.py).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from yamlpipe import __version__
from yamlpipe.errors import DeployError

if TYPE_CHECKING:
    import boto3

logger = logging.getLogger(__name__)

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "403"})
THROTTLED = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException",
    "RequestThrottledException", "TooManyRequestsException", "SlowDown",
})
# The IAM actions of the S3 calls deploy makes; HeadObject needs s3:GetObject
# (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). Every
# other call deploy makes is a SageMaker one, named after its action.
_S3_ACTIONS = {
    "HeadObject": "s3:GetObject", "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
}
# AWS names the missing action in the message: "... is not authorized to perform:
# sagemaker:CreatePipeline on resource: ...".
_PERFORM = re.compile(r"perform: ([\w-]+:[\w*]+)")


class Aws:
    """The S3 and SageMaker clients of one session, made when first used.

    ``session`` is a boto3 session to take them from (a profile's, say); without
    one, a new session reads the standard chain.
    """

    def __init__(
        self,
        region: str | None = None,
        session: boto3.session.Session | None = None,
    ) -> None:
        self.region = region
        self._session = session

    @cached_property
    def session(self) -> boto3.session.Session:
        import boto3

        return self._session or boto3.session.Session(region_name=self.region)

    @cached_property
    def s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def sagemaker(self) -> Any:
        return self._client("sagemaker")

    def _client(self, service: str) -> Any:
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard"},
            user_agent_appid=f"yamlpipe-{__version__}",
        )
        with translated(f"connecting to {service}"):
            return self.session.client(service, region_name=self.region, config=config)


@contextlib.contextmanager
def translated(doing: str, done: str = "") -> Iterator[None]:
    """Turn boto3's exceptions inside the block into a ``DeployError``.

    ``doing`` says what failed (``creating pipeline churn``); ``done`` is what the
    user should know was or was not changed, added to the hint.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        raise client_error(exc, doing, done) from exc
    except BotoCoreError as exc:
        hint = _joined(_chain_hint(exc), done)
        raise DeployError(f"{doing} failed: {exc}", hint) from exc


def client_error(exc: Any, doing: str, done: str = "") -> DeployError:
    """A ``DeployError`` naming the AWS error code and, when denied, the action."""
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message") or ""
    what = f"{doing} failed: {exc.operation_name} returned {code}"
    if message and message != code:
        what = f"{what} ({message})"
    return DeployError(what, _joined(_code_hint(exc, code), done))


def error_code(exc: Any) -> str:
    """The error code of a ``ClientError``, or its HTTP status when it has none."""
    response = exc.response
    code = response.get("Error", {}).get("Code")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(code or status or "unknown")


def describe_pipeline(aws: Aws, name: str) -> dict[str, Any] | None:
    """DescribePipeline's answer, or None when there is no such pipeline."""
    from botocore.exceptions import ClientError

    with translated(f"reading pipeline {name}"):
        try:
            described: dict[str, Any] = aws.sagemaker.describe_pipeline(
                PipelineName=name
            )
        except ClientError as exc:
            if _is_missing_pipeline(exc):
                return None
            raise
    return described


def _is_missing_pipeline(exc: Any) -> bool:
    # AWS answers ResourceNotFound; moto a ValidationException "Could not find".
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    return code == "ResourceNotFound" or (
        code == "ValidationException" and "could not find" in message.lower()
    )


def missing_permission(exc: Any) -> str:
    """The IAM action an access-denied ``ClientError`` says (or implies) was missing."""
    message = exc.response.get("Error", {}).get("Message") or ""
    found = _PERFORM.search(message)
    if found:
        return found.group(1)
    operation = exc.operation_name
    return _S3_ACTIONS.get(operation, f"sagemaker:{operation}")


def _code_hint(exc: Any, code: str) -> str:
    if code in ACCESS_DENIED:
        return f"the caller is not allowed {missing_permission(exc)}; grant it in IAM"
    if code == "NoSuchBucket":
        return "the bucket does not exist; create it or change sagemaker.s3_root"
    if code in THROTTLED:
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        return f"AWS was still throttling after {attempts + 1} attempts; retry later"
    return ""


def _chain_hint(exc: Exception) -> str:
    from botocore.exceptions import (
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(exc, NoRegionError):
        # boto3 reads AWS_DEFAULT_REGION; AWS_REGION is only the other SDKs'.
        return "pass --region, or set AWS_DEFAULT_REGION or a profile's region"
    if isinstance(exc, NoCredentialsError):
        return "configure credentials (a profile, AWS_PROFILE or the environment)"
    if isinstance(exc, EndpointConnectionError):
        return "check the network, the region and AWS_ENDPOINT_URL"
    return ""


def _joined(*parts: str) -> str:
    return "; ".join(part for part in parts if part)
