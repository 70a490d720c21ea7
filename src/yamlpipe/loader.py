"""YAML with positions: parse a spec into plain data and a ``SourceMap``.

PyYAML's composer recurses once per nesting level, and libyaml's compiled composer
crashes the interpreter at around 25,000 levels, which no ``except`` can catch. So the
document is built here from the parser's flat event stream with an explicit stack:
that bounds depth, counts every node (aliases included, which stops alias bombs), sees
duplicate keys, and records where each value came from, all in one pass.

Plain scalars are resolved with the YAML 1.2 core schema, which editors use. Where
YAML 1.1 (PyYAML, the SDK's world) would read the same text differently (``no``,
``on``, ``0755``, ``1:20``), the value is ambiguous and reported as an error, so the
spec means one thing everywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from yamlpipe.errors import (
    ErrorGroup,
    Location,
    SpecError,
    YamlpipeError,
    hint_for,
)
from yamlpipe.refs import GrammarError, substitute_env
from yamlpipe.spec import (
    STEP_KINDS,
    ConditionStep,
    FailStep,
    FunctionStep,
    Parameter,
    RetryPolicy,
    SageMakerTarget,
    Settings,
    Spec,
    step_kind,
)

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 100
MAX_NODES = 1_000_000

PathKey = tuple[int | str, ...]


@dataclass
class SourceMap:
    """Where every value and mapping key of a document starts."""

    path: str
    values: dict[PathKey, Location] = field(default_factory=dict)
    keys: dict[PathKey, Location] = field(default_factory=dict)
    # Single-line scalars whose text maps 1:1 onto the value: the column shift
    # (1 for a quote) that turns an offset into the value into a column.
    inline: dict[PathKey, int] = field(default_factory=dict)
    sha256: str = ""

    def locate(self, path: PathKey) -> Location:
        """The value at ``path``, or its closest ancestor that has a position."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Location(self.path, 1, 1)

    def locate_at(self, path: PathKey, offset: int) -> Location:
        """A character inside a string value, when it can be pinned down."""
        loc = self.locate(path)
        shift = self.inline.get(path)
        if shift is None or path not in self.values:
            return loc
        return Location(loc.path, loc.line, loc.col + shift + offset)

    def locate_key(self, path: PathKey) -> Location:
        """The key that introduces ``path``; its value when there is no key."""
        return self.keys.get(path) or self.locate(path)


@dataclass
class Document:
    data: Any
    source: SourceMap
    text: str


def load(
    path: Path, display: str | None = None, environ: Mapping[str, str] | None = None
) -> Document:
    """Read and parse one spec file; ``${env.*}`` comes from ``environ``."""
    shown = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(
            f"cannot read the file ({exc.strerror})", "check the path",
            Location(shown, 1, 1),
        ) from None
    return loads(raw, shown, environ)


def loads(
    raw: bytes, shown: str, environ: Mapping[str, str] | None = None
) -> Document:
    """Parse spec bytes; ``shown`` is the path used in messages."""
    text = _decode(raw, shown)
    builder = _Builder(shown, os.environ if environ is None else environ)
    data, source = builder.build(_events(text, shown))
    source.sha256 = hashlib.sha256(raw).hexdigest()
    return Document(data, source, text)


