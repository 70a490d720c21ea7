"""YAML with positions: parse a spec into plain data and a ``SourceMap``.

PyYAML's composer recurses once per nesting level, and libyaml's compiled composer
crashes the interpreter at around 25,000 levels, which no ``except`` can catch. So the
document is built here from the parser's flat event stream with an explicit stack:
that bounds depth, counts every node (aliases included, which stops alias bombs), sees
duplicate keys, and records where each value came from, all in one pass.

Plain scalars are resolved with the YAML 1.2 core schema, which editors use. Where
YAML 1.1 (PyYAML, the SDK's world) would read the same text differently (``no``,
``on``, ``0755``, ``1:20``, ``1_000``, ``2024-01-31``), the value is ambiguous and
reported as an error, so the spec means one thing everywhere.

Limits (``MAX_BYTES``, ``MAX_DEPTH``, ``MAX_NODES``) keep any file, however built,
to a located error within about half a second. Errors from the models are translated
here too, each at the position of the offending key or value.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from yamlpipe.credentials import find_secrets
from yamlpipe.errors import (
    ErrorGroup,
    Location,
    SpecError,
    YamlpipeError,
    did_you_mean,
    hint_for,
)
from yamlpipe.refs import GrammarError, substitute_env
from yamlpipe.spec import (
    KNOWN_INSTANCE_TYPES,
    STEP_KINDS,
    ConditionStep,
    FailStep,
    FunctionStep,
    RetryPolicy,
    SageMakerTarget,
    Settings,
    Spec,
    StringParameter,
    step_kind,
)

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 100
# A 2,000-step spec has about 12,000 values, and SageMaker takes definitions of at
# most 1 MB. The limit bounds the time any file takes to load (half a second here),
# alias bombs included.
MAX_NODES = 50_000

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
    return loads(_read(path, shown), shown, environ)


def _read(path: Path, shown: str) -> bytes:
    """The file's bytes; never more than the limit is read into memory."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
            size = max(len(raw), os.fstat(handle.fileno()).st_size)
    except OSError as exc:
        raise SpecError(
            f"cannot read the file ({exc.strerror})", "check the path",
            Location(shown, 1, 1),
        ) from None
    if size > MAX_BYTES:
        raise _too_large(size, shown)
    return raw


def loads(
    raw: bytes, shown: str, environ: Mapping[str, str] | None = None
) -> Document:
    """Parse spec bytes; ``shown`` is the path used in messages."""
    text = _decode(raw, shown)
    builder = _Builder(shown, os.environ if environ is None else environ)
    data, source = builder.build(_events(text, shown))
    source.sha256 = hashlib.sha256(raw).hexdigest()
    return Document(data, source, text)


def _too_large(size: int, shown: str) -> SpecError:
    return SpecError(
        f"file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit",
        "split the pipeline or remove generated content",
        Location(shown, 1, 1),
    )


def _decode(raw: bytes, shown: str) -> str:
    if len(raw) > MAX_BYTES:
        raise _too_large(len(raw), shown)
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
        raise _inside(_syntax_error(exc, text, shown), text) from None
    except yaml.reader.ReaderError as exc:
        # Control characters (found by fuzzing): not a marked error, only an index.
        line, col = _position(text[: exc.position])
        raise SpecError(
            f"control character U+{exc.character:04X} is not allowed in YAML",
            "remove it, or write it as an escape inside a double-quoted string",
            Location(shown, line, col),
        ) from None
    finally:
        parser.dispose()


