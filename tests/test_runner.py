"""The local runner: steps in worker processes, branches, faults, cache, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import yamlpipe
from yamlpipe.errors import RunError, UsageError
from yamlpipe.plan import Plan
from yamlpipe.resolve import load_plan
from yamlpipe.runner import RunInterrupted, RunResult, RunStart, StepRecord, run_plan

# The step modules live in tests/runsteps; the tests folder is the project root.
ROOT = Path(__file__).resolve().parent


def load(tmp_path: Path, steps: str, head: str = "") -> Plan:
    spec = tmp_path / "pipeline.yaml"
    text = "version: 1\nname: local\n" + textwrap.dedent(head)
    spec.write_text(text + "steps:\n" + textwrap.indent(textwrap.dedent(steps), "  "))
    return load_plan(spec, ROOT)


def run(plan: Plan, tmp_path: Path, **options: Any) -> RunResult:
    return run_plan(plan, runs_dir=tmp_path / "runs", **options)


def statuses(result: RunResult) -> dict[str, str]:
    return {name: step.status for name, step in result.steps.items()}


def notes(result: RunResult) -> dict[str, str]:
    return {name: step.note for name, step in result.steps.items()}


CHAIN = """\
- name: numbers
  entrypoint: runsteps.basic:numbers
  inputs:
    start: ${params.start}
- name: total
  entrypoint: runsteps.basic:total
  inputs:
    values: ${steps.numbers}
    extra: ${steps.numbers[2]}
"""
START = """\
parameters:
  start: {type: integer, default: 1}
