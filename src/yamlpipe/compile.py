"""Compile a ``Plan`` into a SageMaker pipeline on disk, offline and repeatably.

``compile_plan`` writes ``<out>/<pipeline>/``:

    definition.json              the pipeline definition, pretty, keys sorted
    definition.normalized.json   with --normalized: volatile values as placeholders
    artifacts/<bucket>/<key>     every object the SDK uploaded while compiling
    manifest.json                spec hash, versions, each artifact's S3 URI and hash

The build is staged in a temporary directory beside it and renamed into place, so a
failed compile leaves the previous build as it was. The SageMaker SDK is reached only
through ``yamlpipe.sagemaker``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import platform
import re
import shutil
import site
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from yamlpipe import __version__
from yamlpipe.errors import CompileError, ErrorGroup, Location
from yamlpipe.plan import FunctionStep, Plan

if TYPE_CHECKING:
    from yamlpipe.sagemaker import Build

logger = logging.getLogger(__name__)

# CreatePipeline takes at most this many characters inline (botocore's service
# model, PipelineDefinition max); past it the definition must go through S3.
INLINE_LIMIT = 1_048_576
# ... and a pipeline description of at most this many (PipelineDescription max).
DESCRIPTION_LIMIT = 3072
BUILD_TIME = "<build-time>"
SIGNING_KEY = "<signing-key>"
REQUIREMENTS = "<requirements-file>"
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
# The module name of a ``path.py:function`` entrypoint: a prefix and its path.
_FILE_MODULE = "_yamlpipe_file_"
# v2 names a requirements file it invents like this (tempfile.mkstemp).
_RANDOM_REQUIREMENTS = re.compile(r"sagemaker_requirements_\w+\.txt")


@dataclass(frozen=True)
class CompileResult:
    pipeline_dir: Path
    definition_path: Path
    step_count: int
    artifact_count: int
    sdk_version: str


def compile_plan(
    plan: Plan, out_dir: Path, *, normalized: bool = False
) -> CompileResult:
    """Build ``plan`` with the SageMaker SDK into ``out_dir/<pipeline>/``.

    ``normalized`` also writes ``definition.normalized.json``, the definition with
    the SDK's volatile values as placeholders (``normalize_definition``).
    """
    _check_required(plan)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{plan.name}.", dir=out_dir))
    final = out_dir / plan.name
    try:
        built = _compile_into(plan, stage, normalized)
        shutil.rmtree(stage / ".scratch", ignore_errors=True)
        _swap(stage, final)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    logger.info("compiled %s into %s", plan.name, final)
    return CompileResult(
        pipeline_dir=final,
        definition_path=final / "definition.json",
        step_count=len(plan.steps),
        artifact_count=len(built.objects),
        sdk_version=built.sdk_version,
    )


def _compile_into(plan: Plan, stage: Path, normalized: bool) -> Build:
    from yamlpipe import sagemaker

    sagemaker.load()  # before the project root goes on sys.path
    with _project_code(plan) as functions:
        built = sagemaker.build(
            plan, functions, stage / "artifacts", stage / ".scratch"
        )
    definition = json.loads(built.definition)
    _write_json(stage / "definition.json", definition)
    if normalized:
        normal = normalize_definition(definition)
        _write_json(stage / "definition.normalized.json", normal)
    manifest = _manifest(plan, definition, built.objects, built.sdk_version, stage)
    _write_json(stage / "manifest.json", manifest)
    return built


def _write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def _swap(stage: Path, final: Path) -> None:
    """Put ``stage`` where ``final`` is; the old build goes only once it is replaced.

    Where the kernel can exchange two directories in one step (Linux's
    ``renameat2(RENAME_EXCHANGE)``), a compile killed at any moment leaves
    ``final`` holding the old build or the new one, never neither.
    """
    if not final.exists():
        stage.rename(final)
        return
    if _exchange(stage, final):
        shutil.rmtree(stage, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
    final.rename(old / final.name)
    try:
        stage.rename(final)
    except BaseException:
        (old / final.name).rename(final)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically; False where the system cannot (then nothing moved).

    See renameat2(2); glibc has the wrapper since 2.28.
    """
    if sys.platform != "linux":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                     _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(second))


# -- what the SDK must not guess -------------------------------------------------


def _check_required(plan: Plan) -> None:
    """Refuse, before the SDK runs, what sends it to STS, IAM or its image table."""
    errors = _target_errors(plan)
    for step in plan.function_steps():
        errors.extend(_step_errors(step))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ErrorGroup(errors)


