"""The reference and condition grammar, with the offsets its errors carry."""

from __future__ import annotations

import pytest

from yamlpipe.plan import Compare, ExecutionRef, In, Not, Or, ParamRef, StepRef
from yamlpipe.refs import (
    GrammarError,
    Located,
    Token,
    parse_condition,
    parse_condition_located,
    parse_message_located,
    parse_ref,
    parse_value,
    split,
    substitute_env,
    walk_refs,
)


def grammar_error(parse: object, text: str) -> tuple[str, str, int]:
    with pytest.raises(GrammarError) as caught:
        parse(text)  # type: ignore[operator]
    exc = caught.value
    return exc.message, exc.hint, exc.offset


# -- splitting and escapes ----------------------------------------------------------


def test_split_separates_literals_and_references() -> None:
    assert split("a ${steps.x} b ${params.y}") == [
        "a ", Token("steps.x", 2, 12), " b ", Token("params.y", 15, 26),
    ]


def test_double_dollar_is_a_literal_reference_opener() -> None:
    assert split("$${steps.x} costs $5") == ["${steps.x} costs $5"]


def test_closing_brace_inside_a_quoted_key_does_not_end_the_reference() -> None:
    assert split("${steps.x['a}b']}") == [Token("steps.x['a}b']", 0, 17)]


def test_unclosed_reference_points_at_its_opener() -> None:
    assert grammar_error(split, "x ${steps.a") == (
        "unclosed reference '${'",
        "close it with '}', or write '$${' for a literal",
        2,
    )


# -- references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("${steps.train}", StepRef("train")),
        ("${steps.load[0]}", StepRef("load", (0,))),
        ("${steps.load[-1]}", StepRef("load", (-1,))),
        ("${steps.evaluate['auc']}", StepRef("evaluate", ("auc",))),
        ('${steps.evaluate["auc"]}', StepRef("evaluate", ("auc",))),
        ("${steps.rank[1]['auc']}", StepRef("rank", (1, "auc"))),
        ("${steps.a_b-c[ 2 ][ 'k k' ]}", StepRef("a_b-c", (2, "k k"))),
        ("${ params.min_auc }", ParamRef("min_auc")),
        ("${params.min-auc}", ParamRef("min-auc")),
        *[(f"${{execution.{n}}}", ExecutionRef(n)) for n in (  # type: ignore[misc]
            "id", "arn", "start_time", "current_time", "pipeline_name", "pipeline_arn"
        )],
    ],
)
def test_every_reference_form_parses(text: str, ref: object) -> None:
    assert parse_value(text) == ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${steps.load.0}", (
            "invalid index '.0' in a step reference",
            "index with [0], ['key'] or [\"key\"]", 12,
        )),
        ("${steps.load[0][x]}", (
            "invalid index '[x]' in a step reference",
            "index with [0], ['key'] or [\"key\"]", 15,
        )),
        ("${steps.}", (
            "a step reference needs a step name",
            "write ${steps.NAME} or ${steps.NAME[0]}", 8,
        )),
        ("${execution.start}", (
            "unknown execution variable 'start'", "did you mean 'start_time'?", 12,
        )),
        ("${execution.execution_id}", (
            "unknown execution variable 'execution_id'",
            "use one of id, arn, start_time, current_time, pipeline_name, "
            "pipeline_arn", 12,
        )),
        ("${step.load[0]}", (
            "invalid reference '${step.load[0]}'", "did you mean ${steps.load[0]}?", 0,
        )),
        ("${param.x}", (
            "invalid reference '${param.x}'", "did you mean ${params.x}?", 0,
        )),
        ("${load}", (
            "invalid reference '${load}'",
            "write ${steps.NAME}, ${params.NAME}, ${execution.VAR} or ${env.VAR}", 0,
        )),
        ("${params.a b}", (
            "invalid parameter name 'a b' in a reference",
            "parameter names are letters, digits, '_' and '-'", 9,
        )),
        ("${steps}", (
            "invalid reference '${steps}'",
            "write ${steps.NAME}, ${params.NAME}, ${execution.VAR} or ${env.VAR}", 0,
        )),
    ],
    ids=[
        "dot-index", "bare-index", "no-step", "execution-close", "execution-far",
        "kind-steps", "kind-params", "no-kind", "param-space", "kind-alone",
    ],
)
def test_bad_reference_says_why_and_where(
    text: str, expected: tuple[str, str, int]
) -> None:
    assert grammar_error(parse_value, text) == expected


