"""Whatever the loader is fed, it answers with a located error or a plan.

Replays the fuzzer's seed corpus and every crash it ever found (tests/fuzz/), and
checks the same contract on generated and mutated specs with hypothesis.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import oracle
from tests.conftest import REPO

FUZZ = REPO / "tests" / "fuzz"
REPLAY = sorted(p for p in (FUZZ / "crashes").iterdir() if p.name != ".keep")
SEEDS = sorted((FUZZ / "corpus").iterdir())


@pytest.mark.parametrize("case", REPLAY, ids=lambda p: p.name)
def test_fuzzer_crash_is_now_a_located_error(case: Path) -> None:
    oracle.check(case.read_bytes())


def test_seed_corpus_keeps_the_contract() -> None:
    outcomes = {oracle.check(seed.read_bytes()) for seed in SEEDS}
    assert outcomes == {"ok", "error"}


BASE = (REPO / "tests" / "data" / "valid" / "reference_forms.yaml").read_bytes()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid spec with bytes inserted, deleted or replaced at random places."""
    seeds = [BASE, *[s.read_bytes() for s in SEEDS[:20]]]
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        chunk = draw(st.one_of(
            st.binary(max_size=4),
            st.sampled_from([b"${", b"}", b"[", b": ", b"\n  ", b"- ", b"&a", b"*a",
                             b"<<: ", b"'", b'"', b"\t", b"#", b"---\n", b"!!",
                             b"\xff"]),
        ))
        if action == "insert":
            data[where:where] = chunk
        elif action == "delete":
            del data[where:where + len(chunk)]
        else:
            data[where:where + len(chunk)] = chunk
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_give_a_plan_or_located_errors(raw: bytes) -> None:
    oracle.check(raw)


spec_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["${steps.a}", "${params.p}", "${execution.id}", "$${x}",
                       "${env.NOPE}", "m:f", "ml.m5.large"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["name", "entrypoint", "inputs", "steps",
                                       "condition", "fail", "then", "else", "after",
                                       "version", "type", "default", "x"]),
                      inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_values)
def test_generated_documents_give_a_plan_or_located_errors(value: object) -> None:
    document = {"version": 1, "name": "p", "steps": value}
    oracle.check(yaml.safe_dump(document).encode())


def test_validating_2000_steps_stays_under_200_mb(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from validate_speed import write_project
    finally:
        sys.path.pop(0)
    spec = write_project(tmp_path, 2000)
    code = (
        "import sys\n"
        "from yamlpipe.cli import main\n"
        "try:\n    main(['validate', sys.argv[1]])\nexcept SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        # VmHWM resets at exec; ru_maxrss would carry the forking parent's peak.
        "print(next(line.split()[1] for line in open('/proc/self/status')\n"
        "           if line.startswith('VmHWM:')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, spec.name], cwd=tmp_path,
                         check=True, capture_output=True, text=True).stdout
    peak_mb = int(out.splitlines()[-1]) / 1024
    assert peak_mb < 200