def _inside(error: SpecError, text: str) -> SpecError:
    """Keep a location inside the file: libyaml marks the end of the stream one
    line past the last one when the file does not end with a newline."""
    loc = error.location
    lines = re.split(r"\r\n|\r|\n", text)
    if loc is not None and loc.line > len(lines):
        error.location = Location(loc.path, len(lines), len(lines[-1]) + 1)
    return error


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, shown: str) -> SpecError:
    """PyYAML's message in a user's words, at the mark that explains it best."""
    problem = exc.problem or "invalid YAML"
    mark = exc.problem_mark or exc.context_mark
    char = _char_at(text, mark, 0)
    if char == "\t" or "'\\t'" in problem or "tab character" in problem:
        return SpecError(
            "tab character where YAML expects indentation",
            "YAML indents with spaces only; replace the tab with spaces",
            _at(mark, shown),
        )
    if "maximum nesting depth" in problem:
        # libyaml's own limit (1,000 levels) can trip while it scans ahead of ours.
        return _too_deep(_at(mark, shown))
    if char == "{" and _char_at(text, mark, -1) == "$":
        return SpecError(
            "YAML syntax error: a reference inside [ ] or { } must be quoted",
            "write it in quotes: ['${steps.NAME}']",
            _at(mark, shown, -1),
        )
    for needle, message, hint, at_context in _SYNTAX_PROBLEMS:
        if needle in problem:
            where = exc.context_mark if at_context else mark
            started = exc.context_mark.line + 1 if exc.context_mark else 1
            text_ = message.format(char=char, line=started)
            return SpecError(f"YAML syntax error: {text_}", hint, _at(where, shown))
    if exc.context:
        problem = f"{problem} ({exc.context})"
    return SpecError(
        f"YAML syntax error: {problem}",
        "check indentation, colons and quotes around this point",
        _at(mark, shown),
    )


# PyYAML's problem text -> our message, hint, and whether the context mark (where
# the construct began) locates it better than the problem mark.
_SYNTAX_PROBLEMS = (
    ("could not find expected ':'", "a key without ':'",
     "add ': value' after the key, or indent the line as part of the value above",
     True),
    ("found unexpected end of stream", "a quoted string that is never closed",
     "add the closing quote", True),
    ("did not find expected key",
     "expected a key here (in the mapping that starts at line {line})",
     "indent the keys of a mapping alike; nothing may follow a closing quote",
     False),
    ("did not find expected '-' indicator",
     "expected a '- ' item here (in the list that starts at line {line})",
     "indent the items of a list alike", False),
    ("did not find expected ',' or ']'",
     "expected ',' or ']' (in the list opened at line {line})",
     "separate items with ',' and close the list with ']'", False),
    ("did not find expected ',' or '}'",
     "expected ',' or '}}' (in the mapping opened at line {line})",
     "separate entries with ',' and close the mapping with '}'", False),
    ("mapping values are not allowed",
     "unexpected ':' (a value containing ': ', or a key indented under a value)",
     "quote the value if it contains ': ', else fix this line's indentation", False),
    ("block sequence entries are not allowed",
     "a '- ' list cannot start on the line of its key",
     "start the list on the next line, indented", False),
    ("cannot start any token", "'{char}' cannot start a plain value",
     "quote the value", False),
    ("undefined tag handle", "unknown tag handle",
     "specs are plain data; remove the tag", False),
)


def _too_deep(loc: Location) -> SpecError:
    return SpecError(
        f"nesting deeper than {MAX_DEPTH} levels",
        "a pipeline spec never needs this; flatten the document",
        loc,
    )


def _char_at(text: str, mark: _Mark | None, shift: int) -> str:
    if mark is None or mark.index + shift < 0:
        return ""
    return text[mark.index + shift : mark.index + shift + 1]


class _Mark(Protocol):
    """A position from PyYAML's pure-Python or libyaml parser (0-based)."""

    line: int
    column: int
    index: int


def _at(mark: _Mark | None, shown: str, shift: int = 0) -> Location:
    if mark is None:
        return Location(shown, 1, 1)
    return Location(shown, mark.line + 1, mark.column + 1 + shift)


def _mark(event: yaml.Event, shown: str) -> Location:
    return _at(event.start_mark, shown)


