"""Run a plan on this machine, with no AWS account and no Docker.

``run_plan`` executes the steps in dependency order: each function step in a worker
process of its own (see ``_worker``), up to ``jobs`` at a time; condition steps in
this process, choosing the branch that runs; a fail step ends the run with its
message. Everything a run does is kept under ``runs_dir/<run-id>/`` (see
``_runstore``), so that ``resume`` can rerun only what failed or did not run and a
step whose code, inputs and settings are unchanged is taken from the cache.

When a step fails, no new step starts and the running ones finish; on Ctrl-C the
running ones are killed. Either way the run is left resumable.

The caller sees the run through a ``Progress`` (the terminal display lives in
``yamlpipe.progress``); without one, milestones go to this module's logger.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

import cloudpickle  # type: ignore[import-untyped]

from yamlpipe import _runstore as store
from yamlpipe import _worker
from yamlpipe import plan as p
from yamlpipe._differences import LocalDifference, local_differences
from yamlpipe._values import (
    ValueProblem,
    Values,
    execution_values,
    parse_params,
    step_key,
    timestamp,
)
from yamlpipe.errors import (
    ErrorGroup,
    Location,
    RunError,
    UsageError,
    YamlpipeError,
    hint_for,
)
from yamlpipe.refs import walk_refs

logger = logging.getLogger(__name__)

StepStatus = Literal[
    "waiting", "running", "done", "cached", "failed", "skipped", "cancelled"
]
RunStatus = Literal["running", "succeeded", "failed", "interrupted"]
StartMethod = _worker.StartMethod

FINAL: frozenset[str] = frozenset({"done", "cached", "failed", "skipped", "cancelled"})
_PRODUCED = frozenset({"done", "cached"})
# The SDK's default for @step(max_runtime_in_seconds=...): 24 hours
# (sagemaker/core/remote_function/job.py).
DEFAULT_MAX_RUNTIME = 24 * 60 * 60
# How long a step past its max runtime has to write where it was before the kill.
_DUMP_GRACE = 0.5
# How often the display is woken while steps run, and how often a worker's exit
# is polled where the kernel cannot signal it (no pidfd: macOS, old Linux).
_TICK = 0.2
_POLL = 0.005
_LOG_TAIL = 30
_WORKER_FRAME = f'{os.sep}yamlpipe{os.sep}_worker.py", line'


@dataclass(frozen=True)
class StepRecord:
    """Where one step stands."""

    name: str
    kind: Literal["function", "condition", "fail"]
    location: Location
    status: StepStatus = "waiting"
    started: float | None = None  # time.monotonic() when it started to run
    seconds: float | None = None
    note: str = ""
    error: RunError | None = None
    # The traceback of a step that raised, else the end of its log.
    detail: str = ""
    log: Path | None = None


@dataclass(frozen=True)
class RunStart:
    run_id: str
    run_dir: Path
    pipeline: str
    steps: tuple[StepRecord, ...]
    warnings: tuple[LocalDifference, ...]
    resumed: bool
    jobs: int


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    pipeline: str
    status: RunStatus
    steps: dict[str, StepRecord]
    warnings: tuple[LocalDifference, ...]
    seconds: float
    import_roots: tuple[str, ...] = field(default=(), repr=False)

    @property
    def failure(self) -> YamlpipeError | None:
        """The error to report: the failed step's, or all of them together."""
        errors = [s.error for s in self.steps.values() if s.error is not None]
        if not errors:
            return None
        return errors[0] if len(errors) == 1 else ErrorGroup(errors)

    @property
    def exit_code(self) -> int:
        if self.status == "interrupted":
            return 130
        failure = self.failure
        return failure.exit_code if failure else 0

    def output(self, name: str) -> Any:
        """The return value of function step ``name``, unpickled here."""
        record = self.steps[name]
        if record.kind != "function" or record.status not in _PRODUCED:
            raise KeyError(f"step '{name}' has no result ({record.status})")
        data = (self.run_dir / "steps" / name / store.RESULT).read_bytes()
        # Results may hold instances of the steps' own classes.
        added = [r for r in self.import_roots if r not in sys.path]
        sys.path[:0] = added
        try:
            return cloudpickle.loads(data)
        finally:
            for root in added:
                sys.path.remove(root)

    def outputs(self) -> dict[str, Any]:
        """Every function step's return value, in plan order."""
        return {
            name: self.output(name)
            for name, record in self.steps.items()
            if record.kind == "function" and record.status in _PRODUCED
        }


