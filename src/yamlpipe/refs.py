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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

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


def parse_ref(token: Token) -> Ref:
    """Parse the body of ``${...}`` into a reference."""
    body = token.body.strip()
    kind, dot, rest = body.partition(".")
    if kind == "steps" and dot:
        return _step_ref(rest, token)
    if kind == "params" and dot and _NAME.fullmatch(rest):
        return ParamRef(rest)
    if kind == "execution" and dot:
        if rest not in EXECUTION_NAMES:
            raise GrammarError(
                f"unknown execution variable '{rest}'",
                f"use one of {', '.join(EXECUTION_NAMES)}",
                token.start,
            )
        return ExecutionRef(rest)  # type: ignore[arg-type]
    raise GrammarError(
        f"invalid reference '${{{token.body}}}'",
        "write ${steps.NAME}, ${params.NAME}, ${execution.VAR} or ${env.VAR}",
        token.start,
    )


def _step_ref(rest: str, token: Token) -> StepRef:
    match = _NAME.match(rest)
    if not match:
        raise GrammarError(
            "a step reference needs a step name",
            "write ${steps.NAME} or ${steps.NAME[0]}",
            token.start,
        )
    path: list[int | str] = []
    i = match.end()
    while i < len(rest):
        key, i = _index(rest, i, token)
        path.append(key)
    return StepRef(match.group(), tuple(path))


_INDEX = re.compile(r"""\[\s*(?:(-?\d+)|'([^']*)'|"([^"]*)")\s*\]""")


def _index(rest: str, i: int, token: Token) -> tuple[int | str, int]:
    match = _INDEX.match(rest, i)
    if not match:
        raise GrammarError(
            f"invalid index '{rest[i:]}' in a step reference",
            "index with [0], ['key'] or [\"key\"]",
            token.start,
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
    return tuple(p if isinstance(p, str) else parse_ref(p) for p in split(text))


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
            start = len(text) - len(text[i:].lstrip())
            raise GrammarError(
                f"unexpected '{text[start]}' in condition",
                "operands are references or literals; operators are == != > >= "
                "< <= in, not in, not, or",
                start,
            )
        if match.lastgroup == "ref":
            start, end = match.start("ref"), _closing_brace(text, match.end())
            token = Token(text[match.end() : end], start, end + 1)
            out.append(_Lexeme("ref", text[start : end + 1], token, start))
            i = end + 1
        else:
            out.append(_lexeme(text, match))
            i = match.end()
    return out


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
            return parse_ref(current.value)
        if current.kind == "literal":
            return current.value
        self.i -= 1
        hint = "references are written ${params.NAME}; quote strings: 'text'"
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
    return _Parser(text).parse()


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
