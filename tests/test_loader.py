"""The loader: YAML with positions, strict scalars, and hostile files.

Each hostile input is generated here rather than committed; every one must end in a
located ``SpecError`` (or a correct document) well within a second.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from yamlpipe.errors import ErrorGroup, Location, YamlpipeError
from yamlpipe.loader import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    Document,
    load,
    load_spec,
    loads,
)

HEAD = "version: 1\nname: hostile\n"
STEP = "steps:\n  - name: a\n    entrypoint: pkg.tabular:echo\n"


def parsed(text: str | bytes, environ: dict[str, str] | None = None) -> Document:
    raw = text.encode() if isinstance(text, str) else text
    return loads(raw, "spec.yaml", environ or {})


def error(text: str | bytes, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(YamlpipeError) as caught:
        parsed(text, environ)
    return caught.value.render()


def model_errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(ErrorGroup) as caught:
        load_spec(path, "spec.yaml", {})
    return [e.render() for e in caught.value.errors]


# -- hostile files ----------------------------------------------------------------


def test_file_over_the_size_limit_is_refused_without_reading_it_all(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# padding\n" * (1024 * 1024))

    with pytest.raises(YamlpipeError) as caught:
        load(path, "big.yaml")

    assert caught.value.render() == (
        "big.yaml:1:1: file is 10,485,760 bytes, over the 5,242,880-byte limit; "
        "split the pipeline or remove generated content"
    )


def test_bytes_over_the_size_limit_are_refused() -> None:
    assert error(b" " * (MAX_BYTES + 1)) == (
        "spec.yaml:1:1: file is 5,242,881 bytes, over the 5,242,880-byte limit; "
        "split the pipeline or remove generated content"
    )


def alias_bomb() -> str:
    """Billion laughs: ten levels of nine aliases each, about 500 bytes."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        aliases = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() -> None:
    text = alias_bomb()
    assert len(text) < 1024

    # a3 holds 6,652 values; the seventh *a3 in a4 (column 40) passes 50,000.
    assert error(text) == (
        "spec.yaml:5:40: document expands to more than 50,000 values; aliases "
        "repeat other aliases (an alias bomb); write the values out"
    )


def test_merge_key_bomb_is_refused() -> None:
    lines = ["m0: &m0 {" + ", ".join(f"k{j}: {j}" for j in range(10)) + "}"]
    for level in range(1, 12):
        merged = ", ".join([f"*m{level - 1}"] * 8)
        lines.append(f"m{level}: &m{level} {{<<: [{merged}], own: {level}}}")

    assert "document expands to more than 50,000 values" in error("\n".join(lines))


def test_wide_merges_are_counted_and_stay_linear() -> None:
    keys = "".join(f"  k{j}: {j}\n" for j in range(20_000))
    merges = "".join(f"m{i}:\n  <<: *base\n" for i in range(50))

    assert error(f"base: &base\n{keys}{merges}") == (
        "spec.yaml:20003:7: document expands to more than 50,000 values; aliases "
        "repeat other aliases (an alias bomb); write the values out"
    )


def test_too_many_values_without_aliases_are_refused() -> None:
    items = ",".join(["1"] * (MAX_NODES + 10))

    assert error(f"{HEAD}description: [{items}]\n") == (
        "spec.yaml:3:100005: document has more than 50,000 values; a pipeline "
        "spec never needs this many; split it"
    )


DEEP = 100_000
TOO_DEEP = (
    f"nesting deeper than {MAX_DEPTH} levels; a pipeline spec never needs this; "
    "flatten the document"
)


def test_deeply_nested_flow_sequences_are_refused_without_a_crash() -> None:
    text = f"{HEAD}description: " + "[" * DEEP + "]" * DEEP + "\n"

    # libyaml stops at its own limit of 1,000 levels while scanning ahead.
    assert error(text) == f"spec.yaml:3:1013: {TOO_DEEP}"


def test_deeply_nested_flow_mappings_are_refused_at_the_level_past_the_limit() -> None:
    text = f"{HEAD}description: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n"

    # The document is level 1, so the 100th brace opens level 101.
    assert error(text) == f"spec.yaml:3:{14 + 4 * 99}: {TOO_DEEP}"


