"""The reference and condition grammar.

References are ``${steps.NAME}`` followed by ``[0]``, ``['key']`` or ``["key"]``
indexes, ``${params.NAME}``, ``${execution.VAR}`` and ``${env.VAR}`` /
``${env.VAR:-default}``; ``$${`` is a literal ``${``. Environment references are
substituted when the file is loaded; the others are parsed into ``Ref`` values here.

Conditions are small expressions::

    cond    := and_of ('or' and_of)*         -- no 'and': list conditions instead
    and_of  := 'not' and_of | '(' cond ')' | compare
    compare := operand (OP operand | ['not'] 'in' '[' operand (',' operand)* ']')

Errors raise ``GrammarError`` with the offset into the text; the caller turns it into
a located ``SpecError``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

from yamlpipe.errors import hint_for
from yamlpipe.plan import (
    Compare,
    ExecutionName,
    ExecutionRef,
    Expr,
    In,
    Not,
    Or,
    ParamRef,
    Ref,
    StepRef,
)

EXECUTION_NAMES: tuple[str, ...] = get_args(ExecutionName)
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class GrammarError(Exception):
    def __init__(self, message: str, hint: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.offset = offset


@dataclass(frozen=True)
class Located:
    """A reference and the offset of its ``${`` in the text it came from."""

    ref: Ref
    offset: int


@dataclass(frozen=True)
class Token:
    """One ``${...}`` in a string: its body and its span in the text."""

    body: str
    start: int
    end: int


def split(text: str) -> list[str | Token]:
    """Literal text (``$${`` unescaped) and reference tokens, in order."""
    parts: list[str | Token] = []
    literal: list[str] = []
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            literal.append(text[i:])
            break
        literal.append(text[i:j])
        if text.startswith("$${", j):
            literal.append("${")
            i = j + 3
        elif text.startswith("${", j):
            end = _closing_brace(text, j + 2)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Token(text[j + 2 : end], j, end + 1))
            i = end + 1
        else:
            literal.append("$")
            i = j + 1
    tail = "".join(literal)
    if tail:
        parts.append(tail)
    return [p for p in parts if p != ""]


def _closing_brace(text: str, i: int) -> int:
    """The ``}`` that closes a reference, skipping quoted keys."""
    quote = ""
    for k in range(i, len(text)):
        ch = text[k]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "}":
            return k
    raise GrammarError(
        "unclosed reference '${'", "close it with '}', or write '$${' for a literal",
        i - 2,
    )


def has_reference(text: str) -> bool:
    return any(isinstance(p, Token) for p in split(text))


def unescape(text: str) -> str:
    return text.replace("$${", "${")


# -- environment ------------------------------------------------------------


def substitute_env(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${env.*}``; other references and escapes stay as written."""
    if "${" not in text:
        return text
    out: list[str] = []
    i = 0
    for token in _tokens_raw(text):
        if not token.body.startswith("env."):
            continue
        out.append(text[i : token.start])
        out.append(_env_value(token, environ).replace("${", "$${"))
        i = token.end
    out.append(text[i:])
    return "".join(out)


def _tokens_raw(text: str) -> list[Token]:
    return [p for p in split(text) if isinstance(p, Token)]


def _env_value(token: Token, environ: Mapping[str, str]) -> str:
    name, sep, default = token.body[4:].partition(":-")
    if not _ENV_NAME.fullmatch(name):
        raise GrammarError(
            f"invalid environment variable name '{name}'",
            "write ${env.NAME} or ${env.NAME:-default}",
            token.start,
        )
    if name in environ:
        return environ[name]
    if sep:
        return default
    raise GrammarError(
        f"environment variable {name} is not set",
        f"set it, or give a default: ${{env.{name}:-value}}",
        token.start,
    )


# -- references -------------------------------------------------------------


_KINDS = ("steps", "params", "execution", "env")


def parse_ref(token: Token) -> Ref:
    """Parse the body of ``${...}`` into a reference."""
    body = token.body.strip()
    kind, dot, rest = body.partition(".")
    # Where ``rest`` starts in the text, for errors inside it.
    offset = token.start + 2 + len(token.body) - len(token.body.lstrip())
    offset += len(kind) + 1
    if kind == "steps" and dot:
        return _step_ref(rest, offset)
    if kind == "params" and dot:
        if not _NAME.fullmatch(rest):
            raise GrammarError(
                f"invalid parameter name '{rest}' in a reference",
                "parameter names are letters, digits, '_' and '-'",
                offset,
            )
        return ParamRef(rest)
    if kind == "execution" and dot:
        return _execution_ref(rest, offset)
    raise GrammarError(
        f"invalid reference '${{{token.body}}}'",
        _kind_hint(kind, dot + rest),
        token.start,
    )


def _kind_hint(kind: str, rest: str) -> str:
    close = difflib.get_close_matches(kind, _KINDS, n=1, cutoff=0.6)
    if close and rest and kind not in _KINDS:
        return f"did you mean ${{{close[0]}{rest}}}?"
    return "write ${steps.NAME}, ${params.NAME}, ${execution.VAR} or ${env.VAR}"


def _execution_ref(rest: str, offset: int) -> ExecutionRef:
    if rest not in EXECUTION_NAMES:
        raise GrammarError(
            f"unknown execution variable '{rest}'",
            hint_for(rest, EXECUTION_NAMES, f"use one of {', '.join(EXECUTION_NAMES)}"),
            offset,
        )
    return ExecutionRef(rest)  # type: ignore[arg-type]


def _step_ref(rest: str, offset: int) -> StepRef:
    match = _NAME.match(rest)
    if not match:
        raise GrammarError(
            "a step reference needs a step name",
            "write ${steps.NAME} or ${steps.NAME[0]}",
            offset,
        )
    path: list[int | str] = []
    i = match.end()
    while i < len(rest):
        key, i = _index(rest, i, offset)
        path.append(key)
    return StepRef(match.group(), tuple(path))


_INDEX = re.compile(r"""\[\s*(?:(-?\d+)|'([^']*)'|"([^"]*)")\s*\]""")


def _index(rest: str, i: int, offset: int) -> tuple[int | str, int]:
    match = _INDEX.match(rest, i)
    if not match:
        raise GrammarError(
            f"invalid index '{rest[i:]}' in a step reference",
            "index with [0], ['key'] or [\"key\"]",
            offset + i,
        )
    number, single, double = match.groups()
    key: int | str = int(number) if number is not None else (single or double or "")
    return key, match.end()


def parse_value(text: str) -> Any:
    """A string input: one whole reference, or literal text."""
    parts = split(text)
    if len(parts) == 1 and isinstance(parts[0], Token):
        return parse_ref(parts[0])
    for part in parts:
        if isinstance(part, Token):
            raise GrammarError(
                f"reference ${{{part.body}}} is embedded in a longer string",
                "an input is one whole reference; join strings inside the step, or "
                "write $${ for a literal",
                part.start,
            )
    return "".join(p for p in parts if isinstance(p, str))


def parse_message(text: str) -> tuple[str | Ref, ...]:
    """A fail message: literal text with embedded references."""
    return parse_message_located(text)[0]


def parse_message_located(
    text: str,
) -> tuple[tuple[str | Ref, ...], tuple[Located, ...]]:
    """A fail message and its references with their offsets into ``text``."""
    parts: list[str | Ref] = []
    found: list[Located] = []
    for part in split(text):
        if isinstance(part, Token):
            ref = parse_ref(part)
            found.append(Located(ref, part.start))
            parts.append(ref)
        else:
            parts.append(part)
    return tuple(parts), tuple(found)


# -- conditions -------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<ref>\$\{)
    | (?P<op>==|!=|>=|<=|>|<)
    | (?P<punct>[\[\](),])
    | (?P<str>'[^']*'|"[^"]*")
    | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_WORDS: dict[str, Any] = {"true": True, "false": False, "null": None}


@dataclass
class _Lexeme:
    kind: str
    text: str
    value: Any
    offset: int


def _lex(text: str) -> list[_Lexeme]:
    out: list[_Lexeme] = []
    i = 0
    while text[i:].strip():
        match = _TOKEN.match(text, i)
        if not match or match.lastgroup is None:
            raise _bad_character(text, len(text) - len(text[i:].lstrip()))
        if match.lastgroup == "ref":
            start, end = match.start("ref"), _closing_brace(text, match.end())
            token = Token(text[match.end() : end], start, end + 1)
            out.append(_Lexeme("ref", text[start : end + 1], token, start))
            i = end + 1
        else:
            out.append(_lexeme(text, match))
            i = match.end()
    return out


# Operators from other languages, and what this grammar writes instead.
_TYPOS = {
    "=>": "did you mean '>='?",
    "=<": "did you mean '<='?",
    "=": "did you mean '=='?",
    "!": "did you mean 'not' or '!='?",
    "&&": "there is no 'and': give the condition as a list, every item must hold",
    "||": "did you mean 'or'?",
}


def _bad_character(text: str, start: int) -> GrammarError:
    two = text[start : start + 2]
    hint = _TYPOS.get(two) or _TYPOS.get(text[start]) or (
        "operands are references or literals; operators are == != > >= < <= "
        "in, not in, not, or"
    )
    shown = two if two in _TYPOS else text[start]
    return GrammarError(f"unexpected '{shown}' in condition", hint, start)


def _lexeme(text: str, match: re.Match[str]) -> _Lexeme:
    kind = match.lastgroup or ""
    raw = match.group(kind)
    start = match.start(kind)
    if kind == "str":
        return _Lexeme("literal", raw, raw[1:-1], start)
    if kind == "num":
        number: float | int = float(raw) if re.search(r"[.eE]", raw) else int(raw)
        return _Lexeme("literal", raw, number, start)
    if kind == "word" and raw in _WORDS:
        return _Lexeme("literal", raw, _WORDS[raw], start)
    return _Lexeme(kind, raw, raw, start)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lexemes = _lex(text)
        self.i = 0
        self.found: list[Located] = []

    def parse(self) -> Expr:
        if not self.lexemes:
            raise GrammarError(
                "empty condition", "write an expression like ${params.x} > 1", 0
            )
        expr = self._or()
        if self.i < len(self.lexemes):
            raise self._unexpected("expected 'or' or the end of the condition")
        return expr

    def _or(self) -> Expr:
        exprs = [self._unary()]
        while self._accept("word", "or"):
            exprs.append(self._unary())
        if self._peek("word", "and"):
            raise GrammarError(
                "'and' is not supported",
                "give the condition as a list: every item must hold",
                self.lexemes[self.i].offset,
            )
        return exprs[0] if len(exprs) == 1 else Or(tuple(exprs))

    def _unary(self) -> Expr:
        if self._accept("word", "not"):
            return Not(self._unary())
        if self._accept("punct", "("):
            expr = self._or()
            self._expect("punct", ")", "close the parenthesis")
            return expr
        return self._compare()

    def _compare(self) -> Expr:
        left = self._operand()
        if self._accept("word", "in"):
            return In(left, self._options())
        if self._accept("word", "not"):
            self._expect("word", "in", "write 'not in [..]'")
            return In(left, self._options(), negated=True)
        current = self._current()
        if current is None or current.kind != "op":
            raise self._unexpected(
                "a condition compares: add ==, !=, >, >=, <, <= or in [..]"
            )
        self.i += 1
        return Compare(current.text, left, self._operand())  # type: ignore[arg-type]

    def _options(self) -> tuple[Any, ...]:
        self._expect("punct", "[", "'in' takes a list: in [1, 2]")
        options = [self._operand()]
        while self._accept("punct", ","):
            options.append(self._operand())
        self._expect("punct", "]", "close the list with ']'")
        return tuple(options)

    def _operand(self) -> Any:
        current = self._current()
        if current is None:
            raise self._unexpected("expected a reference or a literal")
        self.i += 1
        if current.kind == "ref":
            ref = parse_ref(current.value)
            self.found.append(Located(ref, current.offset))
            return ref
        if current.kind == "literal":
            return current.value
        self.i -= 1
        hint = "expected a reference or a literal"
        if current.kind == "word":
            hint = f"quote it if it is a string: '{current.text}'"
        raise self._unexpected(hint)

    def _current(self) -> _Lexeme | None:
        return self.lexemes[self.i] if self.i < len(self.lexemes) else None

    def _peek(self, kind: str, text: str) -> bool:
        current = self._current()
        return current is not None and current.kind == kind and current.text == text

    def _accept(self, kind: str, text: str) -> bool:
        if self._peek(kind, text):
            self.i += 1
            return True
        return False

    def _expect(self, kind: str, text: str, hint: str) -> None:
        if not self._accept(kind, text):
            raise self._unexpected(hint)

    def _unexpected(self, hint: str) -> GrammarError:
        current = self._current()
        if current is None:
            return GrammarError("condition ends too early", hint, len(self.text))
        return GrammarError(f"unexpected '{current.text}' in condition", hint,
                            current.offset)


def parse_condition(text: str) -> Expr:
    return parse_condition_located(text)[0]


def parse_condition_located(text: str) -> tuple[Expr, tuple[Located, ...]]:
    """A condition and its references with their offsets into ``text``."""
    parser = _Parser(text)
    expr = parser.parse()
    return expr, tuple(parser.found)


def walk_refs(expr: Expr) -> list[Ref]:
    """Every reference in a condition, left to right."""
    found: list[Ref] = []

    def visit(node: Any) -> None:
        if isinstance(node, (StepRef, ParamRef, ExecutionRef)):
            found.append(node)
        elif isinstance(node, Compare):
            visit(node.left)
            visit(node.right)
        elif isinstance(node, In):
            visit(node.value)
            for option in node.options:
                visit(option)
        elif isinstance(node, Not):
            visit(node.expr)
        elif isinstance(node, Or):
            for sub in node.exprs:
                visit(sub)

    visit(expr)
    return found
