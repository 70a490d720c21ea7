"""Resolving a spec into a Plan: order, edges, branches, merged settings, checks.

The Plan of the example is a golden file; regenerate it with ``YAMLPIPE_REGEN=1``
and review the diff.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA, PROJECT, REPO
from yamlpipe import plan as p
from yamlpipe.errors import ErrorGroup
from yamlpipe.resolve import load_plan

GOLDEN = DATA / "plans" / "churn.json"
HEAD = "version: 1\nname: resolved\n"


def plan_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> p.Plan:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    return load_plan(spec, PROJECT, environ or {}, display="spec.yaml")


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ErrorGroup) as caught:
        plan_of(tmp_path, text)
    return [error.render() for error in caught.value.errors]


# -- the example, whole ------------------------------------------------------------


def plan_document(plan: p.Plan) -> dict[str, Any]:
    """The Plan as plain, machine-independent data."""
    return {
        "name": plan.name,
        "description": plan.description,
        "order": list(plan.steps),
        "target": _plain(dataclasses.asdict(plan.target)),
        "parameters": [_plain(dataclasses.asdict(x)) for x in plan.parameters],
        "steps": {name: _step_document(step) for name, step in plan.steps.items()},
        "upstream": {name: list(deps) for name, deps in plan.upstream.items()},
        "branch": {name: list(owner) for name, owner in sorted(plan.branch.items())},
    }


def _step_document(step: p.Step) -> dict[str, Any]:
    document = {
        field.name: _plain(getattr(step, field.name))
        for field in dataclasses.fields(step)
        if field.name not in ("name", "where", "location")
    }
    document["location"] = _plain(step.location)
    document["where"] = {key: _plain(loc) for key, loc in sorted(step.where.items())}
    return document


def _plain(value: Any) -> Any:
    """JSON-able: references as written, paths relative to the repository."""
    if isinstance(value, (p.StepRef, p.ParamRef, p.ExecutionRef)):
        return str(value)
    if isinstance(value, p.Location):
        return f"{value.path}:{value.line}:{value.col}"
    if isinstance(value, (p.Compare, p.In, p.Not, p.Or)):
        return repr(value)
    if isinstance(value, Path):
        return value.relative_to(REPO).as_posix()
    if isinstance(value, str) and value.startswith(str(REPO)):
        return Path(value).relative_to(REPO).as_posix()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def test_plan_of_the_example_matches_golden(in_repo: Path) -> None:
    plan = load_plan(Path("specs/churn.yaml"), REPO, environ={})
    actual = json.dumps(plan_document(plan), indent=2, sort_keys=True) + "\n"

    if os.environ.get("YAMLPIPE_REGEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(actual)
    assert actual == GOLDEN.read_text()


def test_plan_records_the_hash_of_the_spec_it_came_from(in_repo: Path) -> None:
    plan = load_plan(Path("specs/churn.yaml"), REPO, environ={})

    digest = hashlib.sha256(Path("specs/churn.yaml").read_bytes()).hexdigest()
    assert plan.spec_sha256 == digest


def test_example_steps_stand_in_topological_order(in_repo: Path) -> None:
    plan = load_plan(Path("specs/churn.yaml"), REPO, environ={})

    assert list(plan.steps) == [
        "preprocess", "train", "evaluate", "check-auc", "fail-low-auc", "register",
    ]
    assert plan.branch == {
        "register": ("check-auc", "then"), "fail-low-auc": ("check-auc", "else"),
    }


# -- order and edges ---------------------------------------------------------------


def test_independent_steps_are_ordered_by_name(tmp_path: Path) -> None:
    steps = "".join(
        f"  - name: {name}\n    entrypoint: pkg.tabular:echo\n" for name in "cab"
    )

    assert list(plan_of(tmp_path, f"{HEAD}steps:\n{steps}").steps) == ["a", "b", "c"]


def test_upstream_comes_from_references_after_and_branches(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, HEAD + """steps:
  - name: use
    entrypoint: pkg.tabular:echo
    after: [first]
    inputs:
      value: ${steps.make}
  - name: make
    entrypoint: pkg.tabular:echo
  - name: first
    entrypoint: pkg.tabular:echo
  - name: gate
    condition: ${steps.make} == 1
    then: [use]
""")

    assert list(plan.steps) == ["first", "make", "gate", "use"]
    assert plan.upstream == {
        "first": (), "make": (), "gate": ("make",), "use": ("first", "gate", "make"),
    }
    assert plan.branch == {"use": ("gate", "then")}


def test_cycle_is_named_in_data_flow_order_from_the_smallest_name(
    tmp_path: Path,
) -> None:
    assert problems(tmp_path, HEAD + """steps:
  - name: c
    entrypoint: pkg.tabular:echo
    inputs: {value: "${steps.b}"}
  - name: b
    entrypoint: pkg.tabular:echo
    after: [a]
  - name: a
    entrypoint: pkg.tabular:echo
    inputs: {value: "${steps.c}"}