class Progress(Protocol):
    """What a display of a run is told."""

    def started(self, run: RunStart) -> None: ...

    def changed(self, step: StepRecord) -> None: ...

    def tick(self) -> None: ...

    def finished(self, result: RunResult) -> None: ...


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run; ``result`` tells what was left for ``--resume``."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(f"run {result.run_id} interrupted")
        self.result = result


def run_plan(
    plan: p.Plan,
    *,
    params: Mapping[str, object] | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    resume: str | None = None,
    runs_dir: Path | None = None,
    progress: Progress | None = None,
    start_method: StartMethod | None = None,
) -> RunResult:
    """Run ``plan`` here; the result tells how each step ended.

    A step failing or a fail step is not an exception: see ``RunResult.failure``.
    ``runs_dir`` defaults to ``.yamlpipe/runs`` under the plan's root; the cache
    is its sibling ``cache``. Raises ``UsageError`` for bad parameters or an unknown
    run to resume, and ``RunInterrupted`` after cleaning up on Ctrl-C.
    """
    runs_dir = runs_dir or plan.root / ".yamlpipe" / "runs"
    options = _Options(
        jobs=_jobs(jobs),
        use_cache=use_cache,
        start_method=start_method or _default_start_method(),
        progress=progress or _LogProgress(),
    )
    opened = _open_run(plan, params or {}, resume, runs_dir)
    run = _Run(plan, opened, options)
    run.announce(tuple(local_differences(plan)))

    try:
        with _stop_on_signals():
            run.execute()
    except KeyboardInterrupt:
        with _sigint_blocked():
            run.stop()
            result = run.finish(interrupted=True)
        raise RunInterrupted(result) from None
    finally:
        with _sigint_blocked():
            run.stop()
    return run.finish(interrupted=False)


@dataclass(frozen=True)
class _Options:
    jobs: int
    use_cache: bool
    start_method: StartMethod
    progress: Progress


def _jobs(jobs: int | None) -> int:
    if jobs is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:
            return os.cpu_count() or 1
    if jobs < 1:
        raise UsageError(f"--jobs is {jobs}", "give 1 or more parallel steps")
    return jobs


def _default_start_method() -> StartMethod:
    if not hasattr(os, "posix_spawn"):
        raise YamlpipeError(
            "yamlpipe run needs a POSIX system",
            "run it on Linux or macOS (on Windows, in WSL)",
        )
    chosen = os.environ.get("YAMLPIPE_START_METHOD")
    if chosen in ("fork", "spawn"):
        return chosen  # type: ignore[return-value]
    return "fork" if hasattr(os, "fork") else "spawn"


# -- opening a run ---------------------------------------------------------------


@dataclass
class _Opened:
    store: store.RunStore
    summary: dict[str, Any]
    # The steps' status.json of the run being resumed, by step name.
    previous: dict[str, dict[str, Any]]


def _open_run(
    plan: p.Plan, params: Mapping[str, object], resume: str | None, runs_dir: Path
) -> _Opened:
    cache_dir = runs_dir.parent / "cache"
    if resume is not None:
        return _reopen(plan, params, runs_dir / resume, cache_dir)
    values = parse_params(plan, params)
    started = datetime.now(timezone.utc)
    while True:
        run_id = f"{started:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        opened = store.RunStore(runs_dir / run_id, cache_dir)
        try:
            opened.create()
            break
        except FileExistsError:
            continue
    summary = {
        "run_id": run_id,
        "pipeline": plan.name,
        "spec": str(plan.spec_path),
        "spec_sha256": plan.spec_sha256,
        "root": str(plan.root),
        "parameters": values,
        "execution": execution_values(plan, run_id, started),
        "attempts": [],
    }
    return _Opened(opened, summary, {})


def _reopen(
    plan: p.Plan, params: Mapping[str, object], run_dir: Path, cache_dir: Path
) -> _Opened:
    reopened = store.RunStore(run_dir, cache_dir)
    summary = reopened.summary()
    if summary is None:
        known = [d.name for d in run_dir.parent.glob("*") if d.is_dir()]
        raise UsageError(
            f"no run '{run_dir.name}' in {run_dir.parent}",
            hint_for(run_dir.name, known, "give the id of an earlier run"),
        )
    if summary["pipeline"] != plan.name:
        raise UsageError(
            f"run '{run_dir.name}' ran pipeline '{summary['pipeline']}', "
            f"not '{plan.name}'",
            "resume it with its own spec",
        )
    declared = {param.name for param in plan.parameters}
    recorded = {k: v for k, v in summary["parameters"].items() if k in declared}
    values = parse_params(plan, recorded)
    changed = sorted(k for k, v in parse_params(plan, {**recorded, **params}).items()
                     if v != values[k])
    if changed:
        raise UsageError(
            f"--resume keeps the parameters of run '{run_dir.name}'",
            f"start a new run to change {', '.join(changed)}",
        )
    reopened.reopen()
    summary["parameters"] = values
    previous = {name: reopened.status(name) for name in plan.steps}
    return _Opened(reopened, summary, {k: v for k, v in previous.items() if v})


