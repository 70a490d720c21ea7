"""A step given by file path: scripts/helper.py:double."""


def double(x: int) -> int:
    return 2 * x