@dataclass
class _Frame:
    """A collection being built, with where it sits in the document."""

    value: dict[str, Any] | list[Any]
    path: PathKey
    anchor: str | None
    first_entry: int
    key: str | None = None
    key_loc: Location | None = None
    # Whether ``key`` is the merge key: a plain ``<<``, never a quoted one.
    merging: bool = False
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
        handlers: dict[type[yaml.Event], Callable[[Any], None]] = {
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
        if self._expects_key():
            self._key(event, self.stack[-1], loc)
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
        if self._expects_key():
            raise SpecError(
                "an alias cannot be a mapping key", "write the key out", loc
            )
        path = self._place(loc)
        first = len(self.entries) - 1
        self._count(end - start, loc)
        self._copy_entries(origin, path, (start, end))
        self._attach(value, None, path, first)

    def _copy_entries(
        self, origin: PathKey, path: PathKey, span: tuple[int, int]
    ) -> None:
        """Positions of an anchored value, and of its keys, under an alias's path."""
        keys = self.source.keys
        for old, old_loc in self.entries[span[0] + 1 : span[1]]:
            new = path + old[len(origin):]
            self.entries.append((new, old_loc))
            if old in keys:
                keys.setdefault(new, keys[old])

    def _start(self, event: yaml.CollectionStartEvent) -> None:
        _refuse_tag(event, self.shown)
        if len(self.stack) >= MAX_DEPTH:
            raise _too_deep(_mark(event, self.shown))
        loc = _mark(event, self.shown)
        if self._expects_key():
            raise SpecError(
                "a mapping key must be a name, not a list or mapping",
                "write the key as a plain string", loc,
            )
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

    def _expects_key(self) -> bool:
        """Whether the next node is the key of the open mapping."""
        if not self.stack:
            return False
        frame = self.stack[-1]
        return isinstance(frame.value, dict) and frame.key is None

    def _key(self, event: yaml.ScalarEvent, frame: _Frame, loc: Location) -> None:
        key = resolve_scalar(event, loc, is_key=True)
        merging = event.value == "<<" and not event.style
        if not isinstance(key, str):
            raise SpecError(
                f"mapping key {event.value!r} is read as {_kind(key)}",
                f'keys are names; quote it: "{event.value}"',
                loc,
            )
        assert isinstance(frame.value, dict)
        if key in frame.value and not merging:
            first = self.source.keys[frame.path + (key,)]
            raise SpecError(
                f"duplicate key '{key}' (first defined at line {first.line})",
                "YAML keeps only the last one; remove or rename one of them",
                loc,
            )
        frame.key, frame.key_loc, frame.merging = key, loc, merging

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
            if frame.merging:
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
        elif frame.merging:
            frame.merges.append((value, path, start, len(self.entries)))
            frame.key, frame.merging = None, False
        else:
            assert frame.key is not None
            frame.value[frame.key] = value
            frame.key = None

    def _merge(self, frame: _Frame) -> None:
        """Apply ``<<`` merge keys: explicit keys win, earlier merges win."""
        assert isinstance(frame.value, dict)
        for value, path, start, end in self._merge_sources(frame):
            added = [key for key in value if key not in frame.value]
            for key in added:
                frame.value[key] = value[key]
            moved = self._moved_positions(path, frame.path, set(added), (start, end))
            self._count(len(moved), self.entries[start][1])
            self.entries.extend(moved)

    def _merge_sources(
        self, frame: _Frame
    ) -> list[tuple[dict[str, Any], PathKey, int, int]]:
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
                    self.entries[start][1],
                )
        return sources

    def _moved_positions(
        self, old: PathKey, new: PathKey, keys: set[str], span: tuple[int, int]
    ) -> list[tuple[PathKey, Location]]:
        """Merged keys keep the positions they have where they were written."""
        size = len(old)
        for key in keys:
            written = self.source.keys.get(old + (key,))
            if written is not None:
                self.source.keys.setdefault(new + (key,), written)
        return [
            (new + p[size:], loc)
            for p, loc in self.entries[span[0] : span[1]]
            if len(p) > size and p[size] in keys and p[:size] == old
        ]

    def _count(self, nodes: int, loc: Location | None = None) -> None:
        """Stop before the document grows past ``MAX_NODES`` values."""
        if len(self.entries) + nodes <= MAX_NODES:
            return
        if self.anchors:
            raise SpecError(
                f"document expands to more than {MAX_NODES:,} values",
                "aliases repeat other aliases (an alias bomb); write the values out",
                loc or self.entries[-1][1],
            )
        raise SpecError(
            f"document has more than {MAX_NODES:,} values",
            "a pipeline spec never needs this many; split it",
            loc or self.entries[-1][1],
        )


