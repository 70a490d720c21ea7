"""A step that returns a list: indexes into it must be integers."""


def rows(count: int) -> list[dict[str, int]]:
    return [{"row": i} for i in range(count)]


def total(value: int) -> int:
    return value