def test_deeply_nested_block_sequences_are_refused() -> None:
    text = f"{HEAD}steps:\n" + "- " * DEEP + "x\n"

    assert error(text) == f"spec.yaml:4:199: {TOO_DEEP}"


def test_deeply_nested_block_mappings_are_refused() -> None:
    # Indentation makes the file grow with the square of the depth: 3,000 levels
    # is what fits under the size limit.
    lines = "".join(" " * (level + 1) + f"k{level}:\n" for level in range(3_000))

    # description's mapping is level 2 and starts on line 4; level 101 is line 103.
    assert error(f"{HEAD}description:\n{lines}") == f"spec.yaml:103:101: {TOO_DEEP}"


def test_block_mappings_nested_as_keys_are_refused() -> None:
    assert error(HEAD + "? " * DEEP + "x\n") == (
        "spec.yaml:3:3: a mapping key must be a name, not a list or mapping; "
        "write the key as a plain string"
    )


def test_utf8_bom_is_accepted_and_does_not_shift_columns() -> None:
    document = parsed(b"\xef\xbb\xbf" + HEAD.encode())

    assert document.data == {"version": 1, "name": "hostile"}
    assert document.source.values[("name",)] == Location("spec.yaml", 2, 7)


def test_non_utf8_bytes_are_reported_at_their_line_and_column() -> None:
    raw = f"{HEAD}description: caf".encode() + b"\xe9 au lait\n"

    assert error(raw) == (
        "spec.yaml:3:17: file is not UTF-8 (byte 0xe9); save it as UTF-8"
    )


def test_utf16_file_is_reported_as_not_utf8() -> None:
    assert error(HEAD.encode("utf-16")) == (
        "spec.yaml:1:1: file is not UTF-8 (byte 0xff); save it as UTF-8"
    )


def test_crlf_line_endings_are_accepted_with_correct_lines() -> None:
    document = parsed(f"{HEAD}description: ok\n".replace("\n", "\r\n"))

    assert document.data["description"] == "ok"
    assert document.source.values[("description",)] == Location("spec.yaml", 3, 14)


def test_crlf_errors_point_at_the_right_line() -> None:
    text = f"{HEAD}description: yes\n".replace("\n", "\r\n")

    assert error(text).startswith("spec.yaml:3:14: 'yes' is ambiguous")


def test_very_long_line_is_accepted() -> None:
    long = "x" * (4 * 1024 * 1024)

    assert parsed(f"{HEAD}description: {long}\n").data["description"] == long


def test_column_is_exact_after_a_very_long_string() -> None:
    text = f'{HEAD}description: ["{"x" * 500_000}", no]\n'

    assert error(text).startswith(f"spec.yaml:3:{19 + 500_000}: 'no' is")


# -- empty and several documents ------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["", "\n\n", "# only a comment\n", "---\n# nothing\n"],
    ids=["empty", "blank", "comment", "marker"],
)
def test_file_without_content_is_empty(text: str) -> None:
    assert error(text) == (
        "spec.yaml:1:1: file is empty; start from the example in the README"
    )


def test_several_documents_are_refused_at_the_second() -> None:
    assert error(f"{HEAD}---\n{HEAD}") == (
        "spec.yaml:3:1: several YAML documents in one file; keep one pipeline per "
        "file and remove the '---' separator"
    )