def test_offsets_count_from_the_start_of_the_text() -> None:
    token = split("xx ${ execution.nope}")[1]
    assert isinstance(token, Token)

    with pytest.raises(GrammarError) as caught:
        parse_ref(token)

    assert caught.value.offset == len("xx ${ execution.")


def test_input_with_an_embedded_reference_is_refused() -> None:
    assert grammar_error(parse_value, "s3://${params.bucket}/x") == (
        "reference ${params.bucket} is embedded in a longer string",
        "an input is one whole reference; join strings inside the step, or write "
        "$${ for a literal",
        5,
    )


def test_input_escapes_become_literal_text() -> None:
    assert parse_value("$${params.x} and $$5") == "${params.x} and $$5"


def test_fail_message_keeps_text_and_locates_references() -> None:
    parts, found = parse_message_located("AUC ${steps.e['auc']} < ${params.m} $${x}")

    assert parts == ("AUC ", StepRef("e", ("auc",)), " < ", ParamRef("m"), " ${x}")
    assert found == (Located(StepRef("e", ("auc",)), 4), Located(ParamRef("m"), 24))


# -- environment -------------------------------------------------------------------


def test_env_reference_takes_the_value_or_the_default() -> None:
    environ = {"IMAGE": "img:1"}

    assert substitute_env("${env.IMAGE}", environ) == "img:1"
    assert substitute_env("${env.TAG:-latest}", environ) == "latest"
    assert substitute_env("${env.IMAGE:-unused}", environ) == "img:1"
    assert substitute_env("x${env.EMPTY:-}y", environ) == "xy"


def test_env_substitution_leaves_other_references_and_escapes() -> None:
    text = "${steps.a} $${env.X} ${env.X}"

    assert substitute_env(text, {"X": "1"}) == "${steps.a} $${env.X} 1"


def test_env_value_that_looks_like_a_reference_is_escaped() -> None:
    assert substitute_env("${env.X}", {"X": "${params.p}"}) == "$${params.p}"


def test_unset_env_without_default_is_an_error_at_its_opener() -> None:
    assert grammar_error(lambda t: substitute_env(t, {}), "img ${env.IMAGE}") == (
        "environment variable IMAGE is not set",
        "set it, or give a default: ${env.IMAGE:-value}",
        4,
    )


def test_env_name_must_be_an_identifier() -> None:
    assert grammar_error(lambda t: substitute_env(t, {}), "${env.my-var}") == (
        "invalid environment variable name 'my-var'",
        "write ${env.NAME} or ${env.NAME:-default}",
        0,
    )


# -- conditions ----------------------------------------------------------------------

A = StepRef("e", ("auc",))
P = ParamRef("p")


@pytest.mark.parametrize(
    ("text", "expr"),
    [
        ("${steps.e['auc']} == 1", Compare("==", A, 1)),
        ("${steps.e['auc']} != 'x'", Compare("!=", A, "x")),
        ("${steps.e['auc']} > 0.5", Compare(">", A, 0.5)),
        ("${steps.e['auc']} >= ${params.p}", Compare(">=", A, P)),
        ("${steps.e['auc']} < -1", Compare("<", A, -1)),
        ("${steps.e['auc']} <= 1e-3", Compare("<=", A, 0.001)),
        ('${params.p} in ["a", \'b\', 3, true, null]',
         In(P, ("a", "b", 3, True, None))),
        ("${params.p} not in [1]", In(P, (1,), negated=True)),
        ("not ${params.p} == false", Not(Compare("==", P, False))),
        ("${params.p} == 1 or ${params.p} == 2",
         Or((Compare("==", P, 1), Compare("==", P, 2)))),
        ("(${params.p} == 1)", Compare("==", P, 1)),
        ("${execution.id} != ''", Compare("!=", ExecutionRef("id"), "")),
    ],
    ids=["eq", "ne", "gt", "ge", "lt", "le", "in", "not-in", "not", "or", "parens",
         "execution"],
)
def test_every_operator_parses(text: str, expr: object) -> None:
    assert parse_condition(text) == expr


