"""Draw a plan's DAG as Mermaid, Graphviz dot, plain text or JSON.

Edges carry their meaning: ``data`` (a step reference), ``after`` (ordering only),
and ``then`` / ``else`` (a condition's branches). Output is in topological order
with a name tie-break, so it diffs cleanly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from yamlpipe import plan as p
from yamlpipe import refs

Format = Literal["mermaid", "dot", "text", "json"]
FORMATS: tuple[str, ...] = ("mermaid", "dot", "text", "json")


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    kind: str  # data, after, then, else


def edges(plan: p.Plan) -> list[Edge]:
    found: set[Edge] = set()
    for name, step in plan.steps.items():
        for dep in _data_sources(step):
            found.add(Edge(dep, name, "data"))
        for dep in step.after:
            found.add(Edge(dep, name, "after"))
        if isinstance(step, p.ConditionStep):
            found.update(Edge(name, t, "then") for t in step.then)
            found.update(Edge(name, t, "else") for t in step.else_)
    position = {name: i for i, name in enumerate(plan.steps)}
    return sorted(found, key=lambda e: (position[e.target], position[e.source], e.kind))


def _data_sources(step: p.Step) -> set[str]:
    if isinstance(step, p.FunctionStep):
        values = list(step.inputs.values())
    elif isinstance(step, p.ConditionStep):
        values = [r for expr in step.conditions for r in refs.walk_refs(expr)]
    else:
        values = list(step.message)
    return {v.step for v in values if isinstance(v, p.StepRef)}


def render(plan: p.Plan, fmt: Format) -> str:
    return {"mermaid": mermaid, "dot": dot, "text": text, "json": as_json}[fmt](plan)


def _label(step: p.Step) -> str:
    if isinstance(step, p.FunctionStep):
        return f"{step.name}\\n{step.entrypoint}"
    if isinstance(step, p.ConditionStep):
        return f"{step.name}?"
    return f"{step.name} (fail)"


def _mermaid_id(name: str) -> str:
    return "s_" + name.replace("-", "_")


def mermaid(plan: p.Plan) -> str:
    lines = ["flowchart TD"]
    for step in plan.steps.values():
        ident, label = _mermaid_id(step.name), _label(step).replace("\\n", "<br/>")
        shape = {"function": '["{}"]', "condition": '{{"{}"}}', "fail": '(["{}"])'}
        lines.append(f"    {ident}{shape[step.kind].format(label)}")
    arrows = {"data": "-->", "after": "-.->", "then": "-->|then|", "else": "-->|else|"}
    for edge in edges(plan):
        arrow = arrows[edge.kind]
        source, target = _mermaid_id(edge.source), _mermaid_id(edge.target)
        lines.append(f"    {source} {arrow} {target}")
    return "\n".join(lines) + "\n"


def dot(plan: p.Plan) -> str:
    shapes = {"function": "box", "condition": "diamond", "fail": "octagon"}
    lines = [f'digraph "{plan.name}" {{', "    rankdir=TB;"]
    for step in plan.steps.values():
        lines.append(
            f'    "{step.name}" [shape={shapes[step.kind]}, label="{_label(step)}"];'
        )
    for edge in edges(plan):
        attrs = {"data": "", "after": " [style=dashed]",
                 "then": ' [label="then"]', "else": ' [label="else"]'}[edge.kind]
        lines.append(f'    "{edge.source}" -> "{edge.target}"{attrs};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def text(plan: p.Plan) -> str:
    lines = [f"{plan.name}: {len(plan.steps)} steps"]
    incoming: dict[str, list[Edge]] = {name: [] for name in plan.steps}
    for edge in edges(plan):
        incoming[edge.target].append(edge)
    for name, step in plan.steps.items():
        lines.append(f"  {name} [{_describe(step)}]")
        for edge in incoming[name]:
            lines.append(f"      <- {edge.source} ({edge.kind})")
    return "\n".join(lines) + "\n"


def _describe(step: p.Step) -> str:
    if isinstance(step, p.FunctionStep):
        return step.entrypoint
    if isinstance(step, p.ConditionStep):
        return "condition"
    return "fail"


def as_json(plan: p.Plan) -> str:
    document = {
        "pipeline": plan.name,
        "steps": [
            {"name": name, "kind": step.kind, "upstream": list(plan.upstream[name]),
             **({"entrypoint": step.entrypoint}
                if isinstance(step, p.FunctionStep) else {}),
             **({"branch": list(plan.branch[name])} if name in plan.branch else {})}
            for name, step in plan.steps.items()
        ],
        "edges": [
            {"from": e.source, "to": e.target, "kind": e.kind} for e in edges(plan)
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