def _decode(raw: bytes, shown: str) -> str:
    if len(raw) > MAX_BYTES:
        raise SpecError(
            f"file is {len(raw):,} bytes, over the {MAX_BYTES:,}-byte limit",
            "split the pipeline or remove generated content",
            Location(shown, 1, 1),
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _position(raw[: exc.start].decode("utf-8", "replace"))
        raise SpecError(
            f"file is not UTF-8 (byte 0x{raw[exc.start]:02x})",
            "save it as UTF-8",
            Location(shown, line, col),
        ) from None
    if not text.strip() or all(_is_comment(ln) for ln in text.splitlines()):
        raise SpecError(
            "file is empty", "start from the example in the README",
            Location(shown, 1, 1),
        )
    return text


def _is_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#") or stripped == "---"


def _position(prefix: str) -> tuple[int, int]:
    line = prefix.count("\n") + 1
    return line, len(prefix) - (prefix.rfind("\n") + 1) + 1


def _events(text: str, shown: str) -> Iterator[yaml.Event]:
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parser = loader_class(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, shown) from None
    finally:
        parser.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, shown: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    if "'\\t'" in problem:
        # YAML forbids tabs in indentation; PyYAML's wording does not say so.
        return SpecError(
            "tab character where YAML expects indentation",
            "YAML indents with spaces only; replace the tab with spaces",
            Location(shown, line, col),
        )
    if exc.context:
        problem = f"{problem} ({exc.context})"
    return SpecError(
        f"YAML syntax error: {problem}",
        "check indentation, colons and quotes around this point",
        Location(shown, line, col),
    )


def _mark(event: yaml.Event, shown: str) -> Location:
    return Location(shown, event.start_mark.line + 1, event.start_mark.column + 1)


@dataclass
class _Frame:
    """A collection being built, with where it sits in the document."""

    value: dict[str, Any] | list[Any]
    path: PathKey
    anchor: str | None
    first_entry: int
    key: str | None = None
    key_loc: Location | None = None
    merges: list[tuple[Any, PathKey, int, int]] = field(default_factory=list)


class _Builder:
    """Builds plain data from parser events with an explicit stack."""

    def __init__(self, shown: str, environ: Mapping[str, str]) -> None:
        self.shown = shown
        self.environ = environ
        self.source = SourceMap(shown)
        self.entries: list[tuple[PathKey, Location]] = []
        self.anchors: dict[str, tuple[Any, PathKey, int, int]] = {}
        self.stack: list[_Frame] = []
        self.documents = 0
        self.root: Any = None

    def build(self, events: Iterator[yaml.Event]) -> tuple[Any, SourceMap]:
        handlers = {
            yaml.DocumentStartEvent: self._document,
            yaml.ScalarEvent: self._scalar,
            yaml.AliasEvent: self._alias,
            yaml.MappingStartEvent: self._start,
            yaml.SequenceStartEvent: self._start,
            yaml.MappingEndEvent: self._end,
            yaml.SequenceEndEvent: self._end,
        }
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
        for path, loc in self.entries:
            self.source.values.setdefault(path, loc)
        return self.root, self.source

    # -- events --------------------------------------------------------------

    def _document(self, event: yaml.Event) -> None:
        self.documents += 1
        if self.documents > 1:
            raise SpecError(
                "several YAML documents in one file",
                "keep one pipeline per file and remove the '---' separator",
                _mark(event, self.shown),
            )

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        loc = _mark(event, self.shown)
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.value, dict) and frame.key is None:
            self._key(event, frame, loc)
            return
        value = resolve_scalar(event, loc)
        path = self._place(loc)
        shift = _inline_shift(event, value)
        if shift is not None:
            self.source.inline[path] = shift
        if isinstance(value, str) and "${" in value:
            value = self._substitute(value, path)
        self._attach(value, event.anchor, path, len(self.entries) - 1)

    def _substitute(self, value: str, path: PathKey) -> str:
        try:
            result = substitute_env(value, self.environ)
        except GrammarError as exc:
            loc = self.entries[-1][1]
            shift = self.source.inline.get(path)
            if shift is not None:
                loc = Location(loc.path, loc.line, loc.col + shift + exc.offset)
            raise SpecError(exc.message, exc.hint, loc) from None
        if result != value:
            self.source.inline.pop(path, None)
        return result

    def _alias(self, event: yaml.AliasEvent) -> None:
        loc = _mark(event, self.shown)
        if event.anchor not in self.anchors:
            raise SpecError(
                f"unknown alias *{event.anchor}", "define the anchor first", loc
            )
        value, origin, start, end = self.anchors[event.anchor]
        frame = self.stack[-1] if self.stack else None
        if frame is not None and isinstance(frame.value, dict) and frame.key is None:
            raise SpecError(
                "an alias cannot be a mapping key", "write the key out", loc
            )
        path = self._place(loc)
        first = len(self.entries) - 1
        self._count(end - start)
        for old, old_loc in self.entries[start:end]:
            self.entries.append((path + old[len(origin):], old_loc))
        self._attach(value, None, path, first)

    def _start(self, event: yaml.Event) -> None:
        _refuse_tag(event, self.shown)
        if len(self.stack) >= MAX_DEPTH:
            raise SpecError(
                f"nesting deeper than {MAX_DEPTH} levels",
                "a pipeline spec never needs this; flatten the document",
                _mark(event, self.shown),
            )
        loc = _mark(event, self.shown)
        path = self._place(loc) if self.stack else ()
        if not self.stack:
            self.entries.append(((), loc))
        value: dict[str, Any] | list[Any]
        value = {} if isinstance(event, yaml.MappingStartEvent) else []
        start = len(self.entries) - 1
        self.stack.append(_Frame(value, path, event.anchor, start))

    def _end(self, event: yaml.Event) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self._merge(frame)
        self._attach(frame.value, frame.anchor, frame.path, frame.first_entry)

    # -- helpers -------------------------------------------------------------

    def _key(self, event: yaml.ScalarEvent, frame: _Frame, loc: Location) -> None:
        key = resolve_scalar(event, loc)
        if event.value == "<<" and not event.style:
            key = "<<"
        if not isinstance(key, str):
            raise SpecError(
                f"mapping key {event.value!r} is read as {_kind(key)}",
                f'keys are names; quote it: "{event.value}"',
                loc,
            )
        assert isinstance(frame.value, dict)
        if key in frame.value and key != "<<":
            first = self.source.keys[frame.path + (key,)]
            raise SpecError(
                f"duplicate key '{key}' (first defined at line {first.line})",
                "YAML keeps only the last one; remove or rename one of them",
                loc,
            )
        frame.key, frame.key_loc = key, loc

    def _place(self, loc: Location) -> PathKey:
        """The path of the next value in the open collection; records its key."""
        self._count(1)
        if not self.stack:
            self.entries.append(((), loc))
            return ()
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            path = frame.path + (len(frame.value),)
        else:
            assert frame.key is not None and frame.key_loc is not None
            path = frame.path + (frame.key,)
            if frame.key == "<<":
                path = path + (len(frame.merges),)
            self.source.keys.setdefault(path, frame.key_loc)
        self.entries.append((path, loc))
        return path

    def _attach(
        self, value: Any, anchor: str | None, path: PathKey, start: int
    ) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, path, start, len(self.entries))
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        if isinstance(frame.value, list):
            frame.value.append(value)
        elif frame.key == "<<":
            frame.merges.append((value, path, start, len(self.entries)))
            frame.key = None
        else:
            assert frame.key is not None
            frame.value[frame.key] = value
            frame.key = None

    def _merge(self, frame: _Frame) -> None:
        """Apply ``<<`` merge keys: explicit keys win, earlier merges win."""
        assert isinstance(frame.value, dict)
        sources: list[tuple[dict[str, Any], PathKey, int, int]] = []
        for value, path, start, end in frame.merges:
            if isinstance(value, dict):
                sources.append((value, path, start, end))
            elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
                sources.extend(
                    (v, path + (i,), start, end) for i, v in enumerate(value)
                )
            else:
                raise SpecError(
                    "a merge key '<<' needs a mapping or a list of mappings",
                    "merge an anchored mapping: '<<: *defaults'",
                    self.source.locate(path),
                )
        for value, path, start, end in sources:
            for key, item in value.items():
                if key not in frame.value:
                    frame.value[key] = item
                    span = (start, end)
                    self._copy_positions(path + (key,), frame.path + (key,), span)

    def _copy_positions(
        self, old: PathKey, new: PathKey, span: tuple[int, int]
    ) -> None:
        size = len(old)
        moved = [
            (new + p[size:], loc)
            for p, loc in self.entries[span[0] : span[1]]
            if p[:size] == old
        ]
        self._count(len(moved))
        self.entries.extend(moved)
        if old in self.source.keys:
            self.source.keys.setdefault(new, self.source.keys[old])

    def _count(self, nodes: int) -> None:
        if len(self.entries) + nodes > MAX_NODES:
            raise SpecError(
                f"document expands to more than {MAX_NODES:,} nodes",
                "aliases may be nested too deeply (an alias bomb); write it out",
                Location(self.shown, 1, 1),
            )