# -- the run ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    key: str
    task: dict[str, Any]
    arguments: dict[str, Any]
    max_runtime: float


class _Run:
    def __init__(self, plan: p.Plan, opened: _Opened, options: _Options) -> None:
        self.plan = plan
        self.store = opened.store
        self.summary = opened.summary
        self.previous = opened.previous
        self.options = options
        self.progress = options.progress
        self.records = {
            name: StepRecord(name, step.kind, step.location)
            for name, step in plan.steps.items()
        }
        self.keys: dict[str, str] = {}
        self.chosen: dict[str, p.Branch] = {}
        self.prepared: dict[str, _Prepared] = {}
        self.running: dict[str, _worker.Worker] = {}
        self.digests: dict[Path, str] = {}
        self.stopping = False
        self.started = time.monotonic()
        self.started_at = timestamp(datetime.now(timezone.utc))
        self.warnings: tuple[LocalDifference, ...] = ()
        self.json_needed = _read_as_json(plan)
        self.values = Values(
            self.summary["parameters"],
            self.summary["execution"],
            lambda: timestamp(datetime.now(timezone.utc)),
            lambda name: store.read_json(self.store.step_dir(name) / store.RESULT_JSON),
        )

    @property
    def run_id(self) -> str:
        return str(self.summary["run_id"])

    def announce(self, warnings: tuple[LocalDifference, ...]) -> None:
        self.warnings = warnings
        self.summary["status"] = "running"
        self.store.write_summary(self.summary)
        self.progress.started(
            RunStart(
                run_id=self.run_id,
                run_dir=self.store.run_dir,
                pipeline=self.plan.name,
                steps=tuple(self.records.values()),
                warnings=warnings,
                resumed=bool(self.summary["attempts"]),
                jobs=self.options.jobs,
            )
        )

    def execute(self) -> None:
        while True:
            self.start_ready()
            if not self.running:
                return
            self.wait()

    # -- scheduling ------------------------------------------------------------

    def start_ready(self) -> None:
        """Settle or start every step whose upstream steps have all ended.

        Once a step has failed nothing new starts, but skipped branches are still
        marked as such: they would not have run either way.
        """
        for name, step in self.plan.steps.items():
            if self.records[name].status != "waiting":
                continue
            upstream = [self.records[u].status for u in self.plan.upstream[name]]
            if not all(status in FINAL for status in upstream):
                continue
            reason = self.skip_reason(name)
            if reason:
                self.set(name, status="skipped", note=reason)
            elif not self.stopping and all(s in _PRODUCED for s in upstream):
                self.settle(step)

    def skip_reason(self, name: str) -> str:
        for up in self.plan.upstream[name]:
            if self.records[up].status == "skipped":
                return f"needs skipped '{up}'"
        if name in self.plan.branch:
            owner, side = self.plan.branch[name]
            if owner in self.chosen and self.chosen[owner] != side:
                return f"'{owner}' chose {self.chosen[owner]}"
        return ""

    def settle(self, step: p.Step) -> None:
        if isinstance(step, p.ConditionStep):
            self.decide(step)
        elif isinstance(step, p.FailStep):
            self.hit_fail(step)
        elif not self.reuse(step) and len(self.running) < self.options.jobs:
            self.launch(step)

    def set(self, name: str, **changes: Any) -> None:
        record = dataclasses.replace(self.records[name], **changes)
        self.records[name] = record
        self.progress.changed(record)

    # -- condition and fail steps ----------------------------------------------

    def decide(self, step: p.ConditionStep) -> None:
        try:
            holds = all(self.values.holds(expr) for expr in step.conditions)
        except ValueProblem as exc:
            self.store.clear_step(step.name)
            self.fail(step.name, RunError(
                f"condition '{step.name}' cannot be evaluated: {exc}",
                "fix the step it reads and resume with --resume " + self.run_id,
                step.location,
            ))
            return
        chosen: p.Branch = "then" if holds else "else"
        self.chosen[step.name] = chosen
        self.store.clear_step(step.name)
        self.store.write_status(step.name, {"status": "done", "branch": chosen})
        self.set(step.name, status="done", note=f"{chosen} branch", seconds=0.0)

    def hit_fail(self, step: p.FailStep) -> None:
        try:
            message = self.values.render(step.message)
        except ValueProblem as exc:
            message = f"(message not rendered: {exc})"
        self.store.clear_step(step.name)
        error = RunError(f"fail step '{step.name}': {message}", "", step.location)
        self.fail(step.name, error, note=message, detail=message)

    def fail(self, name: str, error: RunError, **changes: Any) -> None:
        """Record a failed step; no new step starts after one."""
        self.stopping = True
        detail = changes.get("detail", "")
        status = {"status": "failed", "error": error.message, "detail": detail}
        self.store.write_status(name, status)
        changes.setdefault("note", error.message)
        self.set(name, status="failed", error=error, **changes)

    # -- function steps --------------------------------------------------------

    def prepare(self, step: p.FunctionStep) -> _Prepared:
        if step.name not in self.prepared:
            self.prepared[step.name] = self.build(step)
        return self.prepared[step.name]

    def build(self, step: p.FunctionStep) -> _Prepared:
        arguments: dict[str, Any] = {}
        refs: dict[str, dict[str, Any]] = {}
        shown: dict[str, Any] = {}
        for name, value in step.inputs.items():
            if isinstance(value, p.StepRef):
                refs[name] = {"step": value.step, "path": list(value.path)}
                shown[name] = {"ref": str(value)}
            else:
                arguments[name] = self.values.get(value)
                is_ref = isinstance(value, (p.ParamRef, p.ExecutionRef))
                shown[name] = {"ref": str(value)} if is_ref else {}
                shown[name]["value"] = arguments[name]
        key = step_key(
            step,
            self.digest(_code_scope(step, self.plan.root)),
            arguments,
            {n: (self.keys[r["step"]], tuple(r["path"])) for n, r in refs.items()},
        )
        module, import_root = _importable(step)
        task = {
            "step": step.name,
            "entrypoint": step.entrypoint,
            "module": module,
            "function": step.function,
            "import_root": str(import_root),
            "cwd": str(self.plan.root),
            "environment": {
                k: str(v)
                for k, v in (step.settings.get("environment_variables") or {}).items()
            },
            "inputs": shown,
            "refs": refs,
            "order": list(step.inputs),
            "json_result": step.name in self.json_needed,
            "key": key,
        }
        limit = step.settings.get("max_runtime_in_seconds") or DEFAULT_MAX_RUNTIME
        return _Prepared(key, task, arguments, float(limit))

    def digest(self, scope: Path) -> str:
        if scope not in self.digests:
            self.digests[scope] = _digest(scope)
        return self.digests[scope]

    def reuse(self, step: p.FunctionStep) -> bool:
        """Take the step's result from the resumed run or the cache, if it fits."""
        key = self.prepare(step).key
        need_json = step.name in self.json_needed
        before = self.previous.get(step.name, {})
        if (
            before.get("status") in _PRODUCED
            and before.get("key") == key
            and self.store.has_result(step.name, need_json)
        ):
            note = "kept from this run"
        elif self.options.use_cache and self.store.cached(key, need_json):
            self.store.fetch(key, step.name)
            note = "from cache"
        else:
            return False
        self.keys[step.name] = key
        self.store.write_status(step.name, {"status": "cached", "key": key,
                                            "note": note})
        self.set(step.name, status="cached", note=note)
        return True

    def launch(self, step: p.FunctionStep) -> None:
        prepared = self.prepare(step)
        folder = self.store.clear_step(step.name)
        store.write_json(folder / store.TASK, prepared.task)
        arguments = cloudpickle.dumps(prepared.arguments)
        store.write_atomic(folder / store.ARGUMENTS, arguments)
        with _sigint_blocked():
            # Blocked, so that a Ctrl-C cannot leave a worker we do not know of.
            pid, exit_fd = _worker.start(folder, self.options.start_method)
            now = time.monotonic()
            self.running[step.name] = _worker.Worker(
                step.name, pid, now, now + prepared.max_runtime, exit_fd
            )
        self.set(step.name, status="running", started=now)

    # -- waiting for workers ---------------------------------------------------

    def wait(self) -> None:
        now = time.monotonic()
        self.enforce_deadlines(now)
        timeout = self.next_wakeup(now)
        fds = [w.exit_fd for w in self.running.values() if w.exit_fd is not None]
        if len(fds) < len(self.running):
            timeout = min(timeout, _POLL)
        _wait_readable(fds, timeout)
        for name, worker in list(self.running.items()):
            code = worker.poll()
            if code is not None:
                del self.running[name]
                self.collect(worker, code)
        self.progress.tick()

    def enforce_deadlines(self, now: float) -> None:
        for worker in self.running.values():
            if worker.kill_at is not None and now >= worker.kill_at:
                worker.kill()
                worker.kill_at = None
            elif not worker.timed_out and now >= worker.deadline:
                worker.timed_out = True
                worker.dump_stacks()
                worker.kill_at = now + _DUMP_GRACE

    def next_wakeup(self, now: float) -> float:
        moments = [now + _TICK]
        for worker in self.running.values():
            if not worker.timed_out:
                moments.append(worker.deadline)
            elif worker.kill_at is not None:
                moments.append(worker.kill_at)
        return max(0.0, min(moments) - now)

    def collect(self, worker: _worker.Worker, code: int) -> None:
        name = worker.name
        self.store.finish_log(name)
        seconds = time.monotonic() - worker.started
        folder = self.store.step_dir(name)
        if code == _worker.DONE and not worker.timed_out and (
            folder / store.RESULT
        ).exists():
            key = self.prepared[name].key
            self.keys[name] = key
            self.store.keep(key, name)
            ended = datetime.now(timezone.utc)
            status = {
                "status": "done",
                "key": key,
                "started": timestamp(ended - timedelta(seconds=seconds)),
                "ended": timestamp(ended),
                "seconds": round(seconds, 6),
                "pid": worker.pid,
            }
            self.store.write_status(name, status)
            self.set(name, status="done", seconds=seconds, log=folder / store.LOG)
            return
        error, detail = self.explain(worker, code)
        self.fail(name, error, detail=detail, seconds=seconds, log=folder / store.LOG)

    def explain(self, worker: _worker.Worker, code: int) -> tuple[RunError, str]:
        """What went wrong in a worker, and the traceback or log to show."""
        step = self.plan.steps[worker.name]
        folder = self.store.step_dir(worker.name)
        resume = f"resume with --resume {self.run_id}"
        report = store.read_json(folder / store.ERROR)
        if worker.timed_out:
            limit = self.prepared[worker.name].max_runtime
            message = f"step '{step.name}' ran past max_runtime_in_seconds ({limit:g})"
            hint = f"the log shows where it was; raise the limit or {resume}"
        elif code == _worker.RAISED and report:
            error = _raised(step.name, report, resume, step.location)
            return error, report["traceback"]
        elif code < 0:
            message = f"step '{step.name}' was killed by {_signal_name(-code)}"
            hint = resume
            if -code == signal.SIGKILL:
                hint = f"the out-of-memory killer sends SIGKILL; {resume}"
        else:
            message = f"step '{step.name}' exited with code {code} before returning"
            hint = f"something in the step ended the process; {resume}"
        return RunError(message, hint, step.location), _tail(folder / store.LOG)

    # -- ending ----------------------------------------------------------------

    def stop(self) -> None:
        """Kill the running workers and record them as cancelled."""
        for worker in self.running.values():
            worker.kill()
        for name, worker in list(self.running.items()):
            worker.wait()
            del self.running[name]
            self.store.finish_log(name)
            self.store.write_status(name, {"status": "cancelled"})
            seconds = time.monotonic() - worker.started
            self.set(name, status="cancelled", seconds=seconds, note="stopped")

    def finish(self, interrupted: bool) -> RunResult:
        for name, record in self.records.items():
            if record.status == "waiting":
                self.set(name, status="cancelled", note="not started")
        status: RunStatus = "interrupted" if interrupted else (
            "failed" if any(r.status == "failed" for r in self.records.values())
            else "succeeded"
        )
        self.write_summary(status)
        result = RunResult(
            run_id=self.run_id,
            run_dir=self.store.run_dir,
            pipeline=self.plan.name,
            status=status,
            steps=dict(self.records),
            warnings=self.warnings,
            seconds=time.monotonic() - self.started,
            import_roots=tuple(sorted({
                str(_importable(s)[1]) for s in self.plan.function_steps()
            })),
        )
        self.progress.finished(result)
        return result

    def write_summary(self, status: RunStatus) -> None:
        self.summary["status"] = status
        self.summary["attempts"].append(
            {"started": self.started_at, "ended": _now(), "status": status}
        )
        self.summary["steps"] = [
            {"name": r.name, "kind": r.kind, "status": r.status, "note": r.note,
             "seconds": None if r.seconds is None else round(r.seconds, 6)}
            for r in self.records.values()
        ]
        self.store.write_summary(self.summary)


