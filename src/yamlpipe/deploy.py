"""Put a compiled pipeline on SageMaker, and tell how the deployed one differs.

``deploy_build`` ships ``build/<pipeline>/`` as compile wrote it, with boto3 and no
SageMaker SDK (whose ``Pipeline.upsert()`` would compile and upload again under a new
timestamp):

1. read the build, each file checked against the manifest's sha256;
2. read the deployed pipeline; when it already matches the build (the definition
   once normalised, the code, role, description and tags), stop: "unchanged";
3. upload each staged object that S3 does not already hold with the same sha256
   (kept in the object's metadata), and the definition itself when it is too long
   to send inline;
4. CreatePipeline, or UpdatePipeline and AddTags.

A failure in step 3 leaves the pipeline as it was, and the next deploy uploads only
what is still missing. ``diff_deployed`` is steps 1 and 2, told step by step.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from yamlpipe._aws import Aws, describe_pipeline, error_code, translated
from yamlpipe._build import Artifact, Build, read_build, split_uri
from yamlpipe._compare import Change, Deployed, compare
from yamlpipe.errors import DeployError, UsageError

logger = logging.getLogger(__name__)

Action = Literal["created", "updated", "unchanged"]
# The S3 user metadata that records an object's sha256 (x-amz-meta-sha256).
SHA256_METADATA = "sha256"
# Uploads and HEADs run this many at a time; boto3 clients are thread-safe.
_WORKERS = 8
T = TypeVar("T")


@dataclass(frozen=True)
class DeployResult:
    """What a deploy did or, with ``dry_run``, would do."""

    pipeline: str
    action: Action
    arn: str | None
    uploaded: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    dry_run: bool = False

    def summary(self) -> str:
        """Lines for people: what changed and, for a dry run, each upload and call."""
        if self.action == "unchanged":
            return f"{self.pipeline}: unchanged (the deployed pipeline matches)"
        lines = [change.render() for change in self.changes]
        counts = f"{len(self.uploaded)} uploaded, {len(self.skipped)} already in S3"
        if not self.dry_run:
            return "\n".join([*lines, f"{self.pipeline}: {self.action} ({counts})"])
        lines += [f"would upload {uri}" for uri in self.uploaded]
        lines += [f"would call {call}" for call in self.calls]
        verb = "create" if self.action == "created" else "update"
        return "\n".join([*lines, f"{self.pipeline}: would {verb} ({counts})"])


@dataclass(frozen=True)
class DiffResult:
    """The deployed pipeline against a build, step by step."""

    pipeline: str
    build_dir: Path
    deployed: bool
    changes: tuple[Change, ...]

    @property
    def equal(self) -> bool:
        return self.deployed and not self.changes

    @property
    def text(self) -> str:
        if not self.deployed:
            return f"{self.pipeline}: not deployed; the whole build is new\n"
        if self.equal:
            return f"{self.pipeline}: the deployed pipeline matches {self.build_dir}\n"
        head = f"{self.pipeline}: the deployed pipeline differs from {self.build_dir}"
        return "\n".join([head, *(c.render() for c in self.changes)]) + "\n"


@dataclass(frozen=True)
class _Calls:
    """The pipeline calls a deploy makes after its uploads."""

    create: bool
    update: bool
    tags: Mapping[str, str]

    def describe(self, name: str) -> tuple[str, ...]:
        calls = [f"CreatePipeline {name}"] if self.create else []
        calls += [f"UpdatePipeline {name}"] if self.update else []
        if self.tags:
            calls.append(f"AddTags {name} {', '.join(sorted(self.tags))}")
        return tuple(calls)


def prepared_build(target: Path, out_dir: Path, root: Path | None = None) -> Path:
    """The build to ship: ``target`` when it is one, else the spec compiled."""
    if target.is_dir():
        return target
    from yamlpipe.compile import compile_plan
    from yamlpipe.resolve import load_plan

    return compile_plan(load_plan(target, root), out_dir).pipeline_dir


def deploy_build(
    pipeline_dir: Path,
    *,
    region: str | None = None,
    dry_run: bool = False,
    aws: Aws | None = None,
) -> DeployResult:
    """Create or update the pipeline in ``pipeline_dir``; idempotent."""
    build = read_build(pipeline_dir)
    aws = aws or Aws(_region(build, region))
    objects = _Objects(aws)
    deployed = _read_deployed(aws, build)
    changes = tuple(compare(build, deployed, objects.holds)) if deployed else ()
    if deployed and not changes:
        logger.info("%s is unchanged", build.name)
        return DeployResult(build.name, "unchanged", deployed.arn, dry_run=dry_run)

    pending, held = objects.partition(build.staged())
    calls = _calls(build, deployed, changes)
    result = DeployResult(
        pipeline=build.name,
        action="updated" if deployed else "created",
        arn=deployed.arn if deployed else None,
        uploaded=tuple(a.uri for a in pending),
        skipped=tuple(a.uri for a in held),
        calls=calls.describe(build.name),
        changes=changes,
        dry_run=dry_run,
    )
    if dry_run:
        return result

    objects.upload(pending)
    arn = _apply(aws, build, deployed, calls)
    logger.info("%s %s", result.action, build.name)
    return replace(result, arn=arn)


def diff_deployed(
    pipeline_dir: Path, *, region: str | None = None, aws: Aws | None = None
) -> DiffResult:
    """How the deployed pipeline differs from the build in ``pipeline_dir``."""
    build = read_build(pipeline_dir)
    aws = aws or Aws(_region(build, region))
    deployed = _read_deployed(aws, build)
    if deployed is None:
        return DiffResult(build.name, pipeline_dir, False, ())
    changes = compare(build, deployed, _Objects(aws).holds)
    return DiffResult(build.name, pipeline_dir, True, tuple(changes))


def _region(build: Build, region: str | None) -> str | None:
    """The build's region; the definition names it (job arguments, environment)."""
    if region and build.region and region != build.region:
        raise UsageError(
            f"--region {region}: {build.name} was compiled for {build.region}",
            "change sagemaker.region in the spec and compile again",
        )
    return build.region or region


