"""Literal credentials in a spec are errors.

A spec is committed, reviewed and compiled into a pipeline definition that anyone with
``sagemaker:DescribePipeline`` can read, so a key written into it (or substituted into
it from ``${env.*}`` at load time) leaks. Jobs get their credentials from their IAM
role; secrets belong in Secrets Manager or Parameter Store, read by the function.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from yamlpipe.errors import SpecError

if TYPE_CHECKING:
    from yamlpipe.loader import PathKey, SourceMap

# Key IDs start AKIA (long-term) or ASIA (temporary): IAM User Guide, "IAM
# identifiers", unique ID prefixes.
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")
_SECRET_NAME = re.compile(r"aws_secret_access_key|aws_session_token", re.IGNORECASE)
_SECRET_ASSIGNMENT = re.compile(
    r"(?:aws_secret_access_key|aws_session_token)\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{16,}",
    re.IGNORECASE,
)
_HINT = (
    "never put credentials in a spec: jobs run with their IAM role; read secrets "
    "from Secrets Manager inside the function"
)


def find_secrets(data: Any, source: SourceMap) -> list[SpecError]:
    """Every literal credential in a loaded document, located."""
    errors = []
    for path, key, value in _strings(data, ()):
        what = _what(key, value)
        if what:
            errors.append(SpecError(f"{what} in '{_dotted(path)}'", _HINT,
                                    source.locate(path)))
    return errors


def _what(key: str | None, value: str) -> str | None:
    if _PRIVATE_KEY.search(value):
        return "a literal private key"
    if _ACCESS_KEY_ID.search(value):
        return "a literal AWS access key ID"
    if key is not None and _SECRET_NAME.fullmatch(key) and value.strip():
        return f"a literal {key}"
    if _SECRET_ASSIGNMENT.search(value):
        return "a literal AWS secret access key"
    return None


def _strings(
    value: Any, path: tuple[int | str, ...], key: str | None = None
) -> Iterator[tuple[PathKey, str | None, str]]:
    if isinstance(value, str):
        yield path, key, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _strings(item, path + (name,), str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,), key)


def _dotted(path: tuple[int | str, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")
