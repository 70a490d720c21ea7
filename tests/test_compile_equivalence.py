"""The compiled pipeline is the hand-written one, valid, repeatable, and self-contained.

- equal, after normalisation, to the definition and artifacts of the hand-written
  ``@step`` script in tests/handwritten/ for each spec;
- no worse than that script against AWS's published definition schema, and accepted
  by botocore's own CreatePipeline parameter validation;
- the same from one compile to the next, whatever the working directory, hash seed,
  time zone or time of day;
- carrying its step code: each function payload loads and runs in a fresh
  interpreter that cannot import the project.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.compiling import (
    CASES,
    REPO,
    SPECS,
    build_artifacts,
    compile_case,
    hand_written,
    hand_written_artifacts,
    plan_of,
    read_json,
)
from yamlpipe.compile import (
    INLINE_LIMIT,
    build_times,
    compile_plan,
    definition_text,
    normalize_definition,
)
from yamlpipe.resolve import load_plan

pytestmark = pytest.mark.sdk

SCHEMA = REPO / "tests" / "data" / "aws-pipeline-definition.schema.json"


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each case compiled once for the module's read-only checks."""
    out = tmp_path_factory.mktemp("builds")
    return {case: compile_case(case, out).pipeline_dir for case in CASES}


# -- the hand-written script's pipeline --------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_definition_is_the_hand_written_one(
    case: str, builds: dict[str, Path], tmp_path: Path
) -> None:
    ours = read_json(builds[case] / "definition.json")

    theirs = hand_written(case, tmp_path).definition

    assert normalize_definition(ours) == normalize_definition(theirs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_artifacts_are_the_hand_written_ones(
    case: str, builds: dict[str, Path], tmp_path: Path
) -> None:
    theirs = hand_written_artifacts(hand_written(case, tmp_path))

    assert build_artifacts(builds[case], trackers=True) == theirs


# -- validity -------------------------------------------------------------------


def _schema_failures(definition: dict[str, Any]) -> set[tuple[Any, ...]]:
    schema = read_json(SCHEMA)
    validator = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator
    )(schema)
    return {
        (tuple(error.absolute_path), error.validator, tuple(error.schema_path))
        for error in validator.iter_errors(definition)
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_aws_schema_finds_nothing_the_hand_written_one_escapes(
    case: str, builds: dict[str, Path], tmp_path: Path
) -> None:
    ours = _schema_failures(read_json(builds[case] / "definition.json"))

    theirs = _schema_failures(hand_written(case, tmp_path).definition)

    assert ours <= theirs
    # The schema lags behind the SDK (see tests/data/...schema.md): both fail it.
    assert theirs


def _create_pipeline_request(case: str, text: str) -> dict[str, Any]:
    plan = plan_of(case)
    return {
        "PipelineName": plan.name,
        "PipelineDefinition": text,
        "PipelineDescription": plan.description,
        "RoleArn": plan.target.role,
        "ClientRequestToken": "0" * 32,
        "Tags": [{"Key": k, "Value": v} for k, v in plan.target.tags.items()],
    }


def _validate_create_pipeline(request: dict[str, Any]) -> None:
    import botocore.session
    from botocore.validate import validate_parameters

    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(request, model.operation_model("CreatePipeline").input_shape)


@pytest.mark.parametrize("case", sorted(CASES))
def test_botocore_accepts_the_create_pipeline_request(
    case: str, builds: dict[str, Path]
) -> None:
    definition = read_json(builds[case] / "definition.json")
    manifest = read_json(builds[case] / "manifest.json")

    text = definition_text(definition)
    _validate_create_pipeline(_create_pipeline_request(case, text))

    assert manifest["definition"]["via_s3"] is False


def test_a_definition_past_the_inline_limit_is_marked_for_s3(tmp_path: Path) -> None:
    long = "x" * (INLINE_LIMIT + 1)
    spec = (SPECS / "fanin.yaml").read_text().replace(
        "    entrypoint: demo_steps.fanin:report\n",
        f"    entrypoint: demo_steps.fanin:report\n    description: {long}\n",
    )
    (tmp_path / "long.yaml").write_text(spec)
    plan = load_plan(tmp_path / "long.yaml", SPECS)

    build = compile_plan(plan, tmp_path / "out").pipeline_dir

    record = read_json(build / "manifest.json")["definition"]
    text = definition_text(read_json(build / "definition.json"))
    assert record["via_s3"] is True
    assert record["characters"] == len(text) > INLINE_LIMIT
    assert record["s3_uri"] == "s3://yamlpipe-tests/fan-in/fan-in/definition.json"
    # botocore checks only the minimum length client-side; the maximum, which
    # INLINE_LIMIT is (test_compile.py checks), is the service's to refuse.


# -- repeatable ----------------------------------------------------------------


def _comparable(build: Path) -> dict[str, Any]:
    """Everything in a build that must not change between compiles of the same code."""
    manifest = read_json(build / "manifest.json")
    time = manifest.pop("build_time")
    for artifact in manifest["artifacts"]:
        for key in ("path", "s3_uri"):
            artifact[key] = artifact[key].replace(time, "<build-time>")
        if artifact["path"].endswith("/metadata.json"):
            del artifact["sha256"]  # v3 signs each compile with a new key
    del manifest["definition"]["sha256"]
    return {
        "definition": normalize_definition(read_json(build / "definition.json")),
        "normalized": read_json(build / "definition.normalized.json"),
        "manifest": manifest,
        "artifacts": build_artifacts(build),
    }


def test_two_compiles_differ_only_in_volatile_values(tmp_path: Path) -> None:
    first = compile_case("branches", tmp_path / "one", normalized=True).pipeline_dir
    second = compile_case("branches", tmp_path / "two", normalized=True).pipeline_dir

    times = [read_json(b / "manifest.json")["build_time"] for b in (first, second)]

    assert times[0] != times[1]
    assert _comparable(first) == _comparable(second)


def test_compiles_agree_across_directories_hash_seeds_zones_and_times(
    tmp_path: Path,
) -> None:
    # Each run is a fresh process started at its own wall-clock time. The last also
    # has AWS settings that must not matter: a missing profile, another region.
    variants = [
        {"cwd": REPO, "env": {}},
        {"cwd": tmp_path, "env": {"PYTHONHASHSEED": "1", "TZ": "Pacific/Kiritimati"}},
        {"cwd": Path("/"), "env": {
            "PYTHONHASHSEED": "4242", "TZ": "America/Adak", "LC_ALL": "C",
            "AWS_PROFILE": "no-such-profile", "AWS_DEFAULT_REGION": "sa-east-1",
        }},
    ]
    specs = [str(SPECS / f"{name}.yaml") for name in ("branches", "fanin", "kinds")]
    # churn's evaluate step uses a TypedDict, whose key sets pickle in hash order
    # unless compile pins it.
    projects = [(specs, SPECS), ([str(REPO / "specs" / "churn.yaml")], REPO)]
    builds = []
    for i, variant in enumerate(variants):
        out = tmp_path / f"run-{i}"
        for files, root in projects:
            run = subprocess.run(
                [sys.executable, "-m", "yamlpipe", "compile", *files,
                 "--root", str(root), "-o", str(out), "--normalized"],
                cwd=variant["cwd"], env={**os.environ, **variant["env"]},
                capture_output=True, text=True, timeout=300,
            )
            assert run.returncode == 0, run.stderr
        builds.append(out)

    for name in ("branch-gate", "fan-in", "every-kind", "churn-training"):
        compared = [_comparable(out / name) for out in builds]
        manifests = [read_json(out / name / "manifest.json") for out in builds]
        times = {manifest["build_time"] for manifest in manifests}
        assert len(times) == len(builds)
        assert compared[1] == compared[0]
        assert compared[2] == compared[0]


# -- the step code travels --------------------------------------------------------

# Loads each payload with cloudpickle, as the job's bootstrap does
# (sagemaker/.../remote_function/core/serialization.py, CloudpickleSerializer), in
# an interpreter that cannot import the project, and calls it with given arguments.
RUNNER = textwrap.dedent("""
    import importlib.util, json, sys
    import cloudpickle

    for package in ("steps", "demo_steps"):
        assert importlib.util.find_spec(package) is None, package
    calls = json.loads(sys.stdin.read())
    results = {}
    for name, (payload, chain) in calls.items():
        function = cloudpickle.load(open(payload, "rb"))
        arguments = {
            key: results[value[1:]] if isinstance(value, str) and value[:1] == "@"
            else value
            for key, value in chain.items()
        }
        results[name] = function(**arguments)
    print(json.dumps({k: repr(v)[:60] for k, v in results.items()}))
""")


def _function_payloads(build: Path) -> dict[str, str]:
    manifest = read_json(build / "manifest.json")
    payloads = {}
    for artifact in manifest["artifacts"]:
        if artifact["path"].endswith("/function/payload.pkl"):
            step = artifact["path"].split("/")[-4]
            payloads[step] = str(build / artifact["path"])
    return payloads


def _run_fresh(payloads: dict[str, str], calls: dict[str, dict[str, Any]], cwd: Path,
               env: dict[str, str] | None = None) -> dict[str, str]:
    request = {name: (payloads[name], arguments) for name, arguments in calls.items()}
    run = subprocess.run(
        [sys.executable, "-I", "-c", RUNNER], input=json.dumps(request), cwd=cwd,
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def test_the_churn_steps_run_from_their_payloads_alone(
    builds: dict[str, Path], tmp_path: Path
) -> None:
    payloads = _function_payloads(builds["churn"])

    chained = _run_chain(payloads, tmp_path)

    assert sorted(payloads) == ["evaluate", "preprocess", "register", "train"]
    assert chained["name"] == "churn-logistic-regression"
    assert 0.5 < chained["auc"] <= 1.0


def _run_chain(payloads: dict[str, str], cwd: Path) -> dict[str, Any]:
    script = textwrap.dedent("""
        import importlib.util, json, sys
        import cloudpickle

        assert importlib.util.find_spec("steps") is None
        load = lambda name: cloudpickle.load(open(paths[name], "rb"))
        paths = json.loads(sys.argv[1])
        train_df, test_df = load("preprocess")(sys.argv[2])
        model = load("train")(train_df, 3)
        metrics = load("evaluate")(model, test_df)
        record = load("register")(model, metrics)
        assert "steps" not in sys.modules
        print(json.dumps({"auc": metrics["auc"], "name": record["name"]}))
    """)
    run = subprocess.run(
        [sys.executable, "-I", "-c", script, json.dumps(payloads),
         str(REPO / "data" / "churn.csv")],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def test_the_test_spec_steps_run_from_their_payloads_alone(
    builds: dict[str, Path], tmp_path: Path
) -> None:
    fanin = _run_fresh(_function_payloads(builds["fanin"]), {
        "load-a": {"part": "a", "rows": 3},
        "load-b": {"part": "b", "rows": 4},
        "load-c": {"part": "c", "rows": 5},
        "split": {"rows": "@load-c"},
        "combine": {"a": "@load-a", "b": ["b0"], "head": ["c0"], "tail": ["c1"],
                    "weights": [1, 2, 3], "options": {"mode": "sum"}},
        "report": {"total": 9, "summary": "@combine"},
    }, tmp_path)
    branches = _run_fresh(_function_payloads(builds["branches"]), {
        "score": {"seed": 7},
        "publish": {"score": "@score", "stage": "prod"},
        "audit": {"who": "branch-gate"},
        "archive": {"score": 0.123456},
    }, tmp_path)
    kinds = _run_fresh(_function_payloads(builds["kinds"]), {
        "greet": {"name": "you", "count": 2, "ratio": 0.5, "enabled": True,
                  "text": "t"},
        "stamp": {"execution_id": "e", "execution_arn": "a", "started": "s",
                  "now": "n", "pipeline": "p", "pipeline_arn": "pa",
                  "greeting": "@greet"},
    }, tmp_path)

    assert fanin["report"] == repr("sum of 6 rows: 9")
    assert branches["publish"] == repr("prod:fair:0.59")
    assert branches["archive"] == repr(0.123)
    assert kinds["greet"] == repr("hello you hello you (0.50, t)")


def test_function_payloads_carry_code_not_references(builds: dict[str, Path]) -> None:
    for case, build in builds.items():
        for step, payload in _function_payloads(build).items():
            body = Path(payload).read_bytes()
            # By reference a payload is ~45 bytes: module and name, no code.
            assert len(body) > 300, (case, step, len(body))


def test_build_times_are_what_the_manifest_records(builds: dict[str, Path]) -> None:
    for build in builds.values():
        definition = read_json(build / "definition.json")
        manifest = read_json(build / "manifest.json")
        assert build_times(definition) == [manifest["build_time"]]