"""


# -- running steps -----------------------------------------------------------------


def test_chain_passes_results_indexed_by_reference_path(tmp_path):
    result = run(load(tmp_path, CHAIN, START), tmp_path)

    assert result.status == "succeeded"
    assert result.exit_code == 0
    assert result.outputs() == {"numbers": [1, 2, 3], "total": 9}


def test_param_override_is_parsed_by_declared_type(tmp_path):
    result = run(load(tmp_path, CHAIN, START), tmp_path, params={"start": "10"})

    assert result.outputs() == {"numbers": [10, 11, 12], "total": 45}


def test_unknown_param_suggests_close_name(tmp_path):
    with pytest.raises(UsageError) as caught:
        run(load(tmp_path, CHAIN, START), tmp_path, params={"strat": "1"})

    assert caught.value.render() == "unknown parameter 'strat'; did you mean 'start'?"
    assert caught.value.exit_code == 2


def test_param_of_wrong_type_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as caught:
        run(load(tmp_path, CHAIN, START), tmp_path, params={"start": "1.5"})

    assert caught.value.render() == (
        "parameter 'start' is an integer, not '1.5'; "
        "pass --param start=VALUE with an integer"
    )


def test_parameters_take_sagemaker_types(tmp_path):
    head = """\
    parameters:
      s: {type: string, default: a}
      i: {type: integer, default: 1}
      f: {type: float, default: 0.5}
      b: {type: boolean, default: false}
    """
    steps = """\
    - name: show
      entrypoint: runsteps.basic:describe
      inputs: {s: "${params.s}", i: "${params.i}", f: "${params.f}", b: "${params.b}"}
    """
    params = {"s": "x", "i": "-3", "f": "2", "b": "True"}
    result = run(load(tmp_path, steps, head), tmp_path, params=params)

    assert result.output("show") == {"s": "x", "i": -3, "f": 2.0, "b": True}


def test_execution_variables_get_local_values(tmp_path):
    head = """\
    sagemaker:
      region: eu-west-1
      role: arn:aws:iam::123456789012:role/Runner
    """
    steps = """\
    - name: show
      entrypoint: runsteps.basic:describe
      inputs:
        id: ${execution.id}
        arn: ${execution.arn}
        name: ${execution.pipeline_name}
        started: ${execution.start_time}
    """
    result = run(load(tmp_path, steps, head), tmp_path)

    shown = result.output("show")
    pipeline = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/local"
    assert shown["id"] == result.run_id
    assert shown["arn"] == f"{pipeline}/execution/{result.run_id}"
    assert shown["name"] == "local"
    assert shown["started"].endswith("Z")


def test_step_runs_in_its_own_process_with_job_environment(tmp_path):
    steps = """\
    - name: env
      entrypoint: runsteps.basic:environment
      environment_variables: {YAMLPIPE_RUN_TEST_VARIABLE: from-the-spec}
      inputs: {name: YAMLPIPE_RUN_TEST_VARIABLE}
    """
    result = run(load(tmp_path, steps), tmp_path)

    seen = result.output("env")
    assert seen["value"] == "from-the-spec"
    assert seen["cwd"] == str(ROOT)
    assert seen["pid"] != os.getpid()
    assert "YAMLPIPE_RUN_TEST_VARIABLE" not in os.environ


def test_step_output_goes_to_its_log(tmp_path):
    steps = """\
    - name: loud
      entrypoint: runsteps.basic:shout
      inputs: {text: hello}
    """
    result = run(load(tmp_path, steps), tmp_path)

    log = result.run_dir / "steps" / "loud" / "log.txt"
    assert result.output("loud") == "HELLO"
    assert log.read_text() == "about to shout hello\n"
    assert result.steps["loud"].log == log


def test_independent_steps_overlap_but_not_beyond_jobs(tmp_path):
    steps = """\
    - name: a
      entrypoint: runsteps.faults:stamp
      inputs: {label: a, seconds: 0.3}
    - name: b
      entrypoint: runsteps.faults:stamp
      inputs: {label: b, seconds: 0.3}
    """
    plan = load(tmp_path, steps)

    together = run(plan, tmp_path, jobs=2, use_cache=False).outputs()
    alone = run(plan, tmp_path, jobs=1, use_cache=False).outputs()

    def overlap(stamps: dict[str, Any]) -> bool:
        (_, a_start, a_end), (_, b_start, b_end) = stamps["a"], stamps["b"]
        return a_start < b_end and b_start < a_end

    assert overlap(together)
    assert not overlap(alone)


def test_spawn_start_method_runs_steps_too(tmp_path):
    result = run(load(tmp_path, CHAIN, START), tmp_path, start_method="spawn")

    assert result.outputs() == {"numbers": [1, 2, 3], "total": 9}


def test_runs_where_the_kernel_cannot_signal_a_worker_exit(tmp_path, monkeypatch):
    # macOS and Linux before 5.3 have no pidfd: the run polls instead.
    monkeypatch.setattr("yamlpipe._worker._exit_fd", lambda pid: None)

    result = run(load(tmp_path, CHAIN, START), tmp_path)

    assert result.outputs() == {"numbers": [1, 2, 3], "total": 9}


def test_python_api_returns_results_and_raises_run_error(tmp_path):
    plan = load(tmp_path, CHAIN, START)

    results = yamlpipe.run(plan, {"start": 2}, runs_dir=tmp_path / "runs")
    with pytest.raises(RunError) as caught:
        yamlpipe.run(load(tmp_path, GATED, GATE), {"gate": 0.9},
                     runs_dir=tmp_path / "runs")

    assert results == {"numbers": [2, 3, 4], "total": 13}
    assert caught.value.message == "fail step 'low': AUC 0.7 is below 0.9"


def test_python_api_loads_a_spec_file(tmp_path):
    load(tmp_path, CHAIN, START)

    results = yamlpipe.run(tmp_path / "pipeline.yaml", root=ROOT,
                           runs_dir=tmp_path / "runs")

    assert results["total"] == 9


# -- conditions and fail steps --------------------------------------------------


GATE = """\
parameters:
  gate: {type: float, default: 0.5}
"""
GATED = """\
- name: score
  entrypoint: runsteps.basic:metrics
  inputs: {score: 0.7}
- name: check
  condition: ${steps.score['auc']} >= ${params.gate}
  then: [good]
  else: [low]
- name: good
  entrypoint: runsteps.basic:shout
  inputs: {text: ok}
- name: after-good
  entrypoint: runsteps.basic:shout
  inputs: {text: "${steps.good}"}
- name: low
  fail: AUC ${steps.score['auc']} is below ${params.gate}