def _read_as_json(plan: p.Plan) -> set[str]:
    """Function steps whose result a condition or fail step reads, so whose job
    writes it as JSON too (``_set_serialize_output_to_json_flag`` in the SDK)."""
    read: list[object] = []
    for step in plan.steps.values():
        if isinstance(step, p.ConditionStep):
            read += [ref for expr in step.conditions for ref in walk_refs(expr)]
        elif isinstance(step, p.FailStep):
            read += step.message
    return {ref.step for ref in read if isinstance(ref, p.StepRef)}


def _importable(step: p.FunctionStep) -> tuple[str, Path]:
    """The module name the worker imports and the folder to put on sys.path."""
    if step.module.endswith(".py"):
        return step.source.stem, step.source.parent
    depth = step.module.count(".") + (step.source.name == "__init__.py")
    return step.module, step.source.parents[depth]


def _wait_readable(fds: list[int], timeout: float) -> None:
    """Sleep until one of ``fds`` is readable or ``timeout`` seconds pass."""
    if not fds:
        time.sleep(timeout)
        return
    # poll, not select: it has no limit on descriptor numbers. Only pidfds come
    # here, and they exist only on Linux, where poll does too.
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    poller.poll(timeout * 1000)


def _code_scope(step: p.FunctionStep, root: Path) -> Path:
    """The code a step's cache key covers: its top-level package, or the folder
    of a top-level module, so that an edited helper module counts too. Code
    outside the project (an installed package) counts by its own file only."""
    module, import_root = _importable(step)
    top = import_root / module.partition(".")[0]
    scope = top if top.is_dir() else import_root
    return scope if scope.is_relative_to(root) else step.source


