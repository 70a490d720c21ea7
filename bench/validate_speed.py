"""Whole-process timing of `yamlpipe validate` (and `graph`) on generated specs.

Usage: python bench/validate_speed.py [--runs N]

Generates 300- and 2,000-step specs in a temporary project (a chain of function
steps spread over a few modules, with parameters, conditions and fail steps mixed
in), runs each command as a fresh process N times, and prints the median and best
wall time next to the issue's targets (0.3 s and 1.5 s), plus peak memory.
Runs are interleaved so machine noise hits every case alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {300: 0.3, 2000: 1.5}
MODULES = 10


def write_project(root: Path, steps: int) -> Path:
    pkg = root / "bench_steps"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    for m in range(MODULES):
        (pkg / f"mod{m}.py").write_text(
            "def start(seed: int) -> tuple[int, int]:\n    return seed, seed\n\n\n"
            "def work(x: int, factor: float = 1.0) -> tuple[int, int]:\n"
            "    return x, x\n"
        )
    lines = [
        "version: 1", f"name: bench-{steps}",
        "sagemaker: {region: us-east-1, s3_root: s3://bench-bucket/x}",
        "parameters:", "  seed: {type: integer, default: 1}",
        "  factor: {type: float, default: 2.0}",
        "defaults: {instance_type: ml.m5.large, image_uri: img}",
        "steps:",
        "  - name: s0", "    entrypoint: bench_steps.mod0:start",
        "    inputs:", "      seed: ${params.seed}",
    ]
    for i in range(1, steps):
        if i % 50 == 0:
            lines += [f"  - name: gate{i}",
                      f"    condition: ${{steps.s{i - 1}[0]}} >= 0",
                      f"    then: [s{i}]", f"    else: [fail{i}]",
                      f"  - name: fail{i}",
                      f"    fail: stopped at ${{steps.s{i - 1}[1]}}"]
        lines += [f"  - name: s{i}",
                  f"    entrypoint: bench_steps.mod{i % MODULES}:work",
                  "    inputs:", f"      x: ${{steps.s{i - 1}[0]}}",
                  "      factor: ${params.factor}"]
    spec = root / f"bench-{steps}.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


# As installed by pip, modules have their bytecode cached; this machine sets
# PYTHONDONTWRITEBYTECODE, which would make every run compile yamlpipe's own
# sources again (about 0.1 s). The warm-up run writes the cache.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("yamlpipe"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        specs = {n: write_project(root, n) for n in TARGETS}
        cases = {(cmd, n): [exe, cmd, specs[n].name]
                 for n in TARGETS for cmd in ("validate", "graph")}
        timings: dict[tuple[str, int], list[float]] = {key: [] for key in cases}
        for command in cases.values():
            timed(command, root)
        for _ in range(args.runs):
            for key, command in cases.items():
                timings[key].append(timed(command, root))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{'command':<10}{'steps':>7}{'median s':>10}{'best s':>9}"
          f"{'target s':>10}{'median/target':>15}")
    for (cmd, n), values in timings.items():
        median = statistics.median(values)
        print(f"{cmd:<10}{n:>7}{median:>10.3f}{min(values):>9.3f}"
              f"{TARGETS[n]:>10.1f}{median / TARGETS[n]:>15.2f}")
    print(f"peak RSS of any child process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
