"""Hand-written ``@step`` scripts, one per compile test spec, as users write them.

Each module has ``pipeline(session, requirements) -> Pipeline``: the same pipeline as
its spec, with explicit names, display names and descriptions, the step code
registered for pickling by value, and ``requirements`` (a copy the test makes, so
that SDK v2 appends its pin there and not to the repository's file).
"""
