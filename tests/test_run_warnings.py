"""What a local run reports up front as behaving differently on SageMaker."""

from __future__ import annotations

import os
import platform
from importlib.metadata import version
from pathlib import Path

import pytest

from yamlpipe._differences import local_differences, requirement_problem
from yamlpipe.resolve import load_plan

TESTS = Path(__file__).resolve().parent
GOLDEN = TESTS / "golden"


def test_warnings_name_ignored_settings_packages_and_job_environment(
    in_repo, monkeypatch
):
    monkeypatch.delenv("YAMLPIPE_RUN_TEST_VARIABLE", raising=False)
    monkeypatch.setenv("HOME", "/somewhere")
    plan = load_plan(Path("tests/runsteps/warnings.yaml"), TESTS)

    text = "".join(w.render() + "\n" for w in local_differences(plan))
    # Golden across environments: the versions found here vary.
    text = text.replace(platform.python_version(), "<python>")
    text = text.replace(f"pytest {version('pytest')}", "pytest <pytest>")

    golden = GOLDEN / "run.warnings.txt"
    if os.environ.get("YAMLPIPE_REGEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_every_warning_is_of_kind_warning(in_repo):
    plan = load_plan(Path("tests/runsteps/warnings.yaml"), TESTS)

    kinds = {w.as_dict()["kind"] for w in local_differences(plan)}

    assert kinds == {"LocalDifference"}
    assert {w.kind for w in local_differences(plan)} == {"warning"}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("pytest", None),
        ("pytest>=1.0,<1000", None),
        ("pytest[testing] >= 1 ; python_version < '3'", None),
        ("PyTest==99.*", "PyTest==99.*: PyTest {v} is installed here"),
        ("pytest<1", "pytest<1: pytest {v} is installed here"),
        ("pytest~=1.2", "pytest~=1.2: pytest {v} is installed here"),
        ("pytest!={v}", "pytest!={v}: pytest {v} is installed here"),
        ("no-such-package-for-yamlpipe==1", "no-such-package-for-yamlpipe==1: "
         "no-such-package-for-yamlpipe is not installed here"),
        ("# a comment", None),
        ("-r other.txt", None),
        ("--index-url https://example.org/simple", None),
        ("git+https://example.org/repo.git", None),
        ("", None),
    ],
)
def test_requirement_lines_are_judged_only_when_readable(line, problem):
    v = version("pytest")

    found = requirement_problem(line.format(v=v))

    assert found == (problem.format(v=v) if problem else None)
