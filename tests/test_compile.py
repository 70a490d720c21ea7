"""``yamlpipe compile``: the build on disk, offline, and every refusal with its message.

Equivalence with hand-written scripts, the AWS schema and repeatability are in
test_compile_equivalence.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.compiling import REPO, SPECS, compile_case, plan_of, read_json
from yamlpipe.cli import main
from yamlpipe.compile import (
    BUILD_TIME,
    DESCRIPTION_LIMIT,
    INLINE_LIMIT,
    SIGNING_KEY,
    build_times,
    compile_plan,
    definition_text,
    normalize_definition,
)
from yamlpipe.errors import CompileError, YamlpipeError
from yamlpipe.plan import StepRef
from yamlpipe.resolve import load_plan

HEAD = """\
version: 1
name: bad-input
sagemaker:
  region: us-east-1
  role: arn:aws:iam::123456789012:role/PipelineRole
  s3_root: s3://bucket/prefix
defaults:
  instance_type: ml.m5.large
  image_uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/x:py311
  role: arn:aws:iam::123456789012:role/StepRole
steps:
"""
WORK = '''
def work(x: int) -> int:
    """Work."""
    return x
'''
ONE_STEP = "  - name: a\n    entrypoint: work:work\n    inputs: {x: 1}\n"


def _steps(text: str) -> str:
    """Step entries written flush left, indented under ``steps:``."""
    return textwrap.indent(textwrap.dedent(text), "  ")


def _project(tmp: Path, spec: str, files: dict[str, str] | None = None) -> Path:
    for name, text in {"work.py": WORK, **(files or {})}.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (tmp / "bad.yaml").write_text(spec)
    return tmp


def _compile(root: Path, out: Path | None = None) -> Path:
    plan = load_plan(root / "bad.yaml", root, display="bad.yaml")
    return compile_plan(plan, out or root / "build").pipeline_dir


def _refusal(root: Path) -> str:
    with pytest.raises(YamlpipeError) as caught:
        _compile(root)
    assert caught.value.exit_code == 3
    return caught.value.render()


def _tree(directory: Path) -> dict[str, str]:
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


# -- what the SDK must not guess: refused before it runs ------------------------


def test_missing_s3_root_says_where_to_put_it(tmp_path: Path) -> None:
    spec = HEAD.replace("  s3_root: s3://bucket/prefix\n", "") + ONE_STEP

    assert _refusal(_project(tmp_path, spec)) == (
        "bad.yaml:3:1: sagemaker.s3_root is not set; the SDK would create a default "
        "bucket; add 's3_root: s3://<bucket>/<prefix>' under 'sagemaker:' in the spec"
    )


def test_missing_region_says_where_to_put_it(tmp_path: Path) -> None:
    spec = HEAD.replace("  region: us-east-1\n", "") + ONE_STEP

    assert _refusal(_project(tmp_path, spec)) == (
        "bad.yaml:3:1: sagemaker.region is not set; add 'region: <aws-region>' "
        "under 'sagemaker:' in the spec"
    )


def test_missing_pipeline_role_says_where_to_put_it(tmp_path: Path) -> None:
    spec = HEAD.replace(
        "  role: arn:aws:iam::123456789012:role/PipelineRole\n", ""
    ) + ONE_STEP

    assert _refusal(_project(tmp_path, spec)) == (
        "bad.yaml:3:1: sagemaker.role is not set; add 'role: "
        "arn:aws:iam::<account>:role/<name>' (the pipeline's execution role) under "
        "'sagemaker:' in the spec"
    )


def test_bare_role_names_are_refused_with_the_arn_to_write(tmp_path: Path) -> None:
    spec = (
        HEAD.replace("arn:aws:iam::123456789012:role/PipelineRole", "PipelineRole")
        .replace("role: arn:aws:iam::123456789012:role/StepRole", "role: StepRole")
        + ONE_STEP
    )

    assert _refusal(_project(tmp_path, spec)) == (
        "bad.yaml:5:9: sagemaker.role 'PipelineRole' is not an IAM role ARN; the SDK "
        "would ask IAM for it; write the full ARN, e.g. "
        "arn:aws:iam::<account>:role/PipelineRole\n"
        "bad.yaml:10:9: step 'a': role 'StepRole' is not an IAM role ARN; the SDK "
        "would ask IAM for it; write the full ARN, e.g. "
        "arn:aws:iam::<account>:role/StepRole"
    )


def test_missing_image_and_step_role_are_reported_together(tmp_path: Path) -> None:
    spec = (
        HEAD.replace(
            "  image_uri: 123456789012.dkr.ecr.us-east-1.amazonaws.com/x:py311\n", ""
        )
        .replace("  role: arn:aws:iam::123456789012:role/StepRole\n", "")
        + ONE_STEP
    )

    assert _refusal(_project(tmp_path, spec)) == (
        "bad.yaml:10:5: step 'a' has no image_uri; the SDK's default images do not "
        "cover every Python version; set 'image_uri' (an ECR image URI) under "
        "'defaults:' or on the step\n"
        "bad.yaml:10:5: step 'a' has no role; the SDK would ask STS and IAM for one; "
        "set 'role: arn:aws:iam::<account>:role/<name>' under 'defaults:' or on the "
        "step"
    )


def test_a_pipeline_description_past_the_api_limit_is_refused(tmp_path: Path) -> None:
    long = f"name: bad-input\ndescription: {'d' * 3073}\n"
    spec = HEAD.replace("name: bad-input\n", long)

    assert _refusal(_project(tmp_path, spec + ONE_STEP)) == (
        "bad.yaml:3:14: the pipeline description has 3,073 characters; CreatePipeline "
        "takes at most 3,072; shorten 'description'"
    )


# -- refused by the step code or the SDK: at the step's line --------------------


@pytest.mark.sdk
def test_an_entrypoint_that_raises_on_import_is_a_compile_error(tmp_path: Path) -> None:
    boom = "import os\nCONFIG = os.environ['BOOM_CONFIG']\n" + WORK
    spec = HEAD + "  - name: a\n    entrypoint: boom:work\n    inputs: {x: 1}\n"

    assert _refusal(_project(tmp_path, spec, {"boom.py": boom})) == (
        "bad.yaml:13:17: step 'a': importing boom:work failed: KeyError: "
        "'BOOM_CONFIG'; the module must import cleanly from the project root"
    )


@pytest.mark.sdk
def test_an_unpicklable_function_is_a_compile_error(tmp_path: Path) -> None:
    locked = '''
        import threading
        LOCK = threading.Lock()

        def work(x: int) -> int:
            """Work."""
            with LOCK:
                return x
    '''
    spec = HEAD + "  - name: a\n    entrypoint: locked:work\n    inputs: {x: 1}\n"

    assert _refusal(_project(tmp_path, spec, {"locked.py": locked})) == (
        "bad.yaml:13:17: step 'a': cannot pickle locked:work: TypeError: cannot "
        "pickle '_thread.lock' object; what the function uses must pickle with "
        "cloudpickle; create locks, clients and open files inside the function"
    )


@pytest.mark.sdk
def test_a_setting_the_sdk_rejects_is_reported_at_its_line(tmp_path: Path) -> None:
    spec = HEAD + _steps("""\
          - name: a
            entrypoint: work:work
            pre_execution_commands: [echo hi]
            pre_execution_script: pre.sh
            inputs: {x: 1}
    """)

    assert _refusal(_project(tmp_path, spec, {"pre.sh": "echo\n"})) == (
        "bad.yaml:14:29: step 'a': the SageMaker SDK rejected its settings: "
        "ValueError: Only one of pre_execution_commands or pre_execution_script can "
        "be specified!; fix 'pre_execution_commands'"
    )


@pytest.mark.sdk
def test_a_setting_the_sdk_requires_is_asked_for(tmp_path: Path) -> None:
    spec = HEAD.replace("  instance_type: ml.m5.large\n", "") + ONE_STEP

    assert _refusal(_project(tmp_path, spec)) == (
        "bad.yaml:11:5: step 'a': the SageMaker SDK rejected its settings: "
        "ValueError: instance_type is a required parameter!; set 'instance_type' "
        "under 'defaults:' or on the step"
    )


@pytest.mark.sdk
def test_a_missing_requirements_file_is_reported_at_its_line(tmp_path: Path) -> None:
    spec = HEAD + _steps("""\
          - name: a
            entrypoint: work:work
            dependencies: nope/requirements.txt
            inputs: {x: 1}
    """)

    assert _refusal(_project(tmp_path, spec)) == (
        "bad.yaml:14:19: step 'a': the dependencies file nope/requirements.txt does "
        "not exist; create it or fix 'dependencies' (paths are relative to the "
        "project root)"
    )


@pytest.mark.sdk
def test_a_missing_pre_execution_script_is_reported_at_its_line(
    tmp_path: Path,
) -> None:
    spec = HEAD + _steps("""\
          - name: a
            entrypoint: work:work
            pre_execution_script: nope.sh
            inputs: {x: 1}
    """)

    assert _refusal(_project(tmp_path, spec)) == (
        "bad.yaml:14:27: step 'a': the pre-execution script nope.sh does not exist; "
        "create it or fix 'pre_execution_script' (paths are relative to the project "
        "root)"
    )


@pytest.mark.sdk
def test_a_string_index_on_a_list_return_is_refused_by_the_sdk(tmp_path: Path) -> None:
    # validate refuses this from the annotation; a Plan made by hand still holds it.
    listed = '''
        def listed(x: int) -> list:
            """Both."""
            return [x, x]
    '''
    spec = HEAD + _steps("""\
          - name: a
            entrypoint: listed:listed
            inputs: {x: 1}
          - name: b
            entrypoint: work:work
            inputs:
              x: ${steps.a[0]}
    """)
    root = _project(tmp_path, spec, {"listed.py": listed})
    plan = load_plan(root / "bad.yaml", root, display="bad.yaml")
    keyed = dataclasses.replace(plan.steps["b"], inputs={"x": StepRef("a", ("k",))})
    plan = dataclasses.replace(plan, steps={**plan.steps, "b": keyed})

    with pytest.raises(CompileError) as caught:
        compile_plan(plan, tmp_path / "build")

    assert caught.value.render() == (
        "bad.yaml:18:10: step 'b': the SageMaker SDK cannot index ${steps.a['k']}: "
        "TypeError: Expected an integer, got k; index a tuple or list return with "
        "an integer"
    )


@pytest.mark.sdk
def test_a_reference_inside_a_list_is_refused_by_the_sdk(tmp_path: Path) -> None:
    # The resolver refuses this in a spec; a Plan made by hand can still hold it.
    spec = HEAD + ONE_STEP + _steps("""\
          - name: b
            entrypoint: work:work
            inputs:
              x: 2
    """)
    root = _project(tmp_path, spec)
    plan = load_plan(root / "bad.yaml", root, display="bad.yaml")
    nested = dataclasses.replace(plan.steps["b"], inputs={"x": [StepRef("a")]})
    plan = dataclasses.replace(plan, steps={**plan.steps, "b": nested})

    with pytest.raises(CompileError) as caught:
        compile_plan(plan, tmp_path / "build")

    assert caught.value.render() == (
        "bad.yaml:18:10: step 'b': the SageMaker SDK cannot serialise input 'x': "
        "SerializationError: Error when serializing object of type [tuple]: "
        "SerializationError('Please pass the pipeline variable to the function "
        "decorated with @step as an argument.\\n Referencing to a pipeline variable "
        "from within the function\\n or passing a pipeline variable nested in a data "
        "structure are not supported.'); pass each reference as an input of its own, "
        "not inside a list or a mapping"
    )


@pytest.mark.sdk
def test_the_cli_prints_a_refusal_with_exit_3_and_no_traceback(tmp_path: Path) -> None:
    spec = HEAD.replace("  instance_type: ml.m5.large\n", "") + ONE_STEP
    root = _project(tmp_path, spec)

    result = CliRunner().invoke(
        main, ["compile", str(root / "bad.yaml"), "--root", str(root), "-o",
               str(tmp_path / "out")],
    )

    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert "instance_type is a required parameter!" in result.output


# -- the build on disk -------------------------------------------------------------


@pytest.mark.sdk
def test_the_cli_prints_one_line_per_pipeline(tmp_path: Path) -> None:
    specs = [str(SPECS / "fanin.yaml"), str(SPECS / "branches.yaml")]

    result = CliRunner().invoke(
        main, ["compile", *specs, "--root", str(SPECS), "-o", str(tmp_path)]
    )

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"compiled fan-in: 6 steps -> {tmp_path / 'fan-in'}\n"
        f"compiled branch-gate: 6 steps -> {tmp_path / 'branch-gate'}\n"
    )


@pytest.mark.sdk
def test_a_build_holds_definition_artifacts_and_manifest(tmp_path: Path) -> None:
    result = compile_case("churn", tmp_path, normalized=True)
    build = tmp_path / "churn-training"
    manifest = read_json(build / "manifest.json")
    definition = read_json(build / "definition.json")
    time = manifest["build_time"]

    assert result.pipeline_dir == build
    assert result.definition_path == build / "definition.json"
    assert result.step_count == 6
    # Four bootstrap scripts; per function step two pickles, two metadata files and
    # the requirements copy.
    assert result.artifact_count == len(manifest["artifacts"]) == 4 + 4 * 5
    assert sorted(p.name for p in build.iterdir()) == [
        "artifacts", "definition.json", "definition.normalized.json", "manifest.json",
    ]
    assert (build / "definition.json").read_text() == (
        json.dumps(definition, indent=2, sort_keys=True) + "\n"
    )
    assert build_times(definition) == [time]
    assert manifest["spec"] == {
        "path": "specs/churn.yaml",
        "sha256": hashlib.sha256((REPO / "specs/churn.yaml").read_bytes()).hexdigest(),
    }
    assert manifest["pipeline"] == {
        "name": "churn-training",
        "description": "Train and gate the churn model",
        "region": "us-east-1",
        "role_arn": "arn:aws:iam::123456789012:role/PipelineRole",
        "s3_root": "s3://my-bucket/yamlpipe",
        "tags": {},
    }
    assert set(manifest["versions"]) == {"yamlpipe", "sagemaker", "python"}
    assert manifest["versions"]["sagemaker"] == result.sdk_version
    assert manifest["definition"] == {
        "path": "definition.json",
        "sha256": hashlib.sha256((build / "definition.json").read_bytes()).hexdigest(),
        "characters": len(definition_text(definition)),
        "via_s3": False,
    }
    for artifact in manifest["artifacts"]:
        body = (build / artifact["path"]).read_bytes()
        assert artifact["sha256"] == hashlib.sha256(body).hexdigest()
        key = artifact["s3_uri"].removeprefix("s3://")
        assert artifact["path"] == f"artifacts/{key}"
    assert _tree(build / "artifacts").keys() == {
        a["path"].removeprefix("artifacts/") for a in manifest["artifacts"]
    }


@pytest.mark.sdk
def test_artifacts_follow_the_sdk_s3_layout(tmp_path: Path) -> None:
    compile_case("churn", tmp_path)
    manifest = read_json(tmp_path / "churn-training" / "manifest.json")
    time = manifest["build_time"]
    base = "s3://my-bucket/yamlpipe/churn-training"

    uris = {a["s3_uri"] for a in manifest["artifacts"]}

    bootstrap = {
        f"{base}/sagemaker_remote_function_bootstrap/{name}"
        for name in (
            "bootstrap_runtime_environment.py", "job_driver.sh",
            "mpi_utils_remote.py", "runtime_environment_manager.py",
        )
    }
    per_step = {
        f"{base}/{step}/{time}/{part}"
        for step in ("preprocess", "train", "evaluate", "register")
        for part in (
            "function/payload.pkl", "function/metadata.json",
            "arguments/payload.pkl", "arguments/metadata.json",
            "pre_exec_script_and_dependencies/requirements.txt",
        )
    }
    assert uris == bootstrap | per_step


@pytest.mark.sdk
def test_a_failed_compile_leaves_the_previous_build_untouched(tmp_path: Path) -> None:
    root = _project(tmp_path / "project", HEAD + ONE_STEP)
    out = tmp_path / "build"
    build = _compile(root, out)
    before = _tree(build)
    locked = WORK.replace("    return x", "    with LOCK:\n        return x")
    lock = "import threading\nLOCK = threading.Lock()\n"
    (root / "work.py").write_text(lock + locked)

    with pytest.raises(CompileError):
        _compile(root, out)

    assert _tree(build) == before
    assert sorted(p.name for p in out.iterdir()) == ["bad-input"]


@pytest.mark.sdk
def test_a_recompile_replaces_the_build_whole(tmp_path: Path) -> None:
    root = _project(tmp_path / "project", HEAD + ONE_STEP)
    out = tmp_path / "build"
    first = read_json(_compile(root, out) / "manifest.json")["build_time"]

    build = _compile(root, out)

    manifest = read_json(build / "manifest.json")
    assert manifest["build_time"] != first
    assert _tree(build / "artifacts").keys() == {
        a["path"].removeprefix("artifacts/") for a in manifest["artifacts"]
    }
    assert sorted(p.name for p in out.iterdir()) == ["bad-input"]


@pytest.mark.sdk
def test_a_file_path_entrypoint_compiles(tmp_path: Path) -> None:
    spec = HEAD + _steps("""\
          - name: a
            entrypoint: lib/tool.py:work
            inputs: {x: 1}
    """)
    build = _compile(_project(tmp_path, spec, {"lib/tool.py": WORK}))

    definition = read_json(build / "definition.json")

    assert [s["Name"] for s in definition["Steps"]] == ["a"]
    assert "_yamlpipe_file_lib_tool" not in sys.modules


# -- offline, quiet, and hands off the user's files -----------------------------


@pytest.mark.sdk
def test_the_requirements_file_is_never_touched(tmp_path: Path) -> None:
    requirements = REPO / "steps" / "requirements.txt"
    before = (requirements.read_bytes(), requirements.stat().st_mtime_ns)
    invented = Path(tempfile.gettempdir()).glob
    temporary = set(invented("sagemaker_requirements_*"))

    compile_case("churn", tmp_path)

    from yamlpipe import sagemaker

    after = (requirements.read_bytes(), requirements.stat().st_mtime_ns)
    assert after == before
    manifest = read_json(tmp_path / "churn-training" / "manifest.json")
    staged = [
        tmp_path / "churn-training" / a["path"]
        for a in manifest["artifacts"]
        if a["path"].endswith("/requirements.txt")
    ]
    pin = b"\nsagemaker>=2.256.0,<3.0.0\n" if sagemaker.load().major == 2 else b""
    assert {p.read_bytes() for p in staged} == {before[0] + pin}
    assert set(invented("sagemaker_requirements_*")) == temporary


@pytest.mark.sdk
def test_without_dependencies_the_sdk_gets_a_fixed_name(tmp_path: Path) -> None:
    from yamlpipe import sagemaker

    build = _compile(_project(tmp_path, HEAD + ONE_STEP))

    arguments = read_json(build / "definition.json")["Steps"][0]["Arguments"]
    container = arguments["AlgorithmSpecification"]["ContainerArguments"]
    settings = container[container.index("--dependency_settings") + 1]
    if sagemaker.load().major == 2:
        # v2 insists on a requirements file with its pin: it gets yamlpipe's copy.
        assert json.loads(settings) == {"dependency_file": "requirements.txt"}
    else:
        assert json.loads(settings) == {"dependency_file": None}


@pytest.mark.sdk
def test_compile_is_silent_unless_verbose(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    root = logging.getLogger()
    handlers = list(root.handlers)
    caplog.set_level(logging.INFO)

    compile_case("fanin", tmp_path)

    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")
    assert not [r for r in caplog.records if r.name.startswith("sagemaker")]
    assert root.handlers == handlers


@pytest.mark.sdk
def test_verbose_compile_lets_the_sdk_speak(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    compile_case("fanin", tmp_path)

    assert [r for r in caplog.records if r.name.startswith("sagemaker")]


@pytest.mark.sdk
def test_a_sagemaker_config_file_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent("""\
        SchemaVersion: '1.0'
        SageMaker:
          PythonSDK:
            Modules:
              RemoteFunction:
                EnvironmentVariables: {FROM_CONFIG: 'yes'}
                VolumeKmsKeyId: from-config
    """))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))

    compile_case("fanin", tmp_path / "out")

    text = (tmp_path / "out" / "fan-in" / "definition.json").read_text()
    assert "FROM_CONFIG" not in text and "from-config" not in text
    assert os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"] == str(config)


@pytest.mark.sdk
def test_any_aws_call_but_s3_is_refused(tmp_path: Path) -> None:
    from yamlpipe import sagemaker

    store = sagemaker.LocalS3(tmp_path)
    session = sagemaker.offline_session("us-east-1", "bucket", "", store)

    with pytest.raises(CompileError) as caught:
        session.boto_session.client("sts").get_caller_identity()

    assert caught.value.render() == (
        "the SageMaker SDK tried to call sts:GetCallerIdentity while compiling; "
        "compile runs offline; please report this with the spec"
    )
    assert store.refused == ["sts:GetCallerIdentity"]


@pytest.mark.sdk
def test_compile_runs_with_no_network_at_all(tmp_path: Path) -> None:
    offline = REPO.parent / "shared" / "tools" / "offline"
    if not offline.exists():
        pytest.skip(f"{offline} is not here")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode:
        pytest.skip("cannot make a network namespace here (unshare -n)")

    run = subprocess.run(
        ["bash", str(offline), sys.executable, "-m", "yamlpipe", "compile",
         "specs/churn.yaml", "-o", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )

    assert run.returncode == 0, run.stderr
    built = tmp_path / "churn-training"
    assert run.stdout == f"compiled churn-training: 6 steps -> {built}\n"
    assert run.stderr == ""


# -- normalisation (no SDK) ----------------------------------------------------


def test_normalisation_replaces_the_volatile_values_only() -> None:
    time = "2026-01-02-03-04-05-006"
    step = {
        "Arguments": {
            "AlgorithmSpecification": {"ContainerArguments": [
                "--s3_base_uri", "s3://b/p", "--func_step_s3_dir", time,
                "--dependency_settings",
                '{"dependency_file": "sagemaker_requirements_x1y2.txt"}',
            ]},
            "Environment": {"REMOTE_FUNCTION_SECRET_KEY": "-----BEGIN", "A": time[:10]},
            "InputDataConfig": [{"S3Uri": f"s3://b/p/s/{time}/deps"}],
        },
        "Name": "s",
    }

    normalized = normalize_definition({"Steps": [step]})

    assert normalized == {"Steps": [{
        "Arguments": {
            "AlgorithmSpecification": {"ContainerArguments": [
                "--s3_base_uri", "s3://b/p", "--func_step_s3_dir", BUILD_TIME,
                "--dependency_settings",
                '{"dependency_file": "<requirements-file>"}',
            ]},
            "Environment": {"REMOTE_FUNCTION_SECRET_KEY": SIGNING_KEY, "A": time[:10]},
            "InputDataConfig": [{"S3Uri": f"s3://b/p/s/{BUILD_TIME}/deps"}],
        },
        "Name": "s",
    }]}
    environment = step["Arguments"]["Environment"]
    assert environment["REMOTE_FUNCTION_SECRET_KEY"] == "-----BEGIN"  # a copy


def test_a_definition_without_function_steps_has_no_build_time() -> None:
    definition = {"Steps": [{"Name": "f", "Type": "Fail", "Arguments": {}}]}

    assert build_times(definition) == []
    assert normalize_definition(definition) == definition


def test_the_inline_limit_is_botocores() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreatePipeline").input_shape

    assert shape.members["PipelineDefinition"].metadata["max"] == INLINE_LIMIT
    assert shape.members["PipelineDescription"].metadata["max"] == DESCRIPTION_LIMIT


@pytest.mark.sdk
def test_the_normalized_definition_is_written_beside_the_real(tmp_path: Path) -> None:
    compile_case("kinds", tmp_path, normalized=True)
    build = tmp_path / "every-kind"

    real = read_json(build / "definition.json")
    normalized = read_json(build / "definition.normalized.json")

    assert normalized == normalize_definition(real)
    assert BUILD_TIME in json.dumps(normalized)
    assert build_times(real)[0] not in json.dumps(normalized)


def test_plans_of_the_test_specs_load() -> None:
    for case in ("branches", "fanin", "kinds"):
        assert plan_of(case).root == SPECS