def test_not_binds_tighter_than_or() -> None:
    one, two = Compare("==", P, 1), Compare("==", P, 2)

    assert parse_condition("not ${params.p} == 1 or ${params.p} == 2") == Or(
        (Not(one), two)
    )


def test_parentheses_group_before_not() -> None:
    one, two = Compare("==", P, 1), Compare("==", P, 2)

    assert parse_condition("not (${params.p} == 1 or ${params.p} == 2)") == Not(
        Or((one, two))
    )


def test_or_chains_stay_flat_and_nested_groups_stay_nested() -> None:
    a, b, c = (Compare("==", P, n) for n in (1, 2, 3))
    text = "${params.p} == 1 or (${params.p} == 2 or ${params.p} == 3)"

    assert parse_condition(text) == Or((a, Or((b, c))))


def test_condition_references_are_located() -> None:
    text = "${steps.e['auc']} >= ${params.p} or ${execution.id} in ['x']"

    _, found = parse_condition_located(text)

    assert found == (
        Located(A, 0), Located(P, 21), Located(ExecutionRef("id"), 36),
    )


def test_walk_refs_lists_references_left_to_right() -> None:
    expr = parse_condition("not ${params.p} in [${steps.e['auc']}] or 1 == ${params.p}")

    assert walk_refs(expr) == [P, A, P]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("empty condition", "write an expression like ${params.x} > 1", 0)),
        ("${params.p}", (
            "condition ends too early",
            "a condition compares: add ==, !=, >, >=, <, <= or in [..]", 11,
        )),
        ("${params.p} > 1 and ${params.p} < 3", (
            "'and' is not supported",
            "give the condition as a list: every item must hold", 16,
        )),
        ("${params.p} > 1 && ${params.p} < 3", (
            "unexpected '&&' in condition",
            "there is no 'and': give the condition as a list, every item must hold",
            16,
        )),
        ("${params.p} => 1", (
            "unexpected '=>' in condition", "did you mean '>='?", 12,
        )),
        ("${params.p} = 1", ("unexpected '=' in condition", "did you mean '=='?", 12)),
        ("(${params.p} > 1", (
            "condition ends too early", "close the parenthesis", 16,
        )),
        ("${params.p} in 1, 2", (
            "unexpected '1' in condition", "'in' takes a list: in [1, 2]", 15,
        )),
        ("${params.p} in [1,", (
            "condition ends too early", "expected a reference or a literal", 18,
        )),
        ("${params.p} in [1, 2", (
            "condition ends too early", "close the list with ']'", 20,
        )),
        ("${params.p} == high", (
            "unexpected 'high' in condition", "quote it if it is a string: 'high'", 15,
        )),
        ("${params.p} not 1", (
            "unexpected '1' in condition", "write 'not in [..]'", 16,
        )),
        ("${params.p} > 1 ${params.p}", (
            "unexpected '${params.p}' in condition",
            "expected 'or' or the end of the condition", 16,
        )),
        ("${params.p > 1", (
            "unclosed reference '${'",
            "close it with '}', or write '$${' for a literal", 0,
        )),
        ("> 1", (
            "unexpected '>' in condition", "expected a reference or a literal", 0,
        )),
    ],
    ids=[
        "empty", "no-operator", "and", "ampersands", "arrow", "single-equals",
        "open-paren", "in-no-list", "trailing-comma", "open-list", "bare-word",
        "not-without-in", "two-operands", "open-reference", "no-left-operand",
    ],
)
def test_bad_condition_says_why_and_where(
    text: str, expected: tuple[str, str, int]
) -> None:
    assert grammar_error(parse_condition, text) == expected