# -- the deployed pipeline ------------------------------------------------------------


def _read_deployed(aws: Aws, build: Build) -> Deployed | None:
    described = describe_pipeline(aws, build.name)
    if described is None:
        return None
    arn = described["PipelineArn"]
    # Only the spec's tags are compared; reading them needs sagemaker:ListTags.
    with translated(f"reading the tags of {build.name}"):
        tags = _tags(aws, arn) if build.tags else {}
    return Deployed(
        arn=arn,
        text=described.get("PipelineDefinition", ""),
        role=described.get("RoleArn"),
        description=described.get("PipelineDescription") or "",
        tags=tags,
    )


def _tags(aws: Aws, arn: str) -> dict[str, str]:
    paginator = aws.sagemaker.get_paginator("list_tags")
    return {
        tag["Key"]: tag["Value"]
        for page in paginator.paginate(ResourceArn=arn)
        for tag in page.get("Tags", [])
    }


# -- the pipeline calls -------------------------------------------------------------


def _calls(
    build: Build, deployed: Deployed | None, changes: Sequence[Change]
) -> _Calls:
    if deployed is None:
        return _Calls(create=True, update=False, tags={})
    tags = {k: v for k, v in build.tags.items() if deployed.tags.get(k) != v}
    update = any(change.subject != "tags" for change in changes)
    return _Calls(create=False, update=update, tags=tags)


def _apply(aws: Aws, build: Build, deployed: Deployed | None, calls: _Calls) -> str:
    if deployed is None:
        return _create(aws, build)
    if calls.update:
        _update(aws, build)
    if calls.tags:
        with translated(f"tagging pipeline {build.name}", "its definition is deployed"):
            aws.sagemaker.add_tags(ResourceArn=deployed.arn, Tags=_tag_list(calls.tags))
    return deployed.arn


