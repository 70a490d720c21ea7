"""Static checks of entrypoints: read the user's source with ``ast``, never import it.

``validate`` runs no user code, so it cannot call ``inspect.signature``. The module is
found the way ``python -m`` would find it from the project root (then ``sys.path``,
still without importing anything), parsed, and the function's parameters and return
annotation are compared with the step's inputs and with the indexes other steps use.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Union

from yamlpipe.errors import did_you_mean

_SCALARS = {"int", "float", "bool", "None", "complex"}
_TUPLES = {"tuple", "Tuple", "typing.Tuple"}
_LISTS = {"list", "List", "typing.List"}


@dataclass(frozen=True)
class TupleShape:
    """A ``tuple[...]`` or ``list`` return: ``items`` is None when its length is
    not fixed (``tuple[X, ...]``, ``list[X]``). The SDK's ``DelayedReturn`` takes
    only integer indexes for both."""

    items: tuple[Shape | None, ...] | None
    kind: str = "tuple"


@dataclass(frozen=True)
class KeysShape:
    """A ``TypedDict`` return with a closed set of keys, and their values' shapes."""

    name: str
    keys: tuple[str, ...]
    items: tuple[Shape | None, ...] = ()


@dataclass(frozen=True)
class ScalarShape:
    """A number, boolean or None: nothing to index."""

    name: str


Shape = Union[TupleShape, KeysShape, ScalarShape]


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # positional_only, positional, keyword_only, var_positional, var_keyword
    required: bool


@dataclass(frozen=True)
class Signature:
    """What the source says about a function, or None fields when unknown."""

    params: tuple[Param, ...] | None
    returns: Shape | None
    doc: str | None

    @property
    def takes_any_keyword(self) -> bool:
        return self.params is None or any(p.kind == "var_keyword" for p in self.params)


class ModuleNotFound(Exception):
    def __init__(self, candidates: list[str]) -> None:
        super().__init__("module not found")
        self.candidates = candidates


class FunctionNotFound(Exception):
    def __init__(self, names: list[str]) -> None:
        super().__init__("function not found")
        self.names = names


class SourceSyntaxError(Exception):
    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.line = line
        self.reason = reason


def find_source(module: str, root: Path) -> Path:
    """The file of ``module`` (dotted name or ``path.py``) without importing it."""
    found = _find_source(module, root)
    if not found.is_file():
        # Deleted since it was cached (a long-lived process such as watch).
        _find_source.cache_clear()
        found = _find_source(module, root)
    return found


@lru_cache(maxsize=1024)
def _find_source(module: str, root: Path) -> Path:
    if module.endswith(".py"):
        path = (root / module).resolve()
        if path.is_file():
            return path
        raise ModuleNotFound(_siblings(path.parent, root))
    parts = module.split(".")
    for base in [root, *_installed_paths()]:
        found = _module_file(base, parts)
        if found is not None:
            return found.resolve()
    raise ModuleNotFound(_modules_near(root, parts))


def _installed_paths() -> list[Path]:
    """``sys.path`` without the entries that depend on where yamlpipe was started.

    ``python -m`` run from the project root sees the root, then the interpreter's
    libraries; the current directory (or a test runner's insertions) is not part of
    that, so the same spec resolves the same way from anywhere.
    """
    here = Path.cwd().resolve()
    paths = [Path(p).resolve() for p in sys.path if p and p != "."]
    return [p for p in paths if p != here]


def _module_file(base: Path, parts: list[str]) -> Path | None:
    stem = base.joinpath(*parts)
    for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _modules_near(root: Path, parts: list[str]) -> list[str]:
    folder = root.joinpath(*parts[:-1])
    prefix = ".".join(parts[:-1])
    names = [p.stem for p in _python_files(folder)]
    return [f"{prefix}.{n}" if prefix else n for n in names]


def _siblings(folder: Path, root: Path) -> list[str]:
    out = []
    for path in _python_files(folder):
        try:
            out.append(str(path.relative_to(root)))
        except ValueError:
            out.append(str(path))
    return out


def _python_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".py")


@lru_cache(maxsize=256)
def _parse(path: Path, mtime_ns: int) -> ast.Module:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise SourceSyntaxError(path, exc.lineno or 1, exc.msg) from None
    except (OSError, ValueError) as exc:
        raise SourceSyntaxError(path, 1, str(exc)) from None


def read_signature(source: Path, function: str) -> Signature:
    """The signature of top-level ``function`` in ``source``."""
    try:
        tree = _parse(source, source.stat().st_mtime_ns)
    except OSError as exc:
        raise SourceSyntaxError(source, 1, exc.strerror or str(exc)) from None
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name == function:
                return _signature(node, classes)
    if function in _bound_names(tree):
        return Signature(None, None, None)
    raise FunctionNotFound(sorted(_defined_functions(tree)))


def _defined_functions(tree: ast.Module) -> set[str]:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return {n.name for n in tree.body if isinstance(n, kinds)}