"""


def test_condition_runs_only_the_chosen_branch(tmp_path):
    result = run(load(tmp_path, GATED, GATE), tmp_path)

    assert statuses(result) == {
        "score": "done",
        "check": "done",
        "good": "done",
        "after-good": "done",
        "low": "skipped",
    }
    assert notes(result)["check"] == "then branch"
    assert notes(result)["low"] == "'check' chose then"
    assert result.output("after-good") == "OK"


def test_fail_step_ends_the_run_with_its_message(tmp_path):
    plan = load(tmp_path, GATED, GATE)

    result = run(plan, tmp_path, params={"gate": "0.9"})

    assert result.status == "failed"
    assert result.exit_code == 4
    assert statuses(result) == {
        "score": "done",
        "check": "done",
        "good": "skipped",
        "after-good": "skipped",
        "low": "failed",
    }
    assert notes(result)["after-good"] == "needs skipped 'good'"
    assert result.failure is not None
    assert result.failure.render() == (
        f"{plan.steps['low'].location}: fail step 'low': AUC 0.7 is below 0.9"
    )


def test_condition_on_a_result_that_is_not_json_fails_the_condition(tmp_path):
    steps = """\
    - name: odd
      entrypoint: runsteps.basic:numbers
    - name: check
      condition: ${steps.odd} == 1
      then: [never]
    - name: never
      entrypoint: runsteps.basic:numbers
    """
    # A list is JSON, so index into it wrongly instead: the same path fails
    # on SageMaker's JsonGet.
    plan = load(tmp_path, steps.replace("${steps.odd}", "${steps.odd[5]}"))

    result = run(plan, tmp_path)

    assert result.failure is not None
    assert result.failure.message == (
        "condition 'check' cannot be evaluated: ${steps.odd[5]}: no [5] in [0, 1, 2]"
    )


# -- the run's files ----------------------------------------------------------------


def test_run_keeps_inputs_result_log_status_and_summary(tmp_path):
    result = run(load(tmp_path, CHAIN, START), tmp_path)

    folder = result.run_dir / "steps" / "total"
    names = sorted(p.name for p in folder.iterdir())
    task = json.loads((folder / "task.json").read_text())
    status = json.loads((folder / "status.json").read_text())
    summary = json.loads((result.run_dir / "run.json").read_text())
    assert names == [
        "arguments.pkl", "log.txt", "result.pkl", "status.json", "task.json"
    ]
    assert task["inputs"] == {
        "values": {"ref": "${steps.numbers}"},
        "extra": {"ref": "${steps.numbers[2]}"},
    }
    assert status["status"] == "done"
    assert summary["status"] == "succeeded"
    assert summary["parameters"] == {"start": 1}
    assert [s["status"] for s in summary["steps"]] == ["done", "done"]


def test_unchanged_steps_come_from_the_cache(tmp_path):
    plan = load(tmp_path, CHAIN, START)

    first = run(plan, tmp_path)
    second = run(plan, tmp_path)
    forced = run(plan, tmp_path, use_cache=False)

    assert statuses(first) == {"numbers": "done", "total": "done"}
    assert statuses(second) == {"numbers": "cached", "total": "cached"}
    assert notes(second)["total"] == "from cache"
    assert second.outputs() == first.outputs()
    assert statuses(forced) == {"numbers": "done", "total": "done"}


def test_changed_input_reruns_the_step_and_what_reads_it(tmp_path):
    plan = load(tmp_path, CHAIN, START)

    run(plan, tmp_path)
    changed = run(plan, tmp_path, params={"start": "5"})

    assert statuses(changed) == {"numbers": "done", "total": "done"}


@pytest.mark.parametrize("edited", ["steps/main.py", "steps/helper.py"])
def test_edited_step_code_is_rerun_not_cached(tmp_path, edited):
    project = tmp_path / "project"
    (project / "steps").mkdir(parents=True)
    (project / "steps" / "__init__.py").write_text("")
    (project / "steps" / "helper.py").write_text("BASE = 1\n")
    (project / "steps" / "main.py").write_text(
        "from steps.helper import BASE\n\n\ndef value():\n    return BASE\n"
    )
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(
        "version: 1\nname: edit\nsteps:\n"
        "  - name: value\n    entrypoint: steps.main:value\n"
    )
    first = run(load_plan(spec, project), tmp_path)

    file = project / edited
    file.write_text(file.read_text().replace("BASE = 1", "BASE = 2")
                    .replace("return BASE", "return BASE * 2"))
    second = run(load_plan(spec, project), tmp_path)

    assert first.outputs() == {"value": 1}
    assert second.outputs() == {"value": 2}
    assert statuses(second) == {"value": "done"}


# -- faults -------------------------------------------------------------------------


FAULTY = """\
- name: first
  entrypoint: runsteps.basic:numbers
- name: flaky
  entrypoint: runsteps.faults:faulty
  max_runtime_in_seconds: {runtime}
  inputs:
    kind: {kind}
    marker: {marker}
    value: ${{steps.first[2]}}
- name: sibling
  entrypoint: runsteps.faults:slow
  inputs: {{seconds: 0.5, value: 1}}