def _digest(scope: Path) -> str:
    """One hash over the Python files of ``scope``: a folder, or one file."""
    if scope.is_file():
        files = [scope]
    elif scope.name and (scope / "__init__.py").exists():
        files = sorted(scope.rglob("*.py"))
    else:
        files = sorted(scope.glob("*.py"))
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(scope.parent)).encode() + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(b"unreadable")
    return digest.hexdigest()


def _raised(name: str, report: dict[str, Any], resume: str,
            location: Location) -> RunError:
    what = report["type"]
    if report["message"]:
        what += ": " + report["message"].splitlines()[0]
    if report["phase"] == "result":
        return RunError(
            f"step '{name}' returned a value that cannot be pickled: {what}",
            f"SageMaker pickles results with cloudpickle too; {resume}",
            location,
        )
    if report["phase"] == "load":
        return RunError(f"step '{name}' could not start: {what}", resume, location)
    return RunError(f"step '{name}' raised {what}", f"fix it and {resume}", location)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _tail(log: Path) -> str:
    """The end of a log, without the worker's frames in a faulthandler dump."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    kept, below_worker = [], False
    for line in lines:
        frame = line.startswith("  File ")
        # A forked worker's stack goes on into the parent's frames: noise.
        below_worker = frame and (below_worker or _WORKER_FRAME in line)
        if not below_worker:
            kept.append(line)
    return "\n".join(kept[-_LOG_TAIL:])


def _now() -> str:
    return timestamp(datetime.now(timezone.utc))


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM (kill, a CI timeout) and SIGHUP (a closed terminal) stop the run as
    Ctrl-C does, so that its workers die with it and it stays resumable."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stops = (signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, _interrupt) for signum in stops}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _LogProgress:
    """Milestones to the logger, for callers that show no display."""

    def started(self, run: RunStart) -> None:
        for warning in run.warnings:
            logger.warning("%s", warning.render())
        logger.info("run %s of %s started in %s", run.run_id, run.pipeline,
                    run.run_dir)

    def changed(self, step: StepRecord) -> None:
        logger.debug("step %s: %s %s", step.name, step.status, step.note)

    def tick(self) -> None:
        pass

    def finished(self, result: RunResult) -> None:
        logger.info("run %s %s in %.2fs", result.run_id, result.status,
                    result.seconds)