def _inline_shift(event: yaml.ScalarEvent, value: Any) -> int | None:
    start, end = event.start_mark, event.end_mark
    if start is None or end is None:
        return None
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
    """Only the core schema's tags, each on the kind of node it names."""
    tag = event.tag
    if tag is None or tag == "!":
        return
    if tag in _TAGS_FOR.get(type(event), ()):
        return
    shown_tag = tag.replace(_CORE_PREFIX, "!!")
    if tag in _CORE_TAGS:
        raise SpecError(
            f"YAML tag {shown_tag} does not apply to this node",
            "remove the tag", _mark(event, shown),
        )
    raise SpecError(
        f"YAML tag {shown_tag} is not allowed",
        "specs are plain data; remove the tag",
        _mark(event, shown),
    )


_CORE_PREFIX = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE_PREFIX + t for t in ("str", "int", "float", "bool", "null")}
_TAGS_FOR: dict[type, set[str]] = {
    yaml.ScalarEvent: _SCALAR_TAGS,
    yaml.MappingStartEvent: {_CORE_PREFIX + "map"},
    yaml.SequenceStartEvent: {_CORE_PREFIX + "seq"},
}
_CORE_TAGS = set().union(*_TAGS_FOR.values())

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^([-+]?)\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

# Plain scalars that YAML 1.1 (https://yaml.org/type/) reads differently from 1.2.
_YAML11_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")
_YAML11_BINARY = re.compile(r"^[-+]?0b[01_]+$")
_YAML11_OCTAL = re.compile(r"^[-+]?0[0-7_]+$")
_YAML11_UNDERSCORE = re.compile(r"^[-+]?(?:[1-9][0-9_]*|[0-9][0-9_]*\.[0-9_]*)$")
_YAML11_BASE60 = re.compile(r"^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
# 1.1 has no decimal with a leading zero: 0789 is a string there, 789 in 1.2.
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9]+$")
_YAML11_DATE = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$"
)
# A cheap test that rules out every 1.1 reading above for most plain scalars.
_MAYBE_YAML11 = re.compile(r"[_:]|^[-+]?0[0-9b]|^[0-9]{4}-[0-9]")
# Plain words that mean something other than a string in YAML 1.1 or 1.2.
_SPECIAL_WORDS = {
    "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
    "on", "On", "ON", "off", "Off", "OFF",
}


def resolve_scalar(
    event: yaml.ScalarEvent, loc: Location, is_key: bool = False
) -> Any:
    """The value of a scalar under YAML 1.2 core; ambiguous ones are errors."""
    _refuse_tag(event, loc.path)
    text = event.value
    if event.tag not in (None, "!", _CORE_PREFIX + "str"):
        return _tagged(text, event.tag, loc)
    # libyaml reports a plain scalar's style as '', the Python parser as None.
    if event.style or event.tag is not None:
        return text
    if text[:1].isalpha() and text not in _SPECIAL_WORDS:
        return text  # the common case, a string in every schema
    if text in _SPECIAL_WORDS or _MAYBE_YAML11.search(text):
        reading = _yaml11_reading(text)
        if reading is not None:
            raise _ambiguous(text, *reading, is_key, loc)
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
    if _FLOAT.match(text):
        return float(text)
    infinity = _INF.match(text)
    if infinity:
        return float(f"{infinity.group(1)}inf")
    if _NAN.match(text):
        return float("nan")
    return text