def _bound_names(tree: ast.Module) -> set[str]:
    """Names bound at top level other than by ``def`` (assignments, imports)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
    return names


def _signature(
    node: ast.FunctionDef | ast.AsyncFunctionDef, classes: dict[str, ast.ClassDef]
) -> Signature:
    doc = ast.get_docstring(node)
    first_line = doc.strip().splitlines()[0] if doc and doc.strip() else None
    return Signature(_params(node.args), _shape(node.returns, classes, 0), first_line)


def _params(args: ast.arguments) -> tuple[Param, ...]:
    positional = [*args.posonlyargs, *args.args]
    defaults_from = len(positional) - len(args.defaults)
    params = [
        Param(
            a.arg,
            "positional_only" if i < len(args.posonlyargs) else "positional",
            i < defaults_from,
        )
        for i, a in enumerate(positional)
    ]
    if args.vararg:
        params.append(Param(args.vararg.arg, "var_positional", False))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(Param(arg.arg, "keyword_only", default is None))
    if args.kwarg:
        params.append(Param(args.kwarg.arg, "var_keyword", False))
    return tuple(params)


# A TypedDict may contain itself; shapes deeper than this are left unknown.
_MAX_SHAPE_DEPTH = 8


def _shape(
    node: ast.expr | None, classes: dict[str, ast.ClassDef], depth: int
) -> Shape | None:
    if node is None or depth > _MAX_SHAPE_DEPTH:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    name = _dotted(node)
    if name in _SCALARS or (isinstance(node, ast.Constant) and node.value is None):
        return ScalarShape(name or "None")
    if name in _TUPLES:
        return TupleShape(None)
    if name in _LISTS or (
        isinstance(node, ast.Subscript) and _dotted(node.value) in _LISTS
    ):
        return TupleShape(None, "list")
    if name in classes and _is_typed_dict(classes[name]):
        return _keys_shape(classes[name], classes, depth + 1)
    if isinstance(node, ast.Subscript) and _dotted(node.value) in _TUPLES:
        return _tuple_shape(node.slice, classes, depth + 1)
    return None


def _tuple_shape(
    index: ast.expr, classes: dict[str, ast.ClassDef], depth: int
) -> TupleShape:
    elements = index.elts if isinstance(index, ast.Tuple) else [index]
    if any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in elements):
        return TupleShape(None)
    return TupleShape(tuple(_shape(e, classes, depth) for e in elements))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_typed_dict(node: ast.ClassDef) -> bool:
    return any(_dotted(b).split(".")[-1] == "TypedDict" for b in node.bases)


def _keys_shape(
    node: ast.ClassDef, classes: dict[str, ast.ClassDef], depth: int
) -> KeysShape:
    fields = [
        (item.target.id, item.annotation)
        for item in node.body
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
    ]
    return KeysShape(
        node.name,
        tuple(name for name, _ in fields),
        tuple(_shape(annotation, classes, depth) for _, annotation in fields),
    )


@dataclass(frozen=True)
class IndexProblem:
    """Why an index cannot apply to an annotated result, and what would."""

    message: str
    hint: str


def index_problem(
    shape: Shape | None, path: tuple[int | str, ...]
) -> IndexProblem | None:
    """Why ``path`` cannot index a value of ``shape``, or None when it can."""
    for depth, key in enumerate(path):
        if shape is None:
            return None
        label = "the result" + "".join(f"[{k!r}]" for k in path[:depth])
        if isinstance(shape, ScalarShape):
            return IndexProblem(
                f"{label} is annotated as {shape.name} and cannot be indexed",
                "remove the index",
            )
        if isinstance(shape, TupleShape):
            problem, shape = _tuple_index(shape, key, label)
        else:
            problem, shape = _key_index(shape, key, label)
        if problem:
            return problem
    return None


def _tuple_index(
    shape: TupleShape, key: int | str, label: str
) -> tuple[IndexProblem | None, Shape | None]:
    size = len(shape.items) if shape.items is not None else None
    if not isinstance(key, int):
        return IndexProblem(
            f"{label} is a {shape.kind}: index it with a number, not {key!r}",
            _tuple_hint(size),
        ), None
    if shape.items is None or size is None:
        return None, None
    if not -size <= key < size:
        return IndexProblem(
            f"index {key} is out of range: {label} is a tuple of {size}",
            _tuple_hint(size),
        ), None
    return None, shape.items[key]


def _tuple_hint(size: int | None) -> str:
    if size is None or size == 0:
        return "index it with [0], [1], ..."
    return "use [0]" if size == 1 else f"use [0] to [{size - 1}]"


def _key_index(
    shape: KeysShape, key: int | str, label: str
) -> tuple[IndexProblem | None, Shape | None]:
    if key in shape.keys:
        position = shape.keys.index(str(key))
        return None, shape.items[position] if shape.items else None
    keys = ", ".join(repr(k) for k in shape.keys)
    longer = [k for k in shape.keys if k.startswith(str(key))]
    hint = (
        f"did you mean '{longer[0]}'?" if len(longer) == 1
        else did_you_mean(str(key), shape.keys) or f"its keys are {keys}"
    )
    return IndexProblem(f"{label} ({shape.name}) has no key {key!r}", hint), None