# -- syntax errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a:\n  b: 1\n c: 2\n",
            "spec.yaml:3:2: YAML syntax error: expected a key here (in the mapping "
            "that starts at line 1); indent the keys of a mapping alike; nothing may "
            "follow a closing quote",
        ),
        (
            'a: "x" y\n',
            "spec.yaml:1:8: YAML syntax error: expected a key here (in the mapping "
            "that starts at line 1); indent the keys of a mapping alike; nothing may "
            "follow a closing quote",
        ),
        (
            "a: 1\nb\nc: 2\n",
            "spec.yaml:2:1: YAML syntax error: a key without ':'; add ': value' after "
            "the key, or indent the line as part of the value above",
        ),
        (
            "a: 'x\nb: 1\n",
            "spec.yaml:1:4: YAML syntax error: a quoted string that is never closed; "
            "add the closing quote",
        ),
        (
            "a:\n  - b: 1\n    c: 2\n   d: 3\n",
            "spec.yaml:4:4: YAML syntax error: expected a '- ' item here (in the list "
            "that starts at line 2); indent the items of a list alike",
        ),
        (
            "a: [1, 2\nb: 3\n",
            "spec.yaml:2:2: YAML syntax error: expected ',' or ']' (in the list opened "
            "at line 1); separate items with ',' and close the list with ']'",
        ),
        (
            "a: {b: 1\nc: 2\n",
            "spec.yaml:2:2: YAML syntax error: expected ',' or '}' (in the mapping "
            "opened at line 1); separate entries with ',' and close the mapping "
            "with '}'",
        ),
        (
            "a: b: c\n",
            "spec.yaml:1:5: YAML syntax error: unexpected ':' (a value containing "
            "': ', or a key indented under a value); quote the value if it contains "
            "': ', else fix this line's indentation",
        ),
        (
            "a: - 1\n",
            "spec.yaml:1:4: YAML syntax error: a '- ' list cannot start on the line of "
            "its key; start the list on the next line, indented",
        ),
        (
            "a: @x\n",
            "spec.yaml:1:4: YAML syntax error: '@' cannot start a plain value; quote "
            "the value",
        ),
        (
            "a: [${steps.x}]\n",
            "spec.yaml:1:5: YAML syntax error: a reference inside [ ] or { } must be "
            "quoted; write it in quotes: ['${steps.NAME}']",
        ),
        (
            "a:\n\tb: 1\n",
            "spec.yaml:2:1: tab character where YAML expects indentation; YAML "
            "indents with spaces only; replace the tab with spaces",
        ),
    ],
    ids=[
        "indent-key", "after-quote", "no-colon", "open-quote", "indent-item",
        "open-list", "open-map", "colon-in-value", "list-on-key-line",
        "reserved-char", "flow-reference", "tab",
    ],
)
def test_syntax_error_is_explained_where_it_helps(text: str, expected: str) -> None:
    assert error(text) == expected


def test_tab_after_a_colon_is_plain_whitespace() -> None:
    assert parsed("a:\tb\n").data == {"a": "b"}


# -- keys ----------------------------------------------------------------------------


def test_duplicate_key_names_the_first_line() -> None:
    assert error("a: 1\nb: 2\na: 3\n") == (
        "spec.yaml:3:1: duplicate key 'a' (first defined at line 1); YAML keeps "
        "only the last one; remove or rename one of them"
    )


def test_duplicate_key_in_a_flow_mapping_is_found() -> None:
    assert error("a: {b: 1, b: 2}\n").startswith(
        "spec.yaml:1:11: duplicate key 'b' (first defined at line 1)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1: x\n", "mapping key '1' is read as the number 1; keys are names; "
         'quote it: "1"'),
        ("true: x\n", "mapping key 'true' is read as the boolean true; keys are "
         'names; quote it: "true"'),
        ("~: x\n", "mapping key '~' is read as null; keys are names; quote it: \"~\""),
        ("on: x\n", "'on' is ambiguous: YAML 1.1 reads it as the boolean true, 1.2 "
         'as a string; keys are names; quote it: "on"'),
        ("*a: x\n", "unknown alias *a; define the anchor first"),
        ("[a]: x\n", "a mapping key must be a name, not a list or mapping; write the "
         "key as a plain string"),
    ],
    ids=["number", "boolean", "null", "yaml11", "alias", "sequence"],
)
def test_keys_must_be_plain_names(text: str, expected: str) -> None:
    assert error(text) == f"spec.yaml:1:1: {expected}"


def test_alias_as_key_is_refused() -> None:
    assert error("x: &k a\n*k : 1\n") == (
        "spec.yaml:2:1: an alias cannot be a mapping key; write the key out"
    )