def _inline_shift(event: yaml.ScalarEvent, value: Any) -> int | None:
    start, end = event.start_mark, event.end_mark
    if not isinstance(value, str) or start.line != end.line:
        return None
    width = end.index - start.index
    if not event.style and width == len(value):
        return 0
    if event.style in ("'", '"') and width == len(value) + 2:
        return 1
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    return f"the number {value!r}"


def _refuse_tag(event: Any, shown: str) -> None:
    tag = event.tag
    if tag is None or tag == "!" or tag in _STANDARD_TAGS:
        return
    raise SpecError(
        f"YAML tag {tag} is not allowed",
        "specs are plain data; remove the tag",
        _mark(event, shown),
    )


_STANDARD_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

# Plain scalars that YAML 1.1 reads as something else than YAML 1.2 does.
_YAML11_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_YAML11_NUMBER = re.compile(
    r"^[-+]?(?:0[0-7]+|0b[01_]+|0[0-7_]*_[0-7_]*|[0-9][0-9_]*_[0-9_]*"
    r"|[1-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?)$"
)


def resolve_scalar(event: yaml.ScalarEvent, loc: Location) -> Any:
    """The value of a scalar under YAML 1.2 core; ambiguous ones are errors."""
    _refuse_tag(event, loc.path)
    text = event.value
    # libyaml reports a plain scalar's style as '', the Python parser as None.
    if event.style or event.tag == "tag:yaml.org,2002:str":
        return text
    if event.tag is not None and event.tag != "!":
        return _tagged(text, event.tag, loc)
    if _YAML11_BOOL.match(text):
        boolean = _yaml11_bool(text)
        raise _ambiguous(text, f"the boolean {boolean}", f"write {boolean}", loc)
    if _YAML11_NUMBER.match(text):
        raise _ambiguous(
            text, "a number (YAML 1.2: a string)", "write the number without "
            "leading zeros, ':' or '_' (0o755 for octal)", loc,
        )
    return _core_value(text)