def _target_errors(plan: Plan) -> list[CompileError]:
    target = plan.target
    here = _plan_location(plan)
    errors = []
    if not target.region:
        errors.append(CompileError(
            "sagemaker.region is not set",
            "add 'region: <aws-region>' under 'sagemaker:' in the spec",
            here("sagemaker.region"),
        ))
    if not target.s3_root:
        errors.append(CompileError(
            "sagemaker.s3_root is not set; the SDK would create a default bucket",
            "add 's3_root: s3://<bucket>/<prefix>' under 'sagemaker:' in the spec",
            here("sagemaker.s3_root"),
        ))
    if not target.role:
        errors.append(CompileError(
            "sagemaker.role is not set",
            "add 'role: arn:aws:iam::<account>:role/<name>' (the pipeline's "
            "execution role) under 'sagemaker:' in the spec",
            here("sagemaker.role"),
        ))
    elif not _ROLE_ARN.match(target.role):
        where = here("sagemaker.role")
        errors.append(_not_an_arn("sagemaker.role", target.role, where))
    if len(plan.description) > DESCRIPTION_LIMIT:
        errors.append(CompileError(
            f"the pipeline description has {len(plan.description):,} characters; "
            f"CreatePipeline takes at most {DESCRIPTION_LIMIT:,}",
            "shorten 'description'",
            here("description"),
        ))
    return errors


def _step_errors(step: FunctionStep) -> list[CompileError]:
    errors = []
    role = step.settings.get("role")
    if not role:
        errors.append(CompileError(
            f"step '{step.name}' has no role; the SDK would ask STS and IAM for one",
            "set 'role: arn:aws:iam::<account>:role/<name>' under 'defaults:' or "
            "on the step",
            step.location,
        ))
    elif not _ROLE_ARN.match(role):
        where = step.where.get("role", step.location)
        errors.append(_not_an_arn(f"step '{step.name}': role", role, where))
    if not step.settings.get("image_uri"):
        errors.append(CompileError(
            f"step '{step.name}' has no image_uri; the SDK's default images do not "
            "cover every Python version",
            "set 'image_uri' (an ECR image URI) under 'defaults:' or on the step",
            step.location,
        ))
    return errors


def _not_an_arn(what: str, role: str, where: Location) -> CompileError:
    name = role.rsplit("/", 1)[-1]
    return CompileError(
        f"{what} '{role}' is not an IAM role ARN; the SDK would ask IAM for it",
        f"write the full ARN, e.g. arn:aws:iam::<account>:role/{name}",
        where,
    )


def _plan_location(plan: Plan) -> Callable[[str], Location]:
    """Where a pipeline-level key is, or would go, in the spec."""
    first = next(iter(plan.steps.values()))
    top = Location(first.location.path, 1, 1)

    def here(key: str) -> Location:
        return plan.where.get(key) or plan.where.get("sagemaker") or top

    return here


# -- the project's step code ---------------------------------------------------


@contextlib.contextmanager
def _project_code(plan: Plan) -> Iterator[dict[str, Callable[..., Any]]]:
    """Import every entrypoint from the project root, its modules pickled by value.

    The SDK pickles a function by reference unless cloudpickle is told otherwise,
    and a job whose image lacks the project's ``steps`` package fails at start.
    Registered by value, the function's code and the project modules it uses travel
    inside the staged payload. Modules imported here leave ``sys.modules`` again.
    """
    import cloudpickle  # type: ignore[import-untyped]

    root = str(plan.root)
    sys.path.insert(0, root)
    evicted = _evict_foreign(plan)
    before = set(sys.modules)
    registered: list[ModuleType] = []
    try:
        functions = {s.name: _import_function(s, plan) for s in plan.function_steps()}
        known = cloudpickle.list_registry_pickle_by_value()
        for module in _project_modules(plan.root):
            if module.__name__ not in known:
                cloudpickle.register_pickle_by_value(module)
                registered.append(module)
            _pin_class_ids(module)
            _pin_set_order(module)
        yield functions
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)
        sys.path.remove(root)
        for name in set(sys.modules) - before:
            if _under(sys.modules[name], plan.root) or name.startswith(_FILE_MODULE):
                del sys.modules[name]
        sys.modules.update(evicted)


