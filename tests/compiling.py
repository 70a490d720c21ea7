"""What the compile tests share: the specs, one compile call, and build comparisons.

The compile test specs live in tests/specs/ with their step code (``demo_steps``)
and use that directory as the project root; specs/churn.yaml uses the repository.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from yamlpipe.compile import BUILD_TIME, CompileResult, compile_plan
from yamlpipe.plan import Plan
from yamlpipe.resolve import load_plan

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "tests" / "specs"

# spec file -> (project root, hand-written module in tests/handwritten)
CASES = {
    "churn": (REPO / "specs" / "churn.yaml", REPO, "churn"),
    "branches": (SPECS / "branches.yaml", SPECS, "branch_gate"),
    "fanin": (SPECS / "fanin.yaml", SPECS, "fan_in"),
    "kinds": (SPECS / "kinds.yaml", SPECS, "every_kind"),
}


def plan_of(case: str) -> Plan:
    spec, root, _ = CASES[case]
    return load_plan(spec, root, display=spec.relative_to(REPO).as_posix())


def compile_case(case: str, out: Path, **options: Any) -> CompileResult:
    return compile_plan(plan_of(case), out, **options)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def normalized_artifacts(build: Path) -> dict[str, Any]:
    """Each artifact by its path with the build time replaced, with its content.

    Payloads and scripts compare by bytes; ``metadata.json`` by its fields less
    the signature, which v3 makes with a key drawn anew for each compile.
    """
    manifest = read_json(build / "manifest.json")
    time = manifest["build_time"]
    found: dict[str, Any] = {}
    for artifact in manifest["artifacts"]:
        path = artifact["path"].replace(time, BUILD_TIME) if time else artifact["path"]
        body = (build / artifact["path"]).read_bytes()
        if path.endswith("/metadata.json"):
            fields = json.loads(body)
            fields.pop("asymmetric_signature", None)
            found[path] = fields
        else:
            found[path] = body
    return found


def requirements_copy(tmp: Path, source: Path) -> str:
    """A copy named requirements.txt, for the SDK to append to (v2) instead of ours."""
    copy = tmp / "handwritten-requirements" / "requirements.txt"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, copy)
    return str(copy)
