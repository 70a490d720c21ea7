"""The JSON Schema for editors: current, described, and equivalent to the models."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import REPO
from yamlpipe.loader import load
from yamlpipe.spec import KNOWN_INSTANCE_TYPES, RETRY_EXCEPTION_TYPES, Spec, json_schema

SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_committed_schema_is_current() -> None:
    committed = json.loads((REPO / "schemas" / "yamlpipe.schema.json").read_text())
    assert committed == SCHEMA, "run `make schema` and commit the result"


def test_schema_is_versioned_and_has_no_generated_titles() -> None:
    assert SCHEMA["$id"].endswith("/v1/yamlpipe.schema.json")
    assert SCHEMA["$schema"].startswith("https://json-schema.org/")
    assert '"title"' not in json.dumps(SCHEMA)


def _properties(node: Any) -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            found.append((name, prop))
        for value in node.values():
            found.extend(_properties(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_properties(value))
    return found


def test_every_key_has_a_description() -> None:
    missing = [name for name, prop in _properties(SCHEMA) if "description" not in prop]
    assert missing == []


def test_instance_types_are_offered_and_new_ones_pass() -> None:
    text = json.dumps(SCHEMA)
    assert "ml.m5.large" in text
    base = {"version": 1, "name": "p", "steps": [{"name": "a", "entrypoint": "m:f"}]}
    newer = {**base, "defaults": {"instance_type": "ml.m9z.96xlarge"}}
    wrong = {**base, "defaults": {"instance_type": "m5.large"}}
    assert VALIDATOR.is_valid(newer)
    assert not VALIDATOR.is_valid(wrong)


def test_example_spec_passes_the_schema() -> None:
    document = load(REPO / "specs" / "churn.yaml", environ={}).data
    VALIDATOR.validate(document)


# -- the schema and the models accept the same documents ----------------------

# Documents are built valid, then often mutated: both sides must then agree on
# acceptance, and both outcomes must occur (see the assume-free balance check).
names = st.sampled_from(
    ["train", "pre-process", "a_b", "x" * 64, "eval2", "churn-training", "B-1",
     "x" * 65, "", "a b", "-", "Ünï", "a\n"]
)
pipeline_names = st.sampled_from(["p", "churn-training", "a--b", "a_b", "-a", "a\n"])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 100),
    st.floats(allow_nan=False, allow_infinity=False), st.just(2.0),
    st.text(max_size=10),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


retry = st.fixed_dictionaries(
    {"exception_types": st.lists(st.sampled_from(RETRY_EXCEPTION_TYPES), min_size=1,
                                 max_size=2)},
    optional={
        "interval_seconds": st.integers(1, 5),
        "backoff_rate": st.floats(1, 3, allow_nan=False),
        "max_attempts": st.integers(1, 5),
        "expire_after_mins": st.integers(1, 5),
    },
)
settings_fields = {
    "instance_type": st.sampled_from([*KNOWN_INSTANCE_TYPES[:3], "ml.x.y", "big"]),
    "instance_count": st.integers(1, 3),
    "volume_size": st.one_of(st.integers(1, 50), st.just(30.0), st.just("30")),
    "use_spot_instances": st.booleans(),
    "image_uri": st.text(max_size=5),
    "environment_variables": st.dictionaries(st.text(max_size=3),
                                             st.text(max_size=3), max_size=2),
    "tags": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    "subnets": st.lists(st.text(max_size=3), max_size=2),
    "retry_policies": st.lists(retry, max_size=2),
    "max_retry_attempts": st.integers(0, 3),
}
function_step = st.fixed_dictionaries(
    {"name": names, "entrypoint": st.sampled_from(["m:f", "a.b:c", "x.py:f", "m"])},
    optional={**settings_fields,
              "inputs": st.dictionaries(st.sampled_from(["x", "y_1", "1x"]),
                                        json_values, max_size=3),
              "after": st.lists(names, max_size=2),
              "display_name": st.text(max_size=5)},
)
condition_step = st.fixed_dictionaries(
    {"name": names,
     "condition": st.one_of(st.text(max_size=10),
                            st.lists(st.text(max_size=5), max_size=2))},
    optional={"then": st.lists(names, max_size=2), "else": st.lists(names, max_size=2)},
)
fail_step = st.fixed_dictionaries({"name": names, "fail": st.text(max_size=10)})
parameter = st.one_of(
    st.fixed_dictionaries({"type": st.just("string")},
                          optional={"default": st.text(max_size=4)}),
    st.fixed_dictionaries({"type": st.just("integer")},
                          optional={"default": st.integers()}),
    st.fixed_dictionaries({"type": st.just("float")},
                          optional={"default": st.floats(allow_nan=False)}),
    st.fixed_dictionaries({"type": st.just("boolean")},
                          optional={"default": st.booleans(),
                                    "description": st.text(max_size=4)}),
)
documents = st.fixed_dictionaries(
    {"version": st.just(1), "name": pipeline_names,
     "steps": st.lists(st.one_of(function_step, condition_step, fail_step),
                       min_size=1, max_size=3)},
    optional={
        "description": st.text(max_size=5),
        "sagemaker": _optional(
            region=st.text(max_size=5),
            s3_root=st.sampled_from(["s3://bucket/x", "s3://b", "http://x", "s3://ab"]),
            tags=st.dictionaries(st.text(max_size=3), st.text(max_size=3),
                                 max_size=2),
        ),
        "parameters": st.dictionaries(names, parameter, max_size=3),
        "defaults": _optional(**settings_fields),
    },
)


def _mutate(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    """Replace one value somewhere in the document with an arbitrary one."""
    node: Any = document
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            node[key] = draw(json_values)
            return document
        node = node[key]
    if isinstance(node, dict):
        node[draw(st.text(max_size=6))] = draw(json_values)
    return document


@st.composite
def specs(draw: st.DrawFn) -> Any:
    document = draw(documents)
    return _mutate(draw, document) if draw(st.booleans()) else document


def _model_accepts(document: Any) -> bool:
    try:
        Spec.model_validate(document)
    except ValidationError:
        return False
    return True


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_schema_and_models_accept_the_same_documents(document: Any) -> None:
    accepted = VALIDATOR.is_valid(document)
    event("accepted" if accepted else "rejected")
    assert accepted == _model_accepts(document)


def test_generated_documents_are_both_accepted_and_rejected() -> None:
    # Guards the property above against a generator that only makes one kind.
    outcomes: set[bool] = set()

    @settings(max_examples=200, deadline=None, database=None)
    @given(specs())
    def collect(document: Any) -> None:
        outcomes.add(VALIDATOR.is_valid(document))

    collect()
    assert outcomes == {True, False}


@pytest.mark.parametrize("document", [
    {"version": 1, "name": "p", "steps": [{"name": "a", "entrypoint": "m:f"}]},
    {"version": True, "name": "p", "steps": [{"name": "a", "entrypoint": "m:f"}]},
    {"version": 1, "name": "p\n", "steps": [{"name": "a", "entrypoint": "m:f"}]},
    {"version": 1, "name": "p",
     "steps": [{"name": "a", "fail": "x", "condition": "y"}]},
    {"version": 1, "name": "p", "steps": [
        {"name": "c", "condition": "x", "else_": ["a"]}]},
    {"version": 1, "name": "p", "defaults": {"volume_size": 30.0},
     "steps": [{"name": "a", "entrypoint": "m:f"}]},
])
def test_schema_and_models_agree_on_known_edges(document: dict[str, Any]) -> None:
    assert VALIDATOR.is_valid(document) == _model_accepts(document)
