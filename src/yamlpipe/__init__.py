"""yamlpipe: Amazon SageMaker pipelines from a YAML spec and plain Python functions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yamlpipe.plan import Plan

__version__ = "0.1.0"


def run(
    spec: str | Path | Plan,
    params: Mapping[str, object] | None = None,
    *,
    root: str | Path | None = None,
    jobs: int | None = None,
    use_cache: bool = True,
    runs_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run a pipeline on this machine and return each function step's result.

    ``params`` are typed values (``{"epochs": 3}``) or strings parsed by the declared
    type. A failed step or a fail step raises ``RunError`` (``exit_code`` 4) with the
    step's spec line (the first in the spec when several failed); the run's files
    stay under ``runs_dir`` (default ``.yamlpipe/runs`` under ``root``) for
    ``yamlpipe run --resume``. Ctrl-C raises ``runner.RunInterrupted``, a
    ``KeyboardInterrupt`` that carries the run's result.
    """
    # Imported here: ``import yamlpipe`` stays cheap for the CLI and the compile
    # side, which never run anything.
    from yamlpipe.errors import ErrorGroup
    from yamlpipe.plan import Plan
    from yamlpipe.resolve import load_plan
    from yamlpipe.runner import run_plan

    root_path = Path(root) if root is not None else None
    plan = spec if isinstance(spec, Plan) else load_plan(Path(spec), root_path)
    result = run_plan(
        plan,
        params=params or {},
        jobs=jobs,
        use_cache=use_cache,
        runs_dir=Path(runs_dir) if runs_dir is not None else None,
    )
    failure = result.failure
    if isinstance(failure, ErrorGroup):
        failure = failure.errors[0]
    if failure is not None:
        raise failure
    return result.outputs()