def _core_value(text: str) -> Any:
    if _NULL.match(text):
        return None
    if _BOOL.match(text):
        return text.lower() == "true"
    if _INT10.match(text):
        return int(text)
    if _INT8.match(text):
        return int(text[2:], 8)
    if _INT16.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text) or _INF.match(text) or _NAN.match(text):
        return float(text.replace(".inf", "inf").replace(".Inf", "inf"))
    return text


def _tagged(text: str, tag: str, loc: Location) -> Any:
    value = _core_value(text)
    wanted: type | tuple[type, ...] = {
        "tag:yaml.org,2002:int": int, "tag:yaml.org,2002:float": (int, float),
        "tag:yaml.org,2002:bool": bool, "tag:yaml.org,2002:null": type(None),
    }[tag]
    if not isinstance(value, wanted) or (tag.endswith("int") and value is True):
        raise SpecError(
            f"'{text}' is not a valid {tag.rsplit(':', 1)[1]}", "fix the value", loc
        )
    return float(value) if tag.endswith("float") else value


def _yaml11_bool(text: str) -> str:
    return "true" if text.lower() in {"y", "yes", "on"} else "false"


def _ambiguous(text: str, meaning: str, otherwise: str, loc: Location) -> SpecError:
    return SpecError(
        f"'{text}' is ambiguous: YAML 1.1 reads it as {meaning}",
        f"quote it (\"{text}\") if you mean a string, else {otherwise}",
        loc,
    )


# -- validation against the models -------------------------------------------


def load_spec(
    path: Path, display: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Spec, SourceMap]:
    """Parse and validate a spec; every model error is reported at once."""
    document = load(path, display, environ)
    try:
        spec = Spec.model_validate(document.data)
    except ValidationError as exc:
        errors = [_model_error(e, document) for e in exc.errors()]
        raise ErrorGroup(_dedupe(errors)) from None
    return spec, document.source


def _dedupe(errors: list[SpecError]) -> list[YamlpipeError]:
    """One error per location: a union reports each of its members."""
    seen: dict[Location | None, SpecError] = {}
    for error in errors:
        seen.setdefault(error.location, error)
    return list(seen.values())


_STEP_TAGS = {"function", "condition", "fail"}
_PARAM_TAGS = {"string", "integer", "float", "boolean"}


def _data_path(loc: tuple[int | str, ...], data: Any, kind: str) -> PathKey:
    """The document path of a pydantic error location (union tags removed)."""
    path: list[int | str] = []
    node = data
    for index, part in enumerate(loc):
        if part == "[key]":
            break
        if index == 2 and path[:1] in (["steps"], ["parameters"]) and (
            part in _STEP_TAGS or part in _PARAM_TAGS
        ):
            continue
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif kind == "missing" and index == len(loc) - 1:
            pass
        else:
            continue
        path.append(part)
    return tuple(path)


def _model_error(error: ErrorDetails, document: Document) -> SpecError:
    kind = error["type"]
    path = _data_path(error["loc"], document.data, kind)
    source = document.source
    if kind == "missing":
        return SpecError(
            f"missing required key '{path[-1]}'", f"add '{path[-1]}:'",
            source.locate(path[:-1]),
        )
    if "[key]" in error["loc"] or kind == "extra_forbidden":
        where = source.locate_key(path)
    else:
        where = source.locate(path)
    message, hint = _describe(kind, error, path, document.data)
    return SpecError(message, hint, where)


