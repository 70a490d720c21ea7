"""A step whose module cannot be imported where it runs."""

import yamlpipe_no_such_module  # noqa: F401


def step() -> int:
    return 1