# -- scalars -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("plain", "plain"), ("'1'", "1"), ('"no"', "no"), ("12", 12), ("-3", -3),
        ("0o17", 15), ("0x1F", 31), ("1.5", 1.5), ("1e3", 1000.0), ("-.inf",
        float("-inf")), ("true", True), ("False", False), ("null", None), ("~", None),
        ("", None), ("!!str 12", "12"), ("!!float 1", 1.0), ('!!int "12"', 12),
        ("! 12", "12"), ("07", 7), ("0.5", 0.5),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    assert parsed(f"a: {text}\n").data["a"] == value


def test_nan_is_a_float() -> None:
    value = parsed("a: .nan\n").data["a"]

    assert isinstance(value, float) and value != value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no", "YAML 1.1 reads it as the boolean false, 1.2 as a string; quote it "
         '("no") if you mean a string, else write false'),
        ("Y", "YAML 1.1 reads it as the boolean true, 1.2 as a string; quote it "
         '("Y") if you mean a string, else write true'),
        ("0755", "YAML 1.1 reads it as the octal number 493, 1.2 as the number 755; "
         'quote it ("0755") if you mean a string, else write 0o755'),
        ("0789", "YAML 1.1 reads it as a string, 1.2 as the number 789; quote it "
         '("0789") if you mean a string, else write 789'),
        ("1:20", "YAML 1.1 reads it as the number 80, 1.2 as a string; quote it "
         '("1:20") if you mean a string, else write 80'),
        ("1_000", "YAML 1.1 reads it as the number 1000, 1.2 as a string; quote it "
         '("1_000") if you mean a string, else write 1000'),
        ("0b101", "YAML 1.1 reads it as the number 5, 1.2 as a string; quote it "
         '("0b101") if you mean a string, else write 5'),
        ("2024-01-31", "YAML 1.1 reads it as a date, 1.2 as a string; quote it: "
         '"2024-01-31"'),
    ],
)
def test_yaml_1_1_readings_are_ambiguous(text: str, expected: str) -> None:
    assert error(f"a: {text}\n") == f"spec.yaml:1:4: '{text}' is ambiguous: {expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!!python/object/apply:os.system ['true']",
         "YAML tag !!python/object/apply:os.system is not allowed; specs are plain "
         "data; remove the tag"),
        ("!Ref x", "YAML tag !Ref is not allowed; specs are plain data; remove the "
         "tag"),
        ("!!set {a}", "YAML tag !!set is not allowed; specs are plain data; remove "
         "the tag"),
        ("!!map x", "YAML tag !!map does not apply to this node; remove the tag"),
        ("!!int 1.5", "'1.5' does not fit its tag !!int; fix the value or remove the "
         "tag"),
    ],
    ids=["python", "custom", "set", "misplaced", "mismatch"],
)
def test_tags_beyond_the_core_schema_are_refused(text: str, expected: str) -> None:
    assert error(f"a: {text}\n") == f"spec.yaml:1:4: {expected}"


# -- anchors and merge keys ------------------------------------------------------------


def test_merge_keys_merge_with_explicit_keys_winning() -> None:
    text = (
        "base: &base {a: 1, b: 2}\nother: &other {b: 3, c: 4}\n"
        "merged:\n  <<: [*base, *other]\n  a: 0\n"
    )

    assert parsed(text).data["merged"] == {"a": 0, "b": 2, "c": 4}


def test_merged_values_keep_the_position_where_they_were_written() -> None:
    text = "base: &base\n  size: 3\nmerged:\n  <<: *base\n  own: 1\n"
    source = parsed(text).source

    assert source.values[("merged", "size")] == Location("spec.yaml", 2, 9)
    assert source.keys[("merged", "size")] == Location("spec.yaml", 2, 3)
    assert source.values[("merged", "own")] == Location("spec.yaml", 5, 8)


def test_aliased_collections_get_positions_under_their_new_path() -> None:
    source = parsed("a: &x\n  - b: 1\nc: *x\n").source

    assert source.values[("c", 0, "b")] == Location("spec.yaml", 2, 8)


