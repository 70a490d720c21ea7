"""Golden tests: every spec under tests/data/invalid/ gives exactly its expected
output and exit code from ``yamlpipe validate``; every spec under tests/data/valid/
validates cleanly.

Each ``NAME.yaml`` has a ``NAME.expected`` beside it: the exit code on the first
line, then what ``validate`` printed on stderr. Regenerate them with
``YAMLPIPE_REGEN=1 make test`` and review the diff; never edit them by hand.
Entrypoints resolve from tests/data/project/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DATA, PROJECT, REPO
from yamlpipe.cli import main

INVALID = sorted((DATA / "invalid").glob("*.yaml"))
VALID = sorted((DATA / "valid").glob("*.yaml"))
# The environment the corpus sees: ${env.*} cases rely on exactly this.
ENV = {"YAMLPIPE_TEST_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/t:1"}


def validate(path: Path) -> tuple[int, str]:
    runner = CliRunner()
    relative = path.relative_to(REPO)
    old = Path.cwd()
    os.chdir(REPO)
    try:
        env = {k: None for k in os.environ if k.startswith("YAMLPIPE_TEST")}
        result = runner.invoke(
            main, ["validate", "--root", str(PROJECT), str(relative)],
            env={**env, **ENV},
        )
    finally:
        os.chdir(old)
    return result.exit_code, result.stderr


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_invalid_spec_reports_exact_message(case: Path) -> None:
    code, stderr = validate(case)
    actual = f"exit {code}\n{stderr}"
    expected_path = case.with_suffix(".expected")
    if os.environ.get("YAMLPIPE_REGEN"):
        expected_path.write_text(actual)
    assert actual == expected_path.read_text()
    assert code == 1


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_valid_spec_passes(case: Path) -> None:
    code, stderr = validate(case)
    assert (code, stderr) == (0, "")


def test_corpus_is_not_empty() -> None:
    assert len(INVALID) >= 60
    assert VALID