""") == [
        "spec.yaml:10:11: dependency cycle: a -> b -> c -> a; a step cannot depend "
        "on itself; remove one of these references",
    ]


# -- settings -----------------------------------------------------------------------


MERGING = HEAD + """defaults:
  instance_type: ml.m5.large
  volume_size: 30
  environment_variables: {LOG_LEVEL: info, REGION: eu-west-1}
  tags: {team: ml, cost: "1"}
  dependencies: requirements.txt
steps:
  - name: a
    entrypoint: pkg.tabular:echo
    instance_type: ml.g5.xlarge
    environment_variables: {LOG_LEVEL: debug, EXTRA: "1"}
    tags: {cost: "2"}
  - name: b
    entrypoint: pkg.tabular:echo
    display_name: Bee
"""


def test_settings_merge_over_defaults_with_maps_merged_key_by_key(
    tmp_path: Path,
) -> None:
    steps = plan_of(tmp_path, MERGING).steps
    a = steps["a"]
    assert isinstance(a, p.FunctionStep)

    assert a.settings == {
        "instance_type": "ml.g5.xlarge",
        "volume_size": 30,
        "environment_variables": {
            "LOG_LEVEL": "debug", "REGION": "eu-west-1", "EXTRA": "1",
        },
        "tags": {"team": "ml", "cost": "2"},
        "dependencies": str(PROJECT / "requirements.txt"),
        "display_name": "a",
        "description": "Return what it was given.",
    }


def test_a_step_without_overrides_takes_the_defaults_unchanged(
    tmp_path: Path,
) -> None:
    b = plan_of(tmp_path, MERGING).steps["b"]
    assert isinstance(b, p.FunctionStep)

    assert b.settings["environment_variables"] == {
        "LOG_LEVEL": "info", "REGION": "eu-west-1",
    }
    assert b.settings["tags"] == {"team": "ml", "cost": "1"}
    assert b.settings["display_name"] == "Bee"


def test_where_points_at_the_step_or_the_defaults(tmp_path: Path) -> None:
    a = plan_of(tmp_path, MERGING).steps["a"]

    assert str(a.where["instance_type"]) == "spec.yaml:12:20"
    assert str(a.where["volume_size"]) == "spec.yaml:5:16"
    assert str(a.location) == "spec.yaml:10:5"


def test_escapes_become_literal_text_everywhere(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, """version: 1
name: escapes
description: costs $${PRICE}
sagemaker: {role: "arn:$${x}"}
parameters:
  p: {type: string, default: "$${p}", description: "$${d}"}
defaults:
  environment_variables: {T: "$${t}"}
steps:
  - name: a
    entrypoint: pkg.tabular:echo
    description: "$${s}"
    inputs: {value: "$${v}"}
  - name: stop
    fail: "$${f} ${params.p}"
""")
    a, stop = plan.steps["a"], plan.steps["stop"]
    assert isinstance(a, p.FunctionStep) and isinstance(stop, p.FailStep)

    assert plan.description == "costs ${PRICE}"
    assert plan.target.role == "arn:${x}"
    assert plan.parameters == (p.Parameter("p", "string", "${p}", "${d}"),)
    assert a.settings["environment_variables"] == {"T": "${t}"}
    assert a.settings["description"] == "${s}"
    assert a.inputs == {"value": "${v}"}
    assert stop.message == ("${f} ", p.ParamRef("p"))


def test_description_is_the_docstring_line_or_else_the_entrypoint(
    tmp_path: Path,
) -> None:
    steps = plan_of(tmp_path, HEAD + """steps:
  - name: documented
    entrypoint: pkg.tabular:load
    inputs: {uri: x}
  - name: double
    entrypoint: scripts/helper.py:double
    inputs: {x: 1}
""").steps
    documented, double = steps["documented"], steps["double"]
    assert isinstance(documented, p.FunctionStep)
    assert isinstance(double, p.FunctionStep)

    assert documented.settings["description"] == (
        "Split the rows at ``uri`` into a train and a test half."
    )
    assert double.settings["description"] == "scripts/helper.py:double"
    assert double.source == PROJECT / "scripts" / "helper.py"
    assert (double.module, double.function) == ("scripts/helper.py", "double")


# -- checks -------------------------------------------------------------------------


def test_problems_in_defaults_are_reported_once(tmp_path: Path) -> None:
    two_steps = "".join(
        f"  - name: {n}\n    entrypoint: pkg.tabular:echo\n" for n in "ab"
    )

    assert problems(tmp_path, HEAD + """defaults:
  instance_count: 2
  job_name_prefix: ${execution.id}