- name: last
  entrypoint: runsteps.basic:total
  after: [sibling]
  inputs:
    values: [1]
    extra: ${{steps.flaky}}
"""
FAULTS = {
    "raise": (
        "step 'flaky' raised ValueError: bad value 2",
        "fix it and resume with --resume {id}",
        'raise ValueError(f"bad value {value}")',
    ),
    "sigkill": (
        "step 'flaky' was killed by SIGKILL",
        "the out-of-memory killer sends SIGKILL; resume with --resume {id}",
        "about to fail: sigkill",
    ),
    "exit": (
        "step 'flaky' exited with code 3 before returning",
        "something in the step ended the process; resume with --resume {id}",
        "about to fail: exit",
    ),
    "memory": (
        "step 'flaky' raised MemoryError",
        "fix it and resume with --resume {id}",
        "in _exhaust_memory",
    ),
    "unpicklable": (
        "step 'flaky' returned a value that cannot be pickled: "
        "TypeError: cannot pickle '_thread.lock' object",
        "SageMaker pickles results with cloudpickle too; resume with --resume {id}",
        "TypeError: cannot pickle '_thread.lock' object",
    ),
    "segfault": (
        "step 'flaky' was killed by SIGSEGV",
        "resume with --resume {id}",
        "in faulty",
    ),
    "hang": (
        "step 'flaky' ran past max_runtime_in_seconds (1)",
        "the log shows where it was; raise the limit or resume with --resume {id}",
        "in _hang",
    ),
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_fault_is_reported_against_its_step_and_resume_picks_up(tmp_path, kind):
    marker = tmp_path / "fixed"
    runtime = 1 if kind == "hang" else 30
    steps = FAULTY.format(kind=kind, marker=marker, runtime=runtime)
    plan = load(tmp_path, steps)

    failed = run(plan, tmp_path, jobs=3)

    message, hint, shown = FAULTS[kind]
    error = failed.steps["flaky"].error
    assert error is not None
    assert error.message == message
    assert error.hint == hint.format(id=failed.run_id)
    assert error.location == plan.steps["flaky"].location
    assert shown in failed.steps["flaky"].detail
    assert failed.exit_code == 4
    assert statuses(failed) == {
        "first": "done", "sibling": "done", "flaky": "failed", "last": "cancelled"
    }
    assert_nothing_half_written(failed.run_dir)

    marker.touch()
    resumed = run(plan, tmp_path, resume=failed.run_id, use_cache=False)

    assert resumed.run_id == failed.run_id
    assert statuses(resumed) == {
        "first": "cached", "sibling": "cached", "flaky": "done", "last": "done"
    }
    assert notes(resumed)["first"] == "kept from this run"
    assert resumed.output("last") == 4


def assert_nothing_half_written(run_dir: Path) -> None:
    for path in run_dir.rglob("*"):
        assert not path.name.startswith("."), path
        if path.suffix == ".json":
            json.loads(path.read_text())


def test_step_whose_module_fails_to_import_is_reported(tmp_path):
    steps = """\
    - name: broken
      entrypoint: runsteps.broken_import:step
    """
    result = run(load(tmp_path, steps), tmp_path)

    error = result.steps["broken"].error
    assert error is not None
    assert error.message == (
        "step 'broken' could not start: "
        "ModuleNotFoundError: No module named 'yamlpipe_no_such_module'"
    )
    assert "broken_import.py" in result.steps["broken"].detail


def test_running_branch_finishes_after_another_fails(tmp_path):
    steps = """\
    - name: broken
      entrypoint: runsteps.faults:faulty
      inputs: {kind: raise, marker: /nonexistent/marker}
    - name: long
      entrypoint: runsteps.faults:slow
      inputs: {seconds: 0.5}
    - name: next
      entrypoint: runsteps.faults:slow
      after: [long]
      inputs: {seconds: 0}
    """
    result = run(load(tmp_path, steps), tmp_path, jobs=2)

    assert statuses(result) == {
        "broken": "failed", "long": "done", "next": "cancelled"
    }


def _sleepy_after_first(pid_file, marker):
    """Steps: a quick one, then one that records its pid and sleeps."""
    return f"""\
    - name: first
      entrypoint: runsteps.basic:numbers
    - name: sleepy
      entrypoint: runsteps.faults:sleeper
      after: [first]
      inputs: {{pid_file: {pid_file}, marker: {marker}}}
    """


def test_ctrl_c_kills_workers_and_leaves_a_resumable_run(tmp_path):
    pid_file, marker = tmp_path / "pids", tmp_path / "woken"
    plan = load(tmp_path, _sleepy_after_first(pid_file, marker))

    with pytest.raises(RunInterrupted) as caught:
        run(plan, tmp_path, progress=InterruptWhenWritten(pid_file))

    interrupted = caught.value.result
    assert isinstance(caught.value, KeyboardInterrupt)
    assert interrupted.status == "interrupted"
    assert statuses(interrupted) == {"first": "done", "sleepy": "cancelled"}
    assert not any(alive(int(pid)) for pid in pid_file.read_text().split())
    assert_nothing_half_written(interrupted.run_dir)

    marker.touch()
    resumed = run(plan, tmp_path, resume=interrupted.run_id)

    assert statuses(resumed) == {"first": "cached", "sleepy": "done"}
    assert resumed.output("sleepy") == "woke"


class InterruptWhenWritten:
    """Presses Ctrl-C once the step has written its pids (and so is running)."""

    def __init__(self, pid_file: Path) -> None:
        self.pid_file = pid_file

    def started(self, run: RunStart) -> None:
        pass

    def changed(self, step: StepRecord) -> None:
        pass

    def tick(self) -> None:
        if self.pid_file.exists() and len(self.pid_file.read_text().split()) == 2:
            signal.raise_signal(signal.SIGINT)

    def finished(self, result: RunResult) -> None:
        pass


KILLED_RUN = """\
from pathlib import Path
from yamlpipe.resolve import load_plan
from yamlpipe.runner import run_plan
plan = load_plan(Path({spec!r}), Path({root!r}))
run_plan(plan, runs_dir=Path({runs!r}))
"""


@pytest.mark.parametrize("how", ["terminate", "kill"])
def test_run_stopped_from_outside_takes_its_workers_along(tmp_path, how):
    pid_file, marker = tmp_path / "pids", tmp_path / "woken"
    plan = load(tmp_path, _sleepy_after_first(pid_file, marker))
    script = KILLED_RUN.format(
        spec=str(plan.spec_path), root=str(ROOT), runs=str(tmp_path / "runs")
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    wait_for(lambda: pid_file.exists() and len(pid_file.read_text().split()) == 2)
    worker, grandchild = (int(pid) for pid in pid_file.read_text().split())

    getattr(process, how)()
    process.wait()

    # SIGTERM: the run kills the whole group itself. SIGKILL: the kernel kills the
    # worker (PR_SET_PDEATHSIG), and what the step started is orphaned.
    wait_for(lambda: not alive(worker))
    if how == "terminate":
        wait_for(lambda: not alive(grandchild))
    else:
        os.kill(grandchild, signal.SIGKILL)
    (run_dir,) = (tmp_path / "runs").iterdir()
    marker.touch()
    resumed = run(plan, tmp_path, resume=run_dir.name)
    assert statuses(resumed) == {"first": "cached", "sleepy": "done"}
    assert_nothing_half_written(run_dir)


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll until ``condition`` holds; a minute means something is broken."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


# -- resume -------------------------------------------------------------------------


def test_resume_rejects_changed_parameters(tmp_path):
    plan = load(tmp_path, CHAIN, START)
    first = run(plan, tmp_path)

    with pytest.raises(UsageError) as caught:
        run(plan, tmp_path, resume=first.run_id, params={"start": "2"})

    assert caught.value.render() == (
        f"--resume keeps the parameters of run '{first.run_id}'; "
        "start a new run to change start"
    )


def test_resume_of_unknown_run_suggests_close_id(tmp_path):
    plan = load(tmp_path, CHAIN, START)
    first = run(plan, tmp_path)
    typo = first.run_id[:-1] + ("x" if first.run_id[-1] != "x" else "y")

    with pytest.raises(UsageError) as caught:
        run(plan, tmp_path, resume=typo)

    assert caught.value.render() == (
        f"no run '{typo}' in {tmp_path / 'runs'}; did you mean '{first.run_id}'?"
    )


def test_resume_reruns_a_kept_step_whose_code_changed(tmp_path):
    plan = load(tmp_path, CHAIN, START)
    first = run(plan, tmp_path)
    summary = first.run_dir / "steps" / "numbers" / "status.json"
    status = json.loads(summary.read_text())
    summary.write_text(json.dumps({**status, "key": "an older version"}))

    resumed = run(plan, tmp_path, resume=first.run_id, use_cache=False)

    assert statuses(resumed) == {"numbers": "done", "total": "cached"}