def _pin_class_ids(module: ModuleType) -> None:
    """Give the module's classes tracker ids drawn from their source, not at random.

    cloudpickle marks each class it pickles by value with an id that lets one
    process rebuild a class once from many pickles; it draws the id with uuid4
    (cloudpickle/cloudpickle.py, ``_get_or_create_tracker_id``), so the payload of
    any function that uses a project class would change from compile to compile.
    An id made of the module's name and content and the class's name is as unique
    and the same every time.
    """
    from cloudpickle import cloudpickle as internals

    file = getattr(module, "__file__", None)
    content = hashlib.sha256(Path(file).read_bytes()).hexdigest() if file else ""
    for value in list(vars(module).values()):
        if not isinstance(value, type) or value.__module__ != module.__name__:
            continue
        name = f"{module.__name__}:{value.__qualname__}:{content}"
        tracker = hashlib.sha256(name.encode()).hexdigest()[:32]
        with internals._DYNAMIC_CLASS_TRACKER_LOCK:
            internals._DYNAMIC_CLASS_TRACKER_BY_CLASS[value] = tracker
            internals._DYNAMIC_CLASS_TRACKER_BY_ID[tracker] = value


class _OrderedFrozenSet(frozenset[Any]):
    """Pickles as a plain frozenset whose items come in a stable order."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (frozenset, (_stable_order(self),))


class _OrderedSet(set[Any]):
    """Pickles as a plain set whose items come in a stable order."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (set, (_stable_order(self),))


def _stable_order(items: Any) -> list[Any]:
    return sorted(items, key=lambda item: (type(item).__name__, repr(item)))


def _pin_set_order(module: ModuleType) -> None:
    """Make the module's sets pickle the same under every hash seed.

    A set pickles in iteration order, which for strings follows the per-process
    hash seed: a ``TypedDict``'s ``__required_keys__`` (``steps/evaluate.py``'s
    ``Metrics``) or a module-level set of names would give a different payload on
    every compile. Exact sets cannot be given a reducer (pickle saves them
    itself), so the module's own are swapped for subclasses that reduce to plain
    sets in sorted order. The modules are fresh imports, dropped after compile.
    """
    namespaces: list[Any] = [module]
    namespaces += [
        value for value in vars(module).values()
        if isinstance(value, type) and value.__module__ == module.__name__
    ]
    for namespace in namespaces:
        for name, value in list(vars(namespace).items()):
            ordered = _ordered(value)
            if ordered is not None:
                setattr(namespace, name, ordered)


def _ordered(value: Any) -> Any:
    if type(value) is frozenset:
        return _OrderedFrozenSet(value)
    if type(value) is set:
        return _OrderedSet(value)
    return None


def _import_function(step: FunctionStep, plan: Plan) -> Callable[..., Any]:
    try:
        if step.module.endswith(".py"):
            module = _import_file(step, plan.root)
        else:
            module = importlib.import_module(step.module)
        function: Callable[..., Any] = getattr(module, step.function)
    except (Exception, SystemExit) as exc:
        raise CompileError(
            f"step '{step.name}': importing {step.entrypoint} failed: "
            f"{' '.join(f'{type(exc).__name__}: {exc}'.split())}",
            "the module must import cleanly from the project root",
            step.where.get("entrypoint", step.location),
        ) from None
    return function


