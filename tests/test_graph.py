"""`yamlpipe graph`: whole outputs compared with golden files.

Regenerate with ``YAMLPIPE_REGEN=1`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO
from yamlpipe.graph import FORMATS, edges, render
from yamlpipe.resolve import load_plan

GOLDEN = REPO / "tests" / "golden"


@pytest.fixture
def churn(in_repo: Path):
    return load_plan(Path("specs/churn.yaml"), environ={})


@pytest.mark.parametrize("fmt", FORMATS)
def test_graph_of_the_example_matches_golden(churn, fmt: str) -> None:
    output = render(churn, fmt)  # type: ignore[arg-type]
    golden = GOLDEN / f"churn.graph.{fmt}"
    if os.environ.get("YAMLPIPE_REGEN"):
        golden.write_text(output)
    assert output == golden.read_text()


def test_condition_branches_are_labelled(churn) -> None:
    kinds = {(e.source, e.target): e.kind for e in edges(churn)}
    assert kinds[("check-auc", "register")] == "then"
    assert kinds[("check-auc", "fail-low-auc")] == "else"
    assert kinds[("preprocess", "train")] == "data"


def test_after_edges_are_drawn_dashed(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "m.py").write_text("def f():\n    return 1\n")
    spec = tmp_path / "p.yaml"
    spec.write_text(
        "version: 1\nname: p\nsteps:\n"
        "  - {name: a, entrypoint: 'm:f'}\n"
        "  - {name: b, entrypoint: 'm:f', after: [a]}\n"
    )
    monkeypatch.chdir(tmp_path)
    plan = load_plan(spec)
    assert "s_a -.-> s_b" in render(plan, "mermaid")
    assert '"a" -> "b" [style=dashed];' in render(plan, "dot")