def _describe(
    kind: str, error: ErrorDetails, path: PathKey, data: Any
) -> tuple[str, str]:
    field = _field_name(path)
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1], data)
        return f"unknown key '{path[-1]}'", hint_for(
            str(path[-1]), allowed, "remove it; see the README's spec reference"
        )
    if kind == "step_kind":
        return _step_kind_message(value)
    if kind == "union_tag_invalid":
        tag = ctx.get("tag", "")
        return f"unknown parameter type '{tag}'", hint_for(
            tag, _PARAM_TAGS, "use string, integer, float or boolean"
        )
    if kind == "union_tag_not_found":
        return "parameter needs a 'type'", "add type: string, integer, float or boolean"
    if kind == "string_pattern_mismatch":
        return _pattern_message(path, value, "[key]" in error["loc"])
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        options = [o.strip("' ") for o in str(expected).replace(" or ", ",").split(",")]
        fallback = f"write {options[0]}" if len(options) == 1 else "use one of them"
        return f"{field} must be {expected}, got {_show(value)}", hint_for(
            str(value), options, fallback
        )
    if kind in _TYPE_NAMES:
        return f"{field} must be {_TYPE_NAMES[kind]}, got {_show(value)}", _type_hint(
            kind, value
        )
    if kind in ("greater_than_equal", "greater_than"):
        return f"{field} must be at least {ctx.get('ge', ctx.get('gt'))}", "raise it"
    if kind == "too_short":
        return f"{field} needs at least one item", "add one, or remove the key"
    return f"{field}: {error['msg'][0].lower()}{error['msg'][1:]}", "fix the value"


_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "int_from_float": "an integer",
}


def _type_hint(kind: str, value: Any) -> str:
    if kind == "string_type" and isinstance(value, (bool, int, float)):
        return f'quote it: "{_yaml_text(value)}"'
    if kind in ("list_type",) and isinstance(value, str):
        return f"write a list: [{value}]"
    if isinstance(value, str) and kind in ("int_type", "float_type", "bool_type"):
        looks_right = _core_value(value) is not value
        return "remove the quotes" if looks_right else f"write {_TYPE_NAMES[kind]}"
    return "see the README's spec reference"


def _yaml_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    return _yaml_text(value)


def _field_name(path: PathKey) -> str:
    names = [str(p) for p in path if isinstance(p, str)]
    return f"'{names[-1]}'" if names else "the document"


_PATTERN_RULES = {
    "name": "a pipeline name is letters, digits and single or repeated hyphens, "
    "starting and ending with a letter or digit, at most 256 characters",
    "instance_type": "an instance type looks like ml.m5.large",
    "entrypoint": "write module.path:function or path/to/file.py:function",
    "s3_root": "write s3://bucket/prefix",
}


def _pattern_message(path: PathKey, value: Any, is_key: bool) -> tuple[str, str]:
    if is_key and path[:1] == ("parameters",):
        return f"invalid parameter name '{path[-1]}'", (
            "use letters, digits, '_' and '-', at most 64 characters"
        )
    if is_key:
        return f"invalid input name '{path[-1]}'", (
            "input names are the function's parameter names (Python identifiers)"
        )
    key = str(path[-1]) if path else ""
    if path[:1] == ("steps",) and key in ("name", "then", "else", "after") or (
        isinstance(path[-1], int) and path[:1] == ("steps",)
    ):
        return f"invalid step name {_show(value)}", (
            "use letters, digits, '_' and '-', at most 64 characters"
        )
    if key == "name" and len(path) == 1:
        return f"invalid pipeline name {_show(value)}", _PATTERN_RULES["name"]
    rule = _PATTERN_RULES.get(key, "see the README's spec reference")
    return f"invalid {key} {_show(value)}", rule


def _step_kind_message(value: Any) -> tuple[str, str]:
    if not isinstance(value, dict):
        return f"a step must be a mapping, got {_show(value)}", (
            "write name: and one of entrypoint:, condition:, fail:"
        )
    name = value.get("name", "?")
    present = [key for key in STEP_KINDS if key in value]
    if not present:
        return f"step '{name}' has none of entrypoint, condition, fail", (
            "add one: it says what kind of step this is"
        )
    return f"step '{name}' has both {' and '.join(present)}", (
        "a step is one kind; split it into two steps"
    )


def _allowed_keys(path: PathKey, data: Any) -> list[str]:
    model = _model_at(path, data)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(path: PathKey, data: Any) -> type[BaseModel] | None:
    if path == ():
        return Spec
    head = path[0]
    if head == "sagemaker":
        return SageMakerTarget
    if "retry_policies" in path:
        return RetryPolicy
    if head == "defaults":
        return Settings
    if head == "parameters" and len(path) == 2:
        return Parameter
    if head == "steps" and len(path) == 2:
        kind = step_kind(data["steps"][path[1]])
        models: dict[str, type[BaseModel]] = {
            "function": FunctionStep, "condition": ConditionStep, "fail": FailStep
        }
        return models.get(kind or "")
    return None