def _import_file(step: FunctionStep, root: Path) -> ModuleType:
    """Load a ``path.py:function`` entrypoint under a name derived from its path."""
    relative = _relative(step.source, root).removesuffix(".py")
    name = _FILE_MODULE + re.sub(r"\W", "_", relative)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, step.source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {step.source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _evict_foreign(plan: Plan) -> dict[str, ModuleType]:
    """Set aside imported packages that share a name with the project's modules.

    Two projects both have a ``steps`` package; the one imported from elsewhere
    must not stand in for this project's. They come back after the compile.
    """
    tops = {s.module.split(".")[0] for s in plan.function_steps()}
    evicted = {}
    for name in list(sys.modules):
        if name.split(".")[0] in tops and not _under(sys.modules[name], plan.root):
            evicted[name] = sys.modules.pop(name)
    return evicted


def _project_modules(root: Path) -> list[ModuleType]:
    """Imported modules whose file lies under ``root``, less installed packages.

    Only modules filed under their own name count: ``__main__`` and other aliases
    are skipped, and so is yamlpipe itself when it runs from a checkout.
    """
    return [
        module
        for name, module in sorted(sys.modules.items())
        if name == getattr(module, "__name__", None)
        and name.split(".")[0] not in ("yamlpipe", "__main__")
        and _under(module, root)
    ]


def _under(module: ModuleType, root: Path) -> bool:
    # A namespace package has no file, only search paths.
    file = getattr(module, "__file__", None) or next(
        iter(getattr(module, "__path__", None) or ()), None
    )
    # The root is resolved and goes first on sys.path, so the project's modules
    # carry resolved paths: a string test is enough, and cheap for thousands.
    path = os.path.abspath(file) if file else ""
    if not path.startswith(str(root) + os.sep):
        return False
    return not any(path.startswith(p) for p in _installed_paths())


@functools.cache
def _installed_paths() -> tuple[str, ...]:
    """Where installed packages live: a virtual environment may sit in the project."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    paths.update(sysconfig.get_paths().values())
    return tuple(os.path.realpath(p) + os.sep for p in paths if p)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


# -- manifest ---------------------------------------------------------------------


def _manifest(
    plan: Plan,
    definition: dict[str, Any],
    objects: dict[str, str],
    sdk_version: str,
    stage: Path,
) -> dict[str, Any]:
    target = plan.target
    return {
        "manifest_version": 1,
        "pipeline": {
            "name": plan.name,
            "description": plan.description,
            "region": target.region,
            "role_arn": target.role,
            "s3_root": target.s3_root,
            "tags": dict(target.tags),
        },
        "spec": {
            "path": os.path.relpath(plan.spec_path, plan.root).replace(os.sep, "/"),
            "sha256": plan.spec_sha256,
        },
        "versions": {
            "yamlpipe": __version__,
            "sagemaker": sdk_version,
            "python": platform.python_version(),
        },
        "build_time": next(iter(build_times(definition)), None),
        "steps": len(plan.steps),
        "definition": _definition_record(definition, plan, stage),
        "artifacts": [
            {
                "path": f"artifacts/{key}",
                "s3_uri": f"s3://{key}",
                "sha256": digest,
            }
            for key, digest in sorted(objects.items())
        ],
    }


def _definition_record(
    definition: dict[str, Any], plan: Plan, stage: Path
) -> dict[str, Any]:
    """How deploy must send the definition: inline, or by S3 past the API's limit."""
    characters = len(definition_text(definition))
    record: dict[str, Any] = {
        "path": "definition.json",
        "sha256": _sha256(stage / "definition.json"),
        "characters": characters,
        "via_s3": characters > INLINE_LIMIT,
    }
    if record["via_s3"]:
        root = str(plan.target.s3_root).rstrip("/")
        record["s3_uri"] = f"{root}/{plan.name}/definition.json"
    return record


def definition_text(definition: dict[str, Any]) -> str:
    """The definition as deploy sends it: compact JSON, keys sorted."""
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- normalisation ----------------------------------------------------------------


def normalize_definition(definition: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``definition`` with the SDK's volatile values as placeholders.

    What changes from one compile of the same code to the next, on purpose:
    the build timestamp (``--func_step_s3_dir``, S3 keys and, in v3, the
    ``S3OutputPath`` join), v3's per-compile public key in
    ``Environment.REMOTE_FUNCTION_SECRET_KEY`` and the random name v2 gives a
    requirements file it invents (which yamlpipe never lets it do).
    """
    times = build_times(definition)
    normalized: dict[str, Any] = _replace(definition, times)
    return normalized


def build_times(definition: dict[str, Any]) -> list[str]:
    """The build timestamps in ``definition``: what follows ``--func_step_s3_dir``."""
    found: list[str] = []
    for arguments in _container_arguments(definition):
        for flag, value in zip(arguments, arguments[1:], strict=False):
            if flag == "--func_step_s3_dir" and value not in found:
                found.append(value)
    return found


def _container_arguments(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ContainerArguments" and isinstance(value, list):
                yield value
            else:
                yield from _container_arguments(value)
    elif isinstance(node, list):
        for item in node:
            yield from _container_arguments(item)


def _replace(node: Any, times: list[str]) -> Any:
    if isinstance(node, dict):
        return {
            key: SIGNING_KEY
            if key == "REMOTE_FUNCTION_SECRET_KEY"
            else _replace(value, times)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_replace(item, times) for item in node]
    if isinstance(node, str):
        for time in times:
            node = node.replace(time, BUILD_TIME)
        return _RANDOM_REQUIREMENTS.sub(REQUIREMENTS, node)
    return node
