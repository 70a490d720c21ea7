"""Coverage-guided fuzzing of the spec loader with atheris.

    make fuzz FUZZ_SECONDS=600

Every input goes through load, validate and resolve (tests/oracle.py); anything but
a located ``YamlpipeError`` is a crash, saved under tests/fuzz/crashes/ and then
replayed by tests/test_hostile.py as a regression test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

with atheris.instrument_imports(include=["yamlpipe"]):
    from tests.oracle import check


def test_one_input(data: bytes) -> None:
    check(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
