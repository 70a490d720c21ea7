"""The ``yamlpipe`` command: thin wrappers over the library, one per verb.

Exit codes: 0 success, 1 spec problems, 2 usage, 3 compile, 4 run, 5 deploy,
70 a bug in yamlpipe (with a traceback and a request to report it).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from yamlpipe import __version__
from yamlpipe.errors import UsageError, YamlpipeError, flatten

F = TypeVar("F", bound=Callable[..., Any])
BUG_EXIT = 70
# Set by the read-only commands (validate, graph, schema): they leave without the
# interpreter's teardown of pydantic's many objects, which takes longer than
# validating a 300-step spec.
_quick_exit = False
ISSUES_URL = "https://github.com/yamlpipe/yamlpipe/issues"

spec_paths = click.argument(
    "specs", nargs=-1, required=True, type=click.Path(path_type=Path)
)
root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Project root that entrypoints resolve from (default: current directory).",
)


def _guarded(command: F) -> F:
    """Render user errors with their exit code; anything else is a bug."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except YamlpipeError as exc:
            _echo_errors(flatten([exc]))
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception:
            click.echo(traceback.format_exc(), err=True)
            click.echo(
                f"yamlpipe {__version__} hit a bug; please report it with the "
                f"traceback above at {ISSUES_URL}",
                err=True,
            )
            sys.exit(BUG_EXIT)

    return wrapper  # type: ignore[return-value]


def entry() -> None:
    """The console script: ``main``, then a fast exit where a command allows it."""
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if not _quick_exit:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code if isinstance(code, int) else 1)


@contextlib.contextmanager
def _read_only() -> Iterator[None]:
    """A short command that only reads: no cyclic GC while it imports and loads
    (pydantic's model building allocates heavily), and a quick exit after it."""
    global _quick_exit
    _quick_exit = True
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _echo_errors(errors: Iterable[YamlpipeError]) -> None:
    for error in errors:
        click.echo(error.render(), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="yamlpipe")
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs and SDK output.")
def main(verbose: bool) -> None:
    """Amazon SageMaker pipelines from a YAML spec and plain Python functions."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # botocore's DEBUG logs carry the access key ID and the session token in
    # request headers; yamlpipe never prints credentials, -v or not.
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.root.level))


# -- validate -----------------------------------------------------------------


@main.command()
@spec_paths
@root_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
    help="text for people, json for tools, github for Actions annotations.",
)
@_guarded
def validate(specs: tuple[Path, ...], root: Path | None, fmt: str) -> None:
    """Check spec files and report every problem at once."""
    with _read_only():
        results = _validate_all(specs, root)
    {"text": _report_text, "json": _report_json, "github": _report_github}[fmt](
        results
    )
    if any(errors for _, errors, _ in results):
        sys.exit(1)


def _validate_all(
    specs: tuple[Path, ...], root: Path | None
) -> list[tuple[Path, list[YamlpipeError], int]]:
    from yamlpipe.resolve import load_plan

    results: list[tuple[Path, list[YamlpipeError], int]] = []
    for path in specs:
        try:
            plan = load_plan(path, root)
            results.append((path, [], len(plan.steps)))
        except YamlpipeError as exc:
            results.append((path, flatten([exc]), 0))
    return results


def _report_text(results: list[tuple[Path, list[YamlpipeError], int]]) -> None:
    for path, errors, steps in results:
        if errors:
            _echo_errors(errors)
        else:
            click.echo(f"ok {path}: {steps} steps")
    count = sum(len(errors) for _, errors, _ in results)
    if count:
        files = sum(1 for _, errors, _ in results if errors)
        click.echo(f"{count} problem(s) in {files} file(s)", err=True)


def _report_json(results: list[tuple[Path, list[YamlpipeError], int]]) -> None:
    document = [
        {"file": str(path), "ok": not errors, "steps": steps,
         "errors": [e.as_dict() for e in errors]}
        for path, errors, steps in results
    ]
    click.echo(json.dumps(document, indent=2))


def _report_github(results: list[tuple[Path, list[YamlpipeError], int]]) -> None:
    # https://docs.github.com/actions/reference/workflow-commands-for-github-actions
    for _, errors, _ in results:
        for error in errors:
            loc = error.location
            where = f" file={loc.path},line={loc.line},col={loc.col}" if loc else ""
            text = error.message + (f"; {error.hint}" if error.hint else "")
            click.echo(f"::error{where}::{_escape_annotation(text)}")


def _escape_annotation(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


# -- schema and graph -----------------------------------------------------------


@main.command()
@_guarded
def schema() -> None:
    """Print the JSON Schema of the spec (for editors)."""
    with _read_only():
        from yamlpipe.spec import json_schema

        click.echo(json.dumps(json_schema(), indent=2))


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@root_option
@click.option(
    "--format", "fmt", type=click.Choice(["mermaid", "dot", "text", "json"]),
    default="mermaid", help="Output format.",
)
@_guarded
def graph(spec: Path, root: Path | None, fmt: str) -> None:
    """Draw the pipeline's DAG."""
    with _read_only():
        from yamlpipe.graph import render
        from yamlpipe.resolve import load_plan

        drawing = render(load_plan(spec, root), fmt)  # type: ignore[arg-type]
    click.echo(drawing, nl=False)


