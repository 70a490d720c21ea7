"""Timing of `yamlpipe run` against calling the same functions in one process.

Usage: python bench/run_speed.py [--runs N] [--start-method fork|spawn]

Two cases from issue 4, each measured side by side in this one process:

- chain: 50 trivial function steps, each reading the previous one's result. The
  direct time calls the 50 functions one after the other; the run time is
  ``run_plan`` on the same functions (cache off, a plain progress display writing
  to memory, as the CLI's display does off a terminal). Target: under 30 ms of
  overhead per step.
- branches: two independent CPU-bound steps with a fixed amount of work that
  takes about 2 s alone (calibrated first). Direct: one after the other in this
  process. Run: both at once with --jobs 2. Target: under 2.6 s on two cores.
  Also timed: the same work in two bare forked processes, which shows how much
  parallelism the machine gives at that moment (a shared VM may give less than
  its two cores), so that run / bare isolates what yamlpipe adds. The target is
  checked on the run scaled to branches of exactly 2 s (run / one branch x 2 s),
  since the calibration drifts with the machine's speed.

Prints the median of N runs for each, the ratios, and whether the targets hold;
exits 1 when one does not.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from yamlpipe.progress import Display
from yamlpipe.resolve import load_plan
from yamlpipe.runner import run_plan

CHAIN_STEPS = 50
CHAIN_TARGET_MS = 30.0
BRANCH_SECONDS = 2.0
BRANCH_TARGET = 2.6

MODULE = '''\
def first() -> int:
    return 0


def step(x: int) -> int:
    return x + 1


def burn(rounds: int) -> int:
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    return total
'''


def write_project(root: Path) -> tuple[Path, Path]:
    (root / "bench_run_steps.py").write_text(MODULE)
    lines = ["version: 1", "name: chain", "steps:",
             "  - name: s00", "    entrypoint: bench_run_steps:first"]
    for i in range(1, CHAIN_STEPS):
        lines += [f"  - name: s{i:02d}", "    entrypoint: bench_run_steps:step",
                  "    inputs:", f"      x: ${{steps.s{i - 1:02d}}}"]
    chain = root / "chain.yaml"
    chain.write_text("\n".join(lines) + "\n")
    branches = root / "branches.yaml"
    branches.write_text(
        "version: 1\nname: branches\nparameters:\n"
        "  rounds: {type: integer, default: 1}\nsteps:\n"
        + "".join(
            f"  - name: {n}\n    entrypoint: bench_run_steps:burn\n"
            "    inputs:\n      rounds: ${params.rounds}\n"
            for n in ("left", "right")
        )
    )
    return chain, branches


def calibrate(burn: Any) -> int:
    """Rounds of ``burn`` that take BRANCH_SECONDS in this process (within 5%)."""
    rounds = 200_000
    while (took := timed(burn, rounds)) < 0.25:
        rounds *= 2
    for _ in range(4):
        rounds = int(rounds * BRANCH_SECONDS / took)
        took = timed(burn, rounds)
        if abs(took - BRANCH_SECONDS) < 0.05 * BRANCH_SECONDS:
            break
    return rounds


def timed(action: Any, *args: Any, **kwargs: Any) -> float:
    start = time.perf_counter()
    action(*args, **kwargs)
    return time.perf_counter() - start


def run_quiet(plan: Any, runs_dir: Path, **options: Any) -> None:
    display = Display(io.StringIO(), live=False, color=False)
    result = run_plan(plan, runs_dir=runs_dir, use_cache=False, progress=display,
                      **options)
    if result.status != "succeeded":
        raise SystemExit(f"bench run failed: {result.failure}")


def chain_case(root: Path, spec: Path, runs: int, method: str) -> bool:
    module = importlib.import_module("bench_run_steps")
    plan = load_plan(spec, root)

    def direct() -> None:
        x = module.first()
        for _ in range(CHAIN_STEPS - 1):
            x = module.step(x)

    direct_times, run_times = [], []
    for _ in range(runs):
        direct_times.append(timed(direct))
        run_times.append(timed(run_quiet, plan, root / "runs", start_method=method))
    d, r = statistics.median(direct_times), statistics.median(run_times)
    per_step = (r - d) / CHAIN_STEPS * 1000
    ok = per_step < CHAIN_TARGET_MS
    print(f"chain of {CHAIN_STEPS} trivial steps ({method}), median of {runs}:")
    print(f"  direct   {d * 1000:9.3f} ms")
    print(f"  run      {r * 1000:9.3f} ms   (best {min(run_times) * 1000:.1f} ms)")
    print(f"  overhead {per_step:9.3f} ms per step   target < {CHAIN_TARGET_MS:g}"
          f"   {'ok' if ok else 'MISSED'}")
    print(f"  ratio    run / target overhead = {per_step / CHAIN_TARGET_MS:.3f}")
    return ok


def branch_case(root: Path, spec: Path, runs: int, method: str) -> bool:
    module = importlib.import_module("bench_run_steps")
    rounds = calibrate(module.burn)
    plan = load_plan(spec, root)

    direct_times, bare_times, run_times = [], [], []
    for _ in range(runs):
        direct_times.append(timed(module.burn, rounds) + timed(module.burn, rounds))
        bare_times.append(timed(bare_parallel, module.burn, rounds))
        run_times.append(timed(
            run_quiet, plan, root / "runs", params={"rounds": rounds}, jobs=2,
            start_method=method,
        ))
    d = statistics.median(direct_times)
    b, r = statistics.median(bare_times), statistics.median(run_times)
    # The calibration drifts with the machine's speed: scale the run to branches
    # that take exactly BRANCH_SECONDS in this process.
    projected = BRANCH_SECONDS * r / (d / 2)
    ok = projected < BRANCH_TARGET
    print(f"two CPU-bound branches of ~{BRANCH_SECONDS:g} s ({method}, --jobs 2),"
          f" median of {runs}:")
    print(f"  direct, one after the other {d:7.3f} s   {_samples(direct_times)}")
    print(f"  two bare forks, in parallel {b:7.3f} s   {_samples(bare_times)}")
    print(f"  run, in parallel            {r:7.3f} s   {_samples(run_times)}")
    print(f"  run for branches of {BRANCH_SECONDS:g} s each  {projected:7.3f} s"
          f"   target < {BRANCH_TARGET:g} s   {'ok' if ok else 'MISSED'}")
    print("  (bare forks show the parallelism the machine gave meanwhile)")
    print(f"  ratio    run / direct = {r / d:.3f}   run / one branch = "
          f"{r / (d / 2):.3f}   run / bare forks = {r / b:.3f}")
    return ok


def _samples(times: list[float]) -> str:
    return "[" + " ".join(f"{t:.2f}" for t in times) + "]"


def bare_parallel(burn: Any, rounds: int) -> None:
    """The same work in two forked processes and nothing else: the floor."""
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            burn(rounds)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--start-method", choices=("fork", "spawn"), default="fork")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        chain, branches = write_project(root)
        sys.path.insert(0, str(root))
        ok = chain_case(root, chain, args.runs, args.start_method)
        ok = branch_case(root, branches, args.runs, args.start_method) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