_TAG_TYPES: dict[str, type | tuple[type, ...]] = {
    "tag:yaml.org,2002:int": int, "tag:yaml.org,2002:float": (int, float),
    "tag:yaml.org,2002:bool": bool, "tag:yaml.org,2002:null": type(None),
}


def _tagged(text: str, tag: str, loc: Location) -> Any:
    value = _core_value(text)
    wanted = _TAG_TYPES[tag]
    if not isinstance(value, wanted) or (tag.endswith("int") and value is True):
        raise SpecError(
            f"'{text}' does not fit its tag !!{tag.rsplit(':', 1)[1]}",
            "fix the value or remove the tag", loc,
        )
    return float(value) if tag.endswith("float") else value  # type: ignore[arg-type]


def _yaml11_reading(text: str) -> tuple[str, str] | None:
    """How YAML 1.1 reads ``text`` and what to write for that, if 1.2 differs.

    An empty second item means there is nothing to write but a quoted string.
    """
    if _YAML11_BOOL.match(text):
        word = "true" if text.lower() in {"y", "yes", "on"} else "false"
        return f"the boolean {word}", word
    if _YAML11_DATE.match(text):
        return "a date", ""  # the spec has no dates: quoting is the only fix
    if _LEADING_ZERO.match(text) and not _YAML11_OCTAL.match(text):
        return "a string", str(int(text))
    number = _yaml11_number(text)
    if number is None or number == _core_value(text):
        return None
    if _YAML11_OCTAL.match(text):
        sign = "-" if number < 0 else ""
        return f"the octal number {number}", f"{sign}0o{abs(number):o}"
    return f"the number {number}", str(number)


def _yaml11_number(text: str) -> int | float | None:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-").replace("_", "")
    if _YAML11_BINARY.match(text):
        return sign * int(body[2:] or "0", 2)
    if _YAML11_OCTAL.match(text):
        return sign * int(body, 8)
    if _YAML11_BASE60.match(text):
        return sign * _base60(body)
    if "_" in text and _YAML11_UNDERSCORE.match(text):
        return sign * (float(body) if "." in body else int(body))
    return None


def _base60(body: str) -> int | float:
    total: int | float = 0
    for part in body.split(":"):
        total = total * 60 + (float(part) if "." in part else int(part))
    return total


def _ambiguous(
    text: str, yaml11: str, instead: str, is_key: bool, loc: Location
) -> SpecError:
    yaml12 = _describe_value(_core_value(text))
    message = f"'{text}' is ambiguous: YAML 1.1 reads it as {yaml11}, 1.2 as {yaml12}"
    if is_key:
        return SpecError(message, f'keys are names; quote it: "{text}"', loc)
    if not instead:
        return SpecError(message, f'quote it: "{text}"', loc)
    hint = f'quote it ("{text}") if you mean a string, else write {instead}'
    return SpecError(message, hint, loc)


