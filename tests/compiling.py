"""What the compile tests share: the specs, one compile call, and build comparisons.

The compile test specs live in tests/specs/ with their step code (``demo_steps``)
and use that directory as the project root; specs/churn.yaml uses the repository.
Each has a hand-written twin in tests/handwritten/.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yamlpipe.compile import BUILD_TIME, CompileResult, build_times, compile_plan
from yamlpipe.plan import Plan
from yamlpipe.resolve import load_plan

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "tests" / "specs"

# case -> (spec file, project root, module in tests/handwritten)
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


@dataclass(frozen=True)
class HandWritten:
    """What the hand-written script gave: its definition and uploaded objects."""

    definition: dict[str, Any]
    artifacts: Path
    keys: list[str]


def hand_written(case: str, tmp: Path) -> HandWritten:
    """Run the case's hand-written script with the plain offline session.

    The session is the one the SDK gets in any hand-written script (uploads go
    through boto3's transfer manager, answered locally); only the requirements file
    is a copy, so that SDK v2 appends its pin there.
    """
    from yamlpipe import sagemaker

    plan = plan_of(case)
    bucket, prefix = sagemaker.split_s3_uri(str(plan.target.s3_root))
    store = sagemaker.LocalS3(tmp / "hand-written")
    session = sagemaker.offline_session(str(plan.target.region), bucket, prefix, store)
    dependencies = next(iter(plan.function_steps())).settings["dependencies"]
    requirements = _requirements_copy(tmp, Path(dependencies))
    sys.path.insert(0, str(SPECS))
    try:
        module = importlib.import_module(f"tests.handwritten.{CASES[case][2]}")
        with sagemaker.quiet(), sagemaker.no_sdk_config():
            text = module.pipeline(session, requirements).definition()
    finally:
        sys.path.remove(str(SPECS))
    return HandWritten(json.loads(text), tmp / "hand-written", sorted(store.objects))


def _requirements_copy(tmp: Path, source: Path) -> str:
    copy = tmp / "hand-written-requirements" / "requirements.txt"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, copy)
    return str(copy)


# cloudpickle names each class it pickles by value with a uuid4 hex (a pickled
# 32-character string); yamlpipe pins them, a hand-written script does not.
CLASS_TRACKER = re.compile(rb"\x8c\x20[0-9a-f]{32}")


def build_artifacts(build: Path, *, trackers: bool = False) -> dict[str, Any]:
    """A build's artifacts, normalised (see ``normalized_objects``)."""
    manifest = read_json(build / "manifest.json")
    keys = [a["path"].removeprefix("artifacts/") for a in manifest["artifacts"]]
    time = manifest["build_time"]
    return normalized_objects(build / "artifacts", keys, time, trackers=trackers)


def hand_written_artifacts(made: HandWritten) -> dict[str, Any]:
    time = next(iter(build_times(made.definition)), None)
    return normalized_objects(made.artifacts, made.keys, time, trackers=True)


def normalized_objects(
    root: Path, keys: list[str], time: str | None, *, trackers: bool = False
) -> dict[str, Any]:
    """Each object by its key with the build time replaced, with its content.

    Payloads and scripts compare by bytes; ``metadata.json`` by its fields less the
    signature, which v3 makes with a key drawn anew for each compile. With
    ``trackers``, class tracker ids in payloads are blanked, and so the payload
    hashes in ``metadata.json``.
    """
    found: dict[str, Any] = {}
    for key in keys:
        body = (root / key).read_bytes()
        name = key.replace(time, BUILD_TIME) if time else key
        if name.endswith("/metadata.json"):
            fields = json.loads(body)
            fields.pop("asymmetric_signature", None)
            if trackers:
                fields.pop("sha256_hash")
            found[name] = fields
        elif trackers and name.endswith(".pkl"):
            found[name] = CLASS_TRACKER.sub(b"\x8c\x20" + b"-" * 32, body)
        else:
            found[name] = body
    return found
