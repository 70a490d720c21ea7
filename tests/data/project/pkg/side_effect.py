"""Importing this module writes a marker file: ``validate`` must never import it."""

import os
from pathlib import Path

_DEFAULT = Path(__file__).with_name("side_effect.imported")
Path(os.environ.get("YAMLPIPE_IMPORT_MARKER", _DEFAULT)).write_text("imported\n")


def run(x: int) -> int:
    return x