def _describe_value(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    return _kind(value)


# -- validation against the models -------------------------------------------


def load_spec(
    path: Path, display: str | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Spec, SourceMap]:
    """Parse and validate a spec; every model error is reported at once."""
    document = load(path, display, environ)
    leaks: list[YamlpipeError] = list(find_secrets(document.data, document.source))
    try:
        spec = Spec.model_validate(document.data)
    except ValidationError as exc:
        errors = [_model_error(e, document) for e in exc.errors()]
        found = _dedupe([e for e in errors if e is not None])
        raise ErrorGroup(found + leaks) from None
    if leaks:
        raise ErrorGroup(leaks)
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


def _model_error(error: ErrorDetails, document: Document) -> SpecError | None:
    kind = error["type"]
    path = _data_path(error["loc"], document.data, kind)
    source = document.source
    if kind == "missing":
        return SpecError(
            f"missing required key '{path[-1]}'", f"add '{path[-1]}:'",
            source.locate(path[:-1]),
        )
    if _is_union_noise(error, path):
        return None
    if kind == "step_kind":
        misspelt = _misspelt_kind_key(path, document)
        if misspelt is not None:
            return misspelt
    if "[key]" in error["loc"] or kind == "extra_forbidden":
        where = source.locate_key(path)
    else:
        where = source.locate(path)
    message, hint = _describe(kind, error, path, document.data)
    return SpecError(message, hint, where)


def _is_union_noise(error: ErrorDetails, path: PathKey) -> bool:
    """A list condition also fails the string member of its union: not news."""
    loc = error["loc"]
    return path[-1:] == ("condition",) and loc[-1] == "str" and isinstance(
        error.get("input"), list
    )


def _misspelt_kind_key(path: PathKey, document: Document) -> SpecError | None:
    """A step without a kind usually has its kind key misspelt: say which."""
    step = _node_at(document.data, path)
    if not isinstance(step, dict) or any(k in step for k in STEP_KINDS):
        return None
    known = {k for m in _STEP_MODELS.values() for k in _keys_of(m)}
    for key in step:
        hint = did_you_mean(str(key), STEP_KINDS) if key not in known else ""
        if hint:
            where = document.source.locate_key(path + (key,))
            return SpecError(f"unknown key '{key}'", hint, where)
    return None


def _node_at(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data


def _describe(
    kind: str, error: ErrorDetails, path: PathKey, data: Any
) -> tuple[str, str]:
    field = _field_name(path)
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key_message(path, data)
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
        return _literal_message(field, value, ctx)
    if kind in _TYPE_NAMES:
        return _type_message(kind, path, value)
    if kind in ("greater_than_equal", "greater_than"):
        return f"{field} must be at least {ctx.get('ge', ctx.get('gt'))}", "raise it"
    if kind == "too_short":
        return f"{field} needs at least one item", _TOO_SHORT_HINTS.get(
            str(path[-1]), "add one"
        )
    return f"{field}: {error['msg'][0].lower()}{error['msg'][1:]}", "fix the value"


_TOO_SHORT_HINTS = {
    "steps": "add a step",
    "condition": "write a condition such as ${params.x} > 1",
    "exception_types": "list the failures to retry, e.g. [Step.SERVICE_FAULT]",
}


def _literal_message(field: str, value: Any, ctx: dict[str, Any]) -> tuple[str, str]:
    expected = ctx.get("expected", "")
    options = [o.strip("' ") for o in str(expected).replace(" or ", ",").split(",")]
    fallback = f"write {options[0]}" if len(options) == 1 else "use one of them"
    return f"{field} must be {expected}, got {_show(value)}", hint_for(
        str(value), options, fallback
    )


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


def _type_message(kind: str, path: PathKey, value: Any) -> tuple[str, str]:
    got = _show(value)
    if path == ():
        return f"the document must be a mapping, got {got}", (
            "a spec is a mapping of version, name and steps; start from the "
            "README's example"
        )
    if "condition" in path[2:]:
        return f"a condition must be an expression, got {got}", (
            "write a comparison such as ${params.x} > 1, or a list of them"
        )
    if path[:1] == ("parameters",) and len(path) == 2:
        return f"parameter '{path[1]}' must be a mapping, got {got}", (
            f"write {path[1]}: {{type: {_param_type(value)}, default: ...}}"
        )
    field = _field_name(path)
    return f"{field} must be {_TYPE_NAMES[kind]}, got {got}", _type_hint(
        kind, value, field
    )


def _param_type(value: Any) -> str:
    kinds = {bool: "boolean", int: "integer", float: "float"}
    return kinds.get(type(value), "string")


def _type_hint(kind: str, value: Any, field: str) -> str:
    if value is None:
        return f"give {field} a value"
    if kind == "string_type" and isinstance(value, (bool, int, float)):
        return f'quote it: "{_yaml_text(value)}"'
    if kind == "list_type" and isinstance(value, str):
        return f"write a list: [{value}]"
    if kind == "list_type" and isinstance(value, dict):
        return "write a list: start each item with '- '"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        if isinstance(value, list):
            return "write 'key: value' lines, without '- '"
    if kind in ("int_type", "int_from_float") and isinstance(value, float):
        return "write a whole number"
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


_NAME_RULE = "use letters, digits, '_' and '-', at most 64 characters"
_PATTERN_RULES = {
    "name": "a pipeline name is letters, digits and single or repeated hyphens, "
    "starting and ending with a letter or digit, at most 256 characters",
    "instance_type": "an instance type looks like ml.m5.large",
    "entrypoint": "write module.path:function or path/to/file.py:function",
    "s3_root": "write s3://bucket/prefix",
}


def _pattern_message(path: PathKey, value: Any, is_key: bool) -> tuple[str, str]:
    if is_key:
        return _key_pattern_message(path)
    key = str(path[-1]) if path else ""
    if path[:1] == ("steps",) and key in ("name", "then", "else", "after") or (
        isinstance(path[-1], int) and path[:1] == ("steps",)
    ):
        return _name_message("step", value, 64, _NAME_RULE)
    if key == "name" and len(path) == 1:
        return _name_message("pipeline", value, 256, _PATTERN_RULES["name"])
    rule = _PATTERN_RULES.get(key, "see the README's spec reference")
    if key == "instance_type":
        rule = _instance_type_hint(str(value), rule)
    return f"invalid {key} {_show(value)}", rule


def _instance_type_hint(value: str, rule: str) -> str:
    """The known type it most likely means: ``ml.`` forgotten, or case, or typo."""
    for candidate in (value.lower(), f"ml.{value.lower()}"):
        if candidate in KNOWN_INSTANCE_TYPES:
            return f"did you mean '{candidate}'?"
    return hint_for(value.lower(), KNOWN_INSTANCE_TYPES, rule)


def _key_pattern_message(path: PathKey) -> tuple[str, str]:
    key = str(path[-1])
    if path[:1] == ("parameters",):
        return _name_message("parameter", key, 64, _NAME_RULE)
    fixed = re.sub(r"\W", "_", key)
    hint = "input names are the function's parameter names (Python identifiers)"
    if fixed.isidentifier():
        hint = f"input names are Python identifiers: did you mean '{fixed}'?"
    return f"invalid input name '{key}'", hint


def _name_message(what: str, value: Any, limit: int, rule: str) -> tuple[str, str]:
    if isinstance(value, str) and len(value) > limit:
        return f"{what} name is {len(value)} characters long", (
            f"SageMaker allows at most {limit}; shorten it"
        )
    return f"invalid {what} name {_show(value)}", rule


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


def _unknown_key_message(path: PathKey, data: Any) -> tuple[str, str]:
    key = str(path[-1])
    model = _model_at(path[:-1], data)
    allowed = _keys_of(model) if model else []
    fallback = "remove it; see the README's spec reference"
    if model in (ConditionStep, FailStep) and key in Settings.model_fields:
        fallback = "condition and fail steps run no job; remove it"
    elif 0 < len(allowed) <= 8:
        fallback = f"the keys here are {', '.join(allowed)}"
    return f"unknown key '{key}'", hint_for(key, allowed, fallback)


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


_STEP_MODELS: dict[str, type[BaseModel]] = {
    "function": FunctionStep, "condition": ConditionStep, "fail": FailStep
}


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
        # Every parameter type has the same keys: type, default, description.
        return StringParameter
    if head == "steps" and len(path) == 2:
        return _STEP_MODELS.get(step_kind(data["steps"][path[1]]) or "")
    return None
