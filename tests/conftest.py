"""Shared fixtures: the repository root and the test project used by the specs."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
PROJECT = DATA / "project"


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, as users run yamlpipe from theirs."""
    monkeypatch.chdir(REPO)
    return REPO
