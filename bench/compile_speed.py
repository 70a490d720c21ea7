"""How long ``yamlpipe compile`` takes next to the hand-written ``@step`` script.

Both sides build the same chain of N function steps (each step takes the previous
one's return) in one process, after the SDK is imported, under the same offline
session class: the hand-written side times ``Pipeline.definition()`` alone, the
yamlpipe side the whole ``compile_plan`` (plan to files on disk, manifest and all).
Each figure is the best of ``--repeat`` runs, the two sides taking turns.

    .venv/bin/python bench/compile_speed.py            # 10, 100 and 300 steps
    .venv/bin/python bench/compile_speed.py 10 50 --repeat 5
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STEP_CODE = '''
def link(x: int) -> int:
    """Add one."""
    return x + 1
'''
ROLE = "arn:aws:iam::123456789012:role/Bench"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:py311"
SETTINGS = {
    "instance_type": "ml.m5.large",
    "image_uri": IMAGE,
    "role": ROLE,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10, 100, 300])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from yamlpipe import sagemaker

    sdk = sagemaker.load()
    print(f"SageMaker SDK {sdk.version}, Python {sys.version.split()[0]}")
    print(f"{'steps':>6} {'hand-written':>13} {'yamlpipe':>9} {'ratio':>6}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            project = _project(Path(tmp), size)
            by_hand, ours = _race(project, size, args.repeat)
        print(f"{size:>6} {by_hand:>12.3f}s {ours:>8.3f}s {ours / by_hand:>6.2f}")


def _project(root: Path, size: int) -> Path:
    (root / "chain_steps.py").write_text(STEP_CODE)
    (root / "requirements.txt").write_text("numpy\n")
    lines = [
        "version: 1",
        "name: bench-chain",
        "sagemaker:",
        "  region: us-east-1",
        f"  role: {ROLE}",
        "  s3_root: s3://bench-bucket/yamlpipe",
        "defaults:",
        *(f"  {key}: {value}" for key, value in SETTINGS.items()),
        "  dependencies: requirements.txt",
        "steps:",
    ]
    for i in range(size):
        x = "0" if i == 0 else f"${{steps.link-{i - 1}}}"
        lines += [
            f"  - name: link-{i}",
            "    entrypoint: chain_steps:link",
            "    inputs:",
            f"      x: {x}",
        ]
    (root / "chain.yaml").write_text("\n".join(lines) + "\n")
    return root


def _race(root: Path, size: int, repeat: int) -> tuple[float, float]:
    from yamlpipe.compile import compile_plan
    from yamlpipe.resolve import load_plan

    plan = load_plan(root / "chain.yaml", root)
    out = root / "build"
    by_hand: list[float] = []
    ours: list[float] = []
    for _ in range(repeat):
        by_hand.append(_HandWritten(root, size).definition())
        ours.append(_timed(lambda: compile_plan(plan, out)))
    return min(by_hand), min(ours)


def _timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


class _HandWritten:
    """Builds the chain with the SDK, then times ``definition()`` alone."""

    def __init__(self, root: Path, size: int) -> None:
        from yamlpipe import sagemaker

        sys.path.insert(0, str(root))
        import chain_steps  # type: ignore[import-not-found]

        sys.path.remove(str(root))
        sdk = sagemaker.load()
        self.artifacts = root / "hand-written"
        store = sagemaker.LocalS3(self.artifacts)
        session = sagemaker.offline_session(
            "us-east-1", "bench-bucket", "yamlpipe", store
        )
        requirements = root / "copy" / "requirements.txt"
        requirements.parent.mkdir(exist_ok=True)
        shutil.copyfile(root / "requirements.txt", requirements)
        steps, previous = [], 0
        for i in range(size):
            decorate = sdk.step(
                name=f"link-{i}",
                display_name=f"link-{i}",
                description="Add one.",
                dependencies=str(requirements),
                **SETTINGS,
            )
            previous = decorate(chain_steps.link)(x=previous)
            steps.append(previous)
        with sagemaker.quiet():
            self.pipeline = sdk.Pipeline(
                name="bench-chain", steps=steps, sagemaker_session=session
            )

    def definition(self) -> float:
        from yamlpipe import sagemaker

        with sagemaker.quiet(), sagemaker.no_sdk_config():
            start = time.perf_counter()
            self.pipeline.definition()
            elapsed = time.perf_counter() - start
        shutil.rmtree(self.artifacts, ignore_errors=True)
        return elapsed


if __name__ == "__main__":
    main()