steps:
""" + two_steps) == [
        "spec.yaml:4:19: instance_count is 2; a function step runs on one instance; "
        "the SDK allows more only for Spark jobs; remove instance_count",
        "spec.yaml:5:20: reference in 'job_name_prefix', which takes only literal "
        "values; references are allowed in inputs, condition and fail; write $${ "
        "for a literal",
    ]


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    assert problems(tmp_path, HEAD + """parameters:
  rate: {type: float, default: 0.1}
steps:
  - name: train
    entrypoint: pkg.tabular:train
    inputs:
      train_df: ${steps.lod[0]}
      rate: ${params.rat}
      epoch: 3
  - name: gate
    condition: ${steps.train['x']} > 1 or ${params.rate} > ${params.rte}
    then: [nowhere]
""") == [
        "spec.yaml:9:17: unknown step 'lod'; the steps are gate, train",
        "spec.yaml:10:13: unknown parameter 'rat'; did you mean 'rate'?",
        "spec.yaml:11:7: pkg.tabular:train takes no parameter 'epoch'; did you mean "
        "'epochs'?",
        "spec.yaml:13:60: unknown parameter 'rte'; did you mean 'rate'?",
        "spec.yaml:14:12: unknown step 'nowhere'; the steps are gate, train",
    ]


def test_index_checks_follow_the_return_annotation_through_chains(
    tmp_path: Path,
) -> None:
    assert problems(tmp_path, HEAD + """steps:
  - name: evaluate
    entrypoint: pkg.tabular:evaluate
    inputs: {model: {}, test_df: []}
  - name: rank
    entrypoint: pkg.tabular:ranked
    inputs: {metrics: "${steps.evaluate}"}
  - name: ok
    entrypoint: pkg.tabular:echo
    inputs: {value: "${steps.rank[1]['auc']}"}
  - name: bad
    entrypoint: pkg.tabular:echo
    inputs: {value: "${steps.rank[1]['auc'][0]}"}
""") == [
        "spec.yaml:15:22: ${steps.rank[1]['auc'][0]}: the result[1]['auc'] is "
        "annotated as float and cannot be indexed; remove the index",
    ]


def test_unknown_return_shapes_are_not_second_guessed(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, HEAD + """steps:
  - name: t
    entrypoint: pkg.tabular:train
    inputs: {train_df: []}
  - name: use
    entrypoint: pkg.tabular:echo
    inputs: {value: "${steps.t['weights'][0]}"}
""")

    assert plan.steps["use"].inputs == {  # type: ignore[union-attr]
        "value": p.StepRef("t", ("weights", 0))
    }


def test_paths_in_errors_are_shown_relative_to_here(
    tmp_path: Path, in_repo: Path
) -> None:
    assert problems(tmp_path, HEAD + """steps:
  - name: a
    entrypoint: pkg.missing:run
""") == [
        "spec.yaml:5:17: cannot find module 'pkg.missing' under tests/data/project; "
        "entrypoints resolve from the project root; check the path or pass --root",
    ]


def test_modules_are_not_found_through_the_working_directory(
    tmp_path: Path, in_repo: Path
) -> None:
    # steps/ exists in the repository (the working directory) but not in the root.
    assert problems(tmp_path, HEAD + """steps:
  - name: a
    entrypoint: steps.train:train
""") == [
        "spec.yaml:5:17: cannot find module 'steps.train' under tests/data/project; "
        "entrypoints resolve from the project root; check the path or pass --root",
    ]


def test_a_step_module_deleted_after_a_lookup_is_reported(tmp_path: Path) -> None:
    # Module lookups are cached; a long-lived process must not trust a stale entry.
    (tmp_path / "gone.py").write_text("def f(x):\n    return x\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEAD + "steps:\n  - name: a\n    entrypoint: gone:f\n"
                    "    inputs: {x: 1}\n")
    load_plan(spec, tmp_path, {}, display="spec.yaml")
    (tmp_path / "gone.py").unlink()

    with pytest.raises(ErrorGroup) as caught:
        load_plan(spec, tmp_path, {}, display="spec.yaml")

    assert caught.value.render() == (
        f"spec.yaml:5:17: cannot find module 'gone' under {tmp_path}; entrypoints "
        "resolve from the project root; check the path or pass --root"
    )
