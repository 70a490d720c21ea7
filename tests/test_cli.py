"""The command line: exit codes, output formats, and what it must not import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.conftest import REPO
from yamlpipe.cli import main

BAD = "version: 1\nname: p\nsteps:\n  - name: a\n    entrypoint: steps.train:train\n"


def _write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_validate_ok_exits_zero(in_repo: Path) -> None:
    result = CliRunner().invoke(main, ["validate", "specs/churn.yaml"])
    assert (result.exit_code, result.output) == (0, "ok specs/churn.yaml: 6 steps\n")


def test_validate_reports_every_file_and_exits_one(in_repo: Path,
                                                   tmp_path: Path) -> None:
    bad = _write(tmp_path, BAD)
    result = CliRunner().invoke(main, ["validate", str(bad), "specs/churn.yaml"])
    assert result.exit_code == 1
    assert result.stdout == "ok specs/churn.yaml: 6 steps\n"
    assert result.stderr == (
        f"{bad}:4:5: steps.train:train needs input 'train_df'; "
        "add it under inputs: (train_df: ...)\n"
        "1 problem(s) in 1 file(s)\n"
    )


def test_validate_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(main, ["validate", str(missing)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{missing}:1:1: cannot read the file")


def test_usage_error_exits_two() -> None:
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 2
    result = CliRunner().invoke(main, ["validate", "--format", "xml", "x.yaml"])
    assert result.exit_code == 2


def test_validate_json_format(in_repo: Path, tmp_path: Path) -> None:
    bad = _write(tmp_path, BAD)
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(bad)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{
        "file": str(bad), "ok": False, "steps": 0,
        "errors": [{
            "path": str(bad), "line": 4, "col": 5, "kind": "SpecError",
            "message": "steps.train:train needs input 'train_df'",
            "hint": "add it under inputs: (train_df: ...)",
        }],
    }]


def test_validate_github_format(in_repo: Path, tmp_path: Path) -> None:
    bad = _write(tmp_path, BAD)
    result = CliRunner().invoke(main, ["validate", "--format", "github", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"::error file={bad},line=4,col=5::steps.train:train needs input "
        "'train_df'; add it under inputs: (train_df: ...)\n"
    )


def test_root_option_changes_where_entrypoints_resolve(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("def f(x):\n    return x\n")
    spec = _write(tmp_path, "version: 1\nname: p\nsteps:\n  - name: a\n"
                  "    entrypoint: mod:f\n    inputs: {x: 1}\n", "p.yaml")
    result = CliRunner().invoke(main, ["validate", "--root", str(tmp_path), str(spec)])
    assert result.exit_code == 0, result.stderr


def test_schema_command_prints_the_committed_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    committed = (REPO / "schemas" / "yamlpipe.schema.json").read_text()
    assert result.exit_code == 0
    assert result.stdout == committed


def test_graph_formats_all_render(in_repo: Path) -> None:
    for fmt in ("mermaid", "dot", "text", "json"):
        args = ["graph", "specs/churn.yaml", "--format", fmt]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (fmt, result.stderr)


def _imported_modules(*args: str) -> set[str]:
    code = (
        "import sys; from yamlpipe.cli import main\n"
        f"try:\n    main({list(args)!r})\nexcept SystemExit:\n    pass\n"
        "import json; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_validate_and_graph_never_import_the_sdk() -> None:
    for command in (["validate", "specs/churn.yaml"], ["graph", "specs/churn.yaml"]):
        modules = _imported_modules(*command)
        heavy = {m for m in modules
                 if m.split(".")[0] in {"sagemaker", "boto3", "botocore", "rich"}}
        assert heavy == set(), command
        assert not any(m.startswith("steps") for m in modules), command


def test_python_dash_m_works() -> None:
    result = subprocess.run([sys.executable, "-m", "yamlpipe", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("yamlpipe, version ")


def test_a_bug_shows_a_traceback_and_asks_for_a_report(monkeypatch, in_repo) -> None:
    import yamlpipe.resolve

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(yamlpipe.resolve, "load_plan", explode)
    result = CliRunner().invoke(main, ["validate", "specs/churn.yaml"])
    assert result.exit_code == 70
    assert "RuntimeError: boom" in result.stderr
    assert "please report it" in result.stderr


def test_verbose_never_logs_botocore_request_headers() -> None:
    import logging

    result = CliRunner().invoke(main, ["-v", "schema"])
    assert result.exit_code == 0
    for name in ("botocore", "botocore.endpoint", "botocore.auth", "urllib3"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name


RUN_SPEC = """\
version: 1
name: p
parameters:
  limit: {type: integer, default: 5}
steps:
  - name: make
    entrypoint: mod:make
  - name: gate
    condition: ${steps.make} <= ${params.limit}
    else: [stop]
  - name: stop
    fail: made ${steps.make}, over ${params.limit}
"""


def test_run_exits_zero_then_four_at_a_fail_step(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("def make() -> int:\n    return 3\n")
    spec = _write(tmp_path, RUN_SPEC, "p.yaml")
    base = ["run", str(spec), "--root", str(tmp_path)]

    ok = CliRunner().invoke(main, base)
    failed = CliRunner().invoke(main, [*base, "--param", "limit=2"])

    assert ok.exit_code == 0, ok.stderr
    assert failed.exit_code == 4
    assert failed.stderr.splitlines()[-1] == (
        f"{spec}:11:5: fail step 'stop': made 3, over 2"
    )
    assert (tmp_path / ".yamlpipe" / "runs").is_dir()


def test_run_refuses_a_badly_typed_parameter(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("def make() -> int:\n    return 3\n")
    spec = _write(tmp_path, RUN_SPEC, "p.yaml")
    result = CliRunner().invoke(
        main, ["run", str(spec), "--root", str(tmp_path), "--param", "limit=x"]
    )
    assert result.exit_code == 2


def test_the_quick_exit_keeps_output_and_exit_codes(tmp_path: Path) -> None:
    bad = _write(tmp_path, BAD)
    command = [sys.executable, "-m", "yamlpipe", "validate"]
    ok = subprocess.run([*command, "specs/churn.yaml"], cwd=REPO,
                        capture_output=True, text=True)
    failed = subprocess.run([*command, str(bad)], cwd=REPO,
                            capture_output=True, text=True)
    usage = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert (ok.returncode, ok.stdout) == (0, "ok specs/churn.yaml: 6 steps\n")
    assert failed.returncode == 1
    assert failed.stderr.endswith("1 problem(s) in 1 file(s)\n")
    assert usage.returncode == 2