def _create(aws: Aws, build: Build) -> str:
    if not build.role:
        raise DeployError(
            f"pipeline {build.name} has no role to run as",
            "set sagemaker.role in the spec and compile again",
        )
    arguments = _pipeline_arguments(build)
    if build.tags:
        arguments["Tags"] = _tag_list(build.tags)
    with translated(f"creating pipeline {build.name}", "nothing was created"):
        response = aws.sagemaker.create_pipeline(**arguments)
    return str(response["PipelineArn"])


def _update(aws: Aws, build: Build) -> None:
    done = "the deployed version was left as it was"
    with translated(f"updating pipeline {build.name}", done):
        aws.sagemaker.update_pipeline(**_pipeline_arguments(build))


def _pipeline_arguments(build: Build) -> dict[str, Any]:
    arguments: dict[str, Any] = {"PipelineName": build.name}
    if build.definition_uri:
        bucket, key = split_uri(build.definition_uri)
        arguments["PipelineDefinitionS3Location"] = {"Bucket": bucket, "ObjectKey": key}
    else:
        arguments["PipelineDefinition"] = build.text
    if build.role:
        arguments["RoleArn"] = build.role
    # Sent even when empty (the API allows it), so that clearing it takes effect.
    arguments["PipelineDescription"] = build.description
    return arguments


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


# -- S3 objects -----------------------------------------------------------------------


class _Objects:
    """HEADs (remembered) and uploads of staged objects."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.heads: dict[tuple[str, str], dict[str, Any] | None] = {}

    def holds(self, artifact: Artifact, bucket: str, key: str) -> bool:
        """Whether ``s3://bucket/key`` has the artifact's bytes."""
        head = self._head(bucket, key)
        if head is None:
            return False
        stored = head.get("Metadata", {}).get(SHA256_METADATA)
        if stored:
            return bool(stored == artifact.sha256)
        # An object yamlpipe did not upload: a single-part ETag is the MD5.
        etag = str(head.get("ETag", "")).strip('"')
        md5 = hashlib.md5(artifact.body(), usedforsecurity=False).hexdigest()
        return etag == md5

    def partition(
        self, artifacts: Sequence[Artifact]
    ) -> tuple[list[Artifact], list[Artifact]]:
        """The artifacts S3 lacks (to upload) and those it already holds."""
        held = _parallel(lambda a: self.holds(a, a.bucket, a.key), artifacts)
        pairs = list(zip(artifacts, held, strict=True))
        return [a for a, h in pairs if not h], [a for a, h in pairs if h]

    def upload(self, artifacts: Sequence[Artifact]) -> None:
        done: list[str] = []

        def put(artifact: Artifact) -> None:
            with translated(f"uploading {artifact.uri}"):
                self.aws.s3.put_object(
                    Bucket=artifact.bucket,
                    Key=artifact.key,
                    Body=artifact.body(),
                    Metadata={SHA256_METADATA: artifact.sha256},
                )
            done.append(artifact.uri)
            logger.debug("uploaded %s", artifact.uri)

        try:
            _parallel(put, artifacts)
        except DeployError as exc:
            partly = (
                f"{len(done)} of {len(artifacts)} objects were uploaded and nothing "
                "was created or updated; deploy again to finish"
            )
            hint = f"{exc.hint}; {partly}" if exc.hint else partly
            raise DeployError(exc.message, hint) from exc

    def _head(self, bucket: str, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        if (bucket, key) not in self.heads:
            with translated(f"checking s3://{bucket}/{key}"):
                try:
                    head = self.aws.s3.head_object(Bucket=bucket, Key=key)
                except ClientError as exc:
                    if error_code(exc) not in ("404", "NoSuchKey"):
                        raise
                    head = None
            self.heads[(bucket, key)] = head
        return self.heads[(bucket, key)]


def _parallel(work: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
    """``work`` over ``items`` on a few threads; the first error cancels the rest."""
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        futures = [pool.submit(work, item) for item in items]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and f.exception()), None)
        if failed is not None:
            for future in futures:
                future.cancel()
            error = failed.exception()
            assert error is not None
            raise error
        return [future.result() for future in futures]
