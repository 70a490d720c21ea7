"""The loader's contract, checked on arbitrary bytes by the fuzzer and the
property tests: a spec either resolves, or fails with ``YamlpipeError``s whose
locations lie inside the file. Any other exception is a bug.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from yamlpipe.errors import YamlpipeError, flatten
from yamlpipe.resolve import load_plan

# Entrypoints resolve in the corpus's test project, so that inputs get as far as
# the signature checks.
_PROJECT = Path(__file__).resolve().parent / "data" / "project"
_SPEC = Path(tempfile.mkdtemp(prefix="yamlpipe-oracle-")) / "spec.yaml"


def check(raw: bytes) -> str:
    """Load ``raw`` as a spec; return 'ok' or 'error', raise on a contract breach."""
    _SPEC.write_bytes(raw)
    try:
        load_plan(_SPEC, root=_PROJECT, environ={}, display="spec.yaml")
    except YamlpipeError as exc:
        for error in flatten([exc]):
            _check_location(error, raw)
            assert error.render()
        return "error"
    return "ok"


def _check_location(error: YamlpipeError, raw: bytes) -> None:
    loc = error.location
    assert loc is not None, f"error without a location: {error.render()}"
    assert loc.path == "spec.yaml", loc
    lines = raw.count(b"\n") + raw.count(b"\r") + 1
    assert 1 <= loc.line <= lines, (loc, lines, error.render())
    assert loc.col >= 1, (loc, error.render())