# -- compile --------------------------------------------------------------------


@main.command(name="compile")
@spec_paths
@root_option
@click.option(
    "-o", "--output", type=click.Path(file_okay=False, path_type=Path),
    default=Path("build"), show_default=True, help="Build directory.",
)
@click.option(
    "--normalized", is_flag=True,
    help="Replace the SDK's volatile values with stable placeholders.",
)
@_guarded
def compile_command(
    specs: tuple[Path, ...], root: Path | None, output: Path, normalized: bool
) -> None:
    """Build the SageMaker pipeline definition and artifacts, offline."""
    from yamlpipe.compile import compile_plan
    from yamlpipe.resolve import load_plan

    plans = [load_plan(path, root) for path in specs]
    for plan in plans:
        result = compile_plan(plan, output, normalized=normalized)
        click.echo(
            f"compiled {plan.name}: {result.step_count} steps -> "
            f"{result.pipeline_dir}"
        )


# -- run ------------------------------------------------------------------------


@main.command(name="run")
@click.argument("spec", type=click.Path(path_type=Path))
@root_option
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a pipeline parameter (repeatable).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Steps run at once (default: the number of CPUs).")
@click.option("--no-cache", is_flag=True, help="Rerun steps even when unchanged.")
@click.option("--resume", metavar="RUN_ID", default=None,
              help="Rerun only what failed or did not run in that run.")
@_guarded
def run_command(
    spec: Path, root: Path | None, params: tuple[str, ...], jobs: int | None,
    no_cache: bool, resume: str | None,
) -> None:
    """Run the pipeline's functions on this machine, in dependency order."""
    from yamlpipe.progress import Display
    from yamlpipe.resolve import load_plan
    from yamlpipe.runner import RunInterrupted, run_plan

    plan = load_plan(spec, root)
    try:
        result = run_plan(plan, params=_parse_params(params), jobs=jobs,
                          use_cache=not no_cache, resume=resume, progress=Display())
    except RunInterrupted as stopped:
        click.echo(f"interrupted; resume with --resume {stopped.result.run_id}",
                   err=True)
        sys.exit(130)
    if result.failure is not None:
        raise result.failure


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param '{item}' is not name=value", "write --param n=v")
        params[name] = value
    return params


# -- deploy, start, status, diff -------------------------------------------------

build_target = click.argument(
    "target", metavar="SPEC_OR_BUILD_DIR", type=click.Path(exists=True, path_type=Path)
)
build_output = click.option(
    "-o", "--output", type=click.Path(file_okay=False, path_type=Path),
    default=Path("build"), show_default=True,
    help="Build directory a spec is compiled into.",
)
region_option = click.option(
    "--region", default=None,
    help="AWS region (default: the spec's sagemaker.region, else the AWS chain).",
)


@main.command()
@build_target
@root_option
@build_output
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@region_option
@_guarded
def deploy(
    target: Path, root: Path | None, output: Path, dry_run: bool, region: str | None
) -> None:
    """Upload a build's artifacts and create or update its pipeline."""
    from yamlpipe.deploy import deploy_build, prepared_build

    build = prepared_build(target, output, root)
    click.echo(deploy_build(build, region=region, dry_run=dry_run).summary())


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@root_option
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A pipeline parameter for this execution (repeatable).")
@click.option("--wait", is_flag=True,
              help="Follow the execution step by step; exit 4 unless it succeeds.")
@region_option
@_guarded
def start(
    spec: Path, root: Path | None, params: tuple[str, ...], wait: bool,
    region: str | None,
) -> None:
    """Start an execution of the deployed pipeline; print its ARN."""
    from yamlpipe.execution import start_execution
    from yamlpipe.resolve import load_plan
    from yamlpipe.watch import ExecutionView

    plan = load_plan(spec, root)
    result = start_execution(
        plan.name, _parse_params(params), region=region or plan.target.region,
        wait=wait, progress=ExecutionView() if wait else None,
    )
    click.echo(result.arn)
    result.raise_for_status()


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@root_option
@click.option("--execution", "execution_arn", metavar="ARN", default=None,
              help="The execution to show (default: the latest).")
@region_option
@_guarded
def status(
    spec: Path, root: Path | None, execution_arn: str | None, region: str | None
) -> None:
    """Show the latest (or given) execution, step by step."""
    from yamlpipe.execution import execution_status
    from yamlpipe.resolve import load_plan
    from yamlpipe.watch import render_execution

    plan = load_plan(spec, root)
    region = region or plan.target.region
    result = execution_status(plan.name, execution_arn, region=region)
    click.echo(render_execution(result), nl=False)


@main.command()
@build_target
@root_option
@build_output
@region_option
@_guarded
def diff(target: Path, root: Path | None, output: Path, region: str | None) -> None:
    """Compare a build with the deployed pipeline; exit 1 when they differ."""
    from yamlpipe.deploy import diff_deployed, prepared_build

    result = diff_deployed(prepared_build(target, output, root), region=region)
    click.echo(result.text, nl=False)
    sys.exit(0 if result.equal else 1)