@pytest.mark.parametrize("value", ["5", "[1, 2]", "[*s]"])
def test_merge_key_needs_mappings(value: str) -> None:
    assert error(f"s: &s x\nm:\n  <<: {value}\n") == (
        "spec.yaml:3:7: a merge key '<<' needs a mapping or a list of mappings; "
        "merge an anchored mapping: '<<: *defaults'"
    )


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert parsed("'<<': 1\n").data == {"<<": 1}


# -- environment references ---------------------------------------------------------


def test_env_references_are_substituted_at_load_time() -> None:
    document = parsed(
        "a: ${env.IMAGE}\nb: x-${env.MISSING:-d}-y\nc: ${env.MISSING:-}\n",
        {"IMAGE": "img:1"},
    )

    assert document.data == {"a": "img:1", "b": "x-d-y", "c": ""}


def test_env_values_are_never_read_as_references() -> None:
    document = parsed("a: ${env.TEMPLATE}\n", {"TEMPLATE": "${steps.x}"})

    assert document.data["a"] == "$${steps.x}"


def test_env_reference_errors_point_inside_the_string() -> None:
    assert error("a: 'run ${env.NOPE}'\n") == (
        "spec.yaml:1:9: environment variable NOPE is not set; set it, or give a "
        "default: ${env.NOPE:-value}"
    )


def test_unclosed_reference_points_at_its_dollar() -> None:
    assert error("a: x ${env.A\n") == (
        "spec.yaml:1:6: unclosed reference '${'; close it with '}', or write '$${' "
        "for a literal"
    )


# -- source map ------------------------------------------------------------------------


def test_locate_falls_back_to_the_closest_ancestor() -> None:
    source = parsed("a:\n  b: [1, 2]\n").source

    assert source.locate(("a", "b", 1)) == Location("spec.yaml", 2, 10)
    assert source.locate(("a", "missing", 3)) == Location("spec.yaml", 2, 3)


def test_locate_at_counts_into_single_line_strings_only() -> None:
    source = parsed("a: plain text\nb: 'quoted'\nc: |\n  block\n").source

    assert source.locate_at(("a",), 6) == Location("spec.yaml", 1, 10)
    assert source.locate_at(("b",), 2) == Location("spec.yaml", 2, 7)
    assert source.locate_at(("c",), 2) == Location("spec.yaml", 3, 4)


def test_locate_key_points_at_the_key() -> None:
    source = parsed("a:\n  b: 1\n").source

    assert source.locate_key(("a", "b")) == Location("spec.yaml", 2, 3)


def test_source_map_records_the_hash_of_the_bytes_read() -> None:
    raw = b"\xef\xbb\xbfa: 1\r\n"

    assert loads(raw, "spec.yaml", {}).source.sha256 == hashlib.sha256(raw).hexdigest()


# -- model errors --------------------------------------------------------------------


def test_model_errors_are_all_reported_with_locations(tmp_path: Path) -> None:
    text = f"{HEAD}descripton: x\ndefaults:\n  volume_size: 1.5\n{STEP}"

    assert model_errors(tmp_path, text) == [
        "spec.yaml:3:1: unknown key 'descripton'; did you mean 'description'?",
        "spec.yaml:5:16: 'volume_size' must be an integer, got 1.5; write a whole "
        "number",
    ]


def test_unknown_key_where_few_are_allowed_lists_them(tmp_path: Path) -> None:
    text = f"{HEAD}sagemaker:\n  bucket: b\n{STEP}"

    assert model_errors(tmp_path, text) == [
        "spec.yaml:4:3: unknown key 'bucket'; the keys here are region, role, "
        "s3_root, tags",
    ]


def test_condition_list_with_a_number_is_reported_once(tmp_path: Path) -> None:
    text = f"{HEAD}steps:\n  - name: g\n    condition: [1]\n"

    assert model_errors(tmp_path, text) == [
        "spec.yaml:5:17: a condition must be an expression, got 1; write a "
        "comparison such as ${params.x} > 1, or a list of them",
    ]
