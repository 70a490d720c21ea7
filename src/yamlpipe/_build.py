"""Read a build directory that ``compile`` wrote, checking it is whole.

Deploy ships the build, not the spec: the definition, the staged artifacts and
the pipeline settings recorded in ``manifest.json``. Every file is checked against
the hash the manifest holds, so what is uploaded is what compile wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yamlpipe.compile import definition_text
from yamlpipe.errors import DeployError, UsageError

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Artifact:
    """One object to upload, staged on disk (``path``) or held in memory."""

    path: Path | None
    bucket: str
    key: str
    sha256: str
    data: bytes | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def body(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


@dataclass(frozen=True)
class Build:
    """What ``deploy`` needs from ``build/<pipeline>/``."""

    directory: Path
    name: str
    description: str
    region: str | None
    role: str | None
    tags: Mapping[str, str]
    definition: dict[str, Any]
    artifacts: tuple[Artifact, ...]
    # Where the definition goes when it is too long to send inline.
    definition_uri: str | None

    @property
    def text(self) -> str:
        """The definition as it is sent: compact, keys sorted (``compile``'s form)."""
        return definition_text(self.definition)

    def staged(self) -> list[Artifact]:
        """Every object deploy puts in S3: the artifacts, then the definition when
        it is too long to send inline."""
        if self.definition_uri is None:
            return list(self.artifacts)
        data = self.text.encode()
        bucket, key = split_uri(self.definition_uri)
        return [*self.artifacts, Artifact(None, bucket, key, sha256(data), data)]


def read_build(directory: Path) -> Build:
    """The build in ``directory``, its files checked against the manifest."""
    manifest = _manifest(directory)
    pipeline = manifest["pipeline"]
    record = manifest["definition"]
    definition = json.loads(_checked(directory, record["path"], record["sha256"]))
    return Build(
        directory=directory,
        name=pipeline["name"],
        description=pipeline.get("description") or "",
        region=pipeline.get("region"),
        role=pipeline.get("role_arn"),
        tags=dict(pipeline.get("tags") or {}),
        definition=definition,
        artifacts=tuple(_artifact(directory, a) for a in manifest["artifacts"]),
        definition_uri=record.get("s3_uri") if record.get("via_s3") else None,
    )


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as ``(bucket, key)``."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest(directory: Path) -> dict[str, Any]:
    path = directory / "manifest.json"
    if not path.is_file():
        raise UsageError(
            f"{directory} is not a yamlpipe build: it has no manifest.json",
            "give a spec, or a directory that yamlpipe compile wrote "
            "(build/<pipeline>/)",
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise _broken(directory, f"manifest.json is not JSON ({exc})") from None
    version = manifest.get("manifest_version")
    if version != MANIFEST_VERSION:
        what = f"manifest version {version!r} is not {MANIFEST_VERSION}"
        raise _broken(directory, what)
    return manifest


def _artifact(directory: Path, record: Mapping[str, str]) -> Artifact:
    _checked(directory, record["path"], record["sha256"])
    bucket, key = split_uri(record["s3_uri"])
    return Artifact(directory / record["path"], bucket, key, record["sha256"])


def _checked(directory: Path, relative: str, expected: str) -> bytes:
    path = directory / relative
    try:
        data = path.read_bytes()
    except OSError:
        raise _broken(directory, f"{relative} is missing") from None
    if sha256(data) != expected:
        raise _broken(directory, f"{relative} changed after compile")
    return data


def _broken(directory: Path, what: str) -> DeployError:
    return DeployError(
        f"{directory}: {what}",
        "compile again (yamlpipe compile SPEC) and deploy the new build",
    )
