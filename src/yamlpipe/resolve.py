"""Resolve a validated ``Spec`` into a ``Plan`` and run every semantic check.

Each check records a located ``SpecError`` and goes on, so that ``validate`` reports
every problem of a file at once; ``resolve`` raises them together at the end.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from yamlpipe import check, refs
from yamlpipe import plan as p
from yamlpipe import spec as s
from yamlpipe.errors import ErrorGroup, Location, SpecError, YamlpipeError, hint_for
from yamlpipe.loader import PathKey, SourceMap, load_spec

# Keys of a function step that are not ``@step`` settings.
_STEP_ONLY = {"name", "entrypoint", "inputs", "after"}
# Settings merged key by key over defaults rather than replaced.
_MERGED = {"environment_variables", "tags"}
# Settings that name files relative to the project root.
_PATHS = {"dependencies", "pre_execution_script"}
_LITERAL_HINT = (
    "references are allowed in inputs, condition and fail; write $${ for a literal"
)


def load_plan(
    spec_path: Path,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
    display: str | None = None,
) -> p.Plan:
    """Load, validate and resolve one spec file."""
    shown = display or str(spec_path)
    spec, source = load_spec(spec_path, shown, environ)
    return resolve(spec, source, (root or Path.cwd()).resolve(), spec_path)


def resolve(spec: s.Spec, source: SourceMap, root: Path, spec_path: Path) -> p.Plan:
    resolver = _Resolver(spec, source, root)
    resolver.check_top_level()
    steps = resolver.steps()
    resolver.check_graph(steps)
    upstream = resolver.upstream(steps)
    order = resolver.order(upstream)
    if resolver.errors:
        raise ErrorGroup(resolver.errors)
    return p.Plan(
        name=spec.name,
        description=refs.unescape(spec.description or ""),
        target=_target(spec.sagemaker),
        parameters=tuple(_parameter(n, v) for n, v in spec.parameters.items()),
        steps={name: steps[name] for name in order},
        upstream={name: upstream[name] for name in order},
        branch=resolver.branch,
        spec_path=spec_path.resolve(),
        root=root,
        spec_sha256=source.sha256,
        where=_top_level_where(source),
    )


def _top_level_where(source: SourceMap) -> dict[str, Location]:
    """Locations of the pipeline-level keys: a missing leaf is reported at its
    parent key (``sagemaker:``), where it would be added."""
    places = {
        "name": source.keys.get(("name",)),
        "sagemaker": source.keys.get(("sagemaker",)),
        "description": source.values.get(("description",)),
    }
    for key in ("region", "role", "s3_root", "tags"):
        places[f"sagemaker.{key}"] = source.values.get(("sagemaker", key))
    return {key: loc for key, loc in places.items() if loc is not None}


def _dump(
    model: BaseModel, exclude: Collection[str] = (), keep_none: bool = False
) -> dict[str, Any]:
    """A model's fields as plain data, like ``model_dump`` but without building
    the model's serializer: the models defer their build, and validating a spec
    builds only ``Spec`` (a noticeable part of ``validate``'s start-up)."""
    fields = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name not in exclude and (keep_none or value is not None):
            fields[name] = _plain(value)
    return fields


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _dump(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _target(target: s.SageMakerTarget) -> p.Target:
    fields = _unescape(_dump(target, keep_none=True))
    return p.Target(
        fields["region"], fields["role"], fields["s3_root"], fields["tags"] or {}
    )


def _parameter(name: str, param: s.AnyParameter) -> p.Parameter:
    return p.Parameter(
        name, param.type, _unescape(param.default), _unescape(param.description)
    )


@dataclass(frozen=True)
class _Use:
    """A reference as written: the document path of its string and its offset."""

    ref: p.Ref
    where: PathKey
    offset: int


class _Resolver:
    def __init__(self, spec: s.Spec, source: SourceMap, root: Path) -> None:
        self.spec = spec
        self.source = source
        self.root = root
        self.errors: list[YamlpipeError] = []
        self.index: dict[str, int] = {}
        self.branch: dict[str, tuple[str, p.Branch]] = {}
        self.shapes: dict[str, check.Shape | None] = {}
        self.uses: dict[str, list[_Use]] = {}
        self.defaults = _unescape(_dump(spec.defaults))

    def error(self, message: str, hint: str, loc: Location) -> None:
        self.errors.append(SpecError(message, hint, loc))

    def at(self, *path: int | str) -> Location:
        return self.source.locate(path)

    # -- literal values ---------------------------------------------------------

    def check_top_level(self) -> None:
        """Everything outside the steps takes literal values only."""
        spec = self.spec
        self.literal(spec.description, ("description",), "description")
        for key, value in _dump(spec.sagemaker).items():
            self.literal(value, ("sagemaker", key), key)
        for name, param in spec.parameters.items():
            for key in ("default", "description"):
                self.literal(getattr(param, key), ("parameters", name, key), key)
        for key, value in _dump(spec.defaults).items():
            self.literal(value, ("defaults", key), key)
        self.check_settings(spec.defaults, ("defaults",))

    def literal(self, value: Any, where: PathKey, key: str) -> None:
        """Report references in a value that takes none."""
        for path, text in _strings(value, where):
            if refs.has_reference(text):
                self.error(
                    f"reference in '{key}', which takes only literal values",
                    _LITERAL_HINT,
                    self.source.locate(path),
                )

    # -- steps ----------------------------------------------------------------

    def steps(self) -> dict[str, p.Step]:
        for i, step in enumerate(self.spec.steps):
            if step.name in self.index:
                first = self.at("steps", self.index[step.name], "name").line
                self.error(
                    f"duplicate step name '{step.name}' (first at line {first})",
                    "step names must be unique; rename one",
                    self.at("steps", i, "name"),
                )
                continue
            self.index[step.name] = i
        built = {}
        for name, i in self.index.items():
            self.uses[name] = []
            built[name] = self.step(self.spec.steps[i], i)
        return built

    def step(self, step: s.AnyStep, i: int) -> p.Step:
        common: dict[str, Any] = {
            "name": step.name,
            "after": tuple(step.after),
            "location": self.at("steps", i),
            "where": self.where(i),
        }
        if isinstance(step, s.FunctionStep):
            return self.function_step(step, i, common)
        for key in ("display_name", "description"):
            self.literal(getattr(step, key), ("steps", i, key), key)
        text = refs.unescape(step.description or "")
        display = refs.unescape(step.display_name or step.name)
        if isinstance(step, s.ConditionStep):
            return p.ConditionStep(
                conditions=self.conditions(step, i),
                then=tuple(step.then),
                else_=tuple(step.else_),
                display_name=display,
                description=text,
                **common,
            )
        assert isinstance(step, s.FailStep)
        return p.FailStep(
            message=self.message(step, ("steps", i, "fail")),
            display_name=display,
            description=text,
            **common,
        )

    def where(self, i: int) -> dict[str, Location]:
        step_map = self.spec.steps[i]
        where = {}
        for key in type(step_map).model_fields:
            alias = "else" if key == "else_" else key
            found = self.source.values.get(("steps", i, alias))
            if found is not None:
                where[alias] = found
        for key in step_map.inputs if isinstance(step_map, s.FunctionStep) else ():
            where[f"inputs.{key}"] = self.at("steps", i, "inputs", key)
        return where

    def function_step(
        self, step: s.FunctionStep, i: int, common: dict[str, Any]
    ) -> p.FunctionStep:
        module, _, function = step.entrypoint.rpartition(":")
        source, signature = self.signature(step, i, module, function)
        settings = self.settings(step, i)
        settings.setdefault("display_name", step.name)
        doc = signature.doc if signature else None
        settings.setdefault("description", doc or step.entrypoint)
        where = dict(common["where"])
        for key in settings:
            if key not in where and key in self.spec.defaults.model_fields_set:
                where[key] = self.at("defaults", key)
        inputs = {
            key: self.input(value, ("steps", i, "inputs", key), step.name)
            for key, value in step.inputs.items()
        }
        if signature is not None:
            self.check_inputs(step, i, signature)
            self.shapes[step.name] = signature.returns
        return p.FunctionStep(
            module=module,
            function=function,
            source=source or self.root / module,
            inputs=inputs,
            settings=settings,
            **{**common, "where": where},
        )

    def settings(self, step: s.FunctionStep, i: int) -> dict[str, Any]:
        """The step's own settings over the defaults (checked once, up front)."""
        own = _dump(step, exclude=_STEP_ONLY)
        for key, value in own.items():
            self.literal(value, ("steps", i, key), key)
        own = _unescape(own)
        merged = {**self.defaults, **own}
        for key in _MERGED & self.defaults.keys() & own.keys():
            merged[key] = {**self.defaults[key], **own[key]}
        for key in _PATHS & merged.keys():
            merged[key] = str((self.root / merged[key]).resolve())
        self.check_settings(step, ("steps", i))
        return merged

    def check_settings(self, settings: s.Settings, where: PathKey) -> None:
        """Rules of values that a step or the defaults set themselves."""
        count = settings.instance_count
        if count is not None and count > 1:
            self.error(
                f"instance_count is {count}; a function step runs on one instance",
                "the SDK allows more only for Spark jobs; remove instance_count",
                self.at(*where, "instance_count"),
            )
        for j, policy in enumerate(settings.retry_policies or ()):
            self.check_policy(policy, (*where, "retry_policies", j))

    def check_policy(self, policy: s.RetryPolicy, where: PathKey) -> None:
        kinds = {t.split(".")[0] for t in policy.exception_types}
        if len(kinds) > 1:
            self.error(
                "a retry policy mixes Step.* and SageMaker.* exception types",
                "split it into two policies, one of each kind",
                self.at(*where, "exception_types"),
            )
        if policy.max_attempts is not None and policy.expire_after_mins is not None:
            self.error(
                "a retry policy has both max_attempts and expire_after_mins",
                "SageMaker takes one of them; keep one",
                self.at(*where, "expire_after_mins"),
            )

    # -- references -------------------------------------------------------------

    def input(self, value: Any, where: PathKey, owner: str) -> Any:
        if not isinstance(value, str):
            self.check_nested(value, where)
            return _unescape(value)
        try:
            parsed = refs.parse_value(value)
        except refs.GrammarError as exc:
            self.grammar_error(exc, where)
            return None
        if isinstance(parsed, (p.StepRef, p.ParamRef, p.ExecutionRef)):
            self.use(owner, _Use(parsed, where, 0))
        return parsed

    def check_nested(self, value: Any, where: PathKey) -> None:
        for path, text in _strings(value, where):
            if refs.has_reference(text):
                self.error(
                    "reference nested inside a list or mapping",
                    "SageMaker cannot serialise pipeline variables inside "
                    "containers; pass it as an input of its own",
                    self.source.locate(path),
                )

    def message(self, step: s.FailStep, where: PathKey) -> tuple[str | p.Ref, ...]:
        try:
            parts, found = refs.parse_message_located(step.fail)
        except refs.GrammarError as exc:
            self.grammar_error(exc, where)
            return (step.fail,)
        for located in found:
            self.use(step.name, _Use(located.ref, where, located.offset))
        return parts

    def conditions(self, step: s.ConditionStep, i: int) -> tuple[p.Expr, ...]:
        single = isinstance(step.condition, str)
        texts = [step.condition] if isinstance(step.condition, str) else step.condition
        exprs = []
        for j, text in enumerate(texts):
            where: PathKey = ("steps", i, "condition") + (() if single else (j,))
            try:
                expr, found = refs.parse_condition_located(text)
            except refs.GrammarError as exc:
                self.grammar_error(exc, where)
                continue
            for located in found:
                self.use(step.name, _Use(located.ref, where, located.offset))
            exprs.append(expr)
        return tuple(exprs)

    def grammar_error(self, exc: refs.GrammarError, where: PathKey) -> None:
        self.error(exc.message, exc.hint, self.source.locate_at(where, exc.offset))

    def use(self, owner: str, use: _Use) -> None:
        """Record a reference of step ``owner`` and check what it names."""
        self.uses[owner].append(use)
        loc = self.source.locate_at(use.where, use.offset)
        ref = use.ref
        if isinstance(ref, p.ParamRef) and ref.name not in self.spec.parameters:
            self.error(
                f"unknown parameter '{ref.name}'",
                hint_for(ref.name, self.spec.parameters, "declare it under "
                         "parameters:"),
                loc,
            )
        if isinstance(ref, p.StepRef):
            self.check_step_ref(ref, owner, loc)

    def check_step_ref(self, ref: p.StepRef, owner: str, loc: Location) -> None:
        if ref.step not in self.index:
            self.error(
                f"unknown step '{ref.step}'",
                hint_for(ref.step, self.index, self.step_names()),
                loc,
            )
        elif ref.step == owner:
            self.error(
                f"step '{owner}' uses its own output",
                "a step cannot depend on itself; reference another step",
                loc,
            )
        elif not isinstance(self.spec.steps[self.index[ref.step]], s.FunctionStep):
            target = self.spec.steps[self.index[ref.step]]
            kind = "condition" if isinstance(target, s.ConditionStep) else "fail"
            self.error(
                f"step '{ref.step}' is a {kind} step and has no output",
                "reference a function step",
                loc,
            )

    def step_names(self) -> str:
        """What to say when a step name is not even close to a real one."""
        if len(self.index) > 8:
            return "check the step names"
        return "the steps are " + ", ".join(sorted(self.index))

    def step_uses(self, name: str) -> Iterator[tuple[p.StepRef, Location]]:
        """The step references of step ``name`` and where each is written."""
        for use in self.uses.get(name, ()):
            if isinstance(use.ref, p.StepRef):
                yield use.ref, self.source.locate_at(use.where, use.offset)

    # -- graph ----------------------------------------------------------------

    def check_graph(self, steps: dict[str, p.Step]) -> None:
        for name, step in steps.items():
            i = self.index[name]
            self.check_names(step.after, ("steps", i, "after"), name)
            if isinstance(step, p.ConditionStep):
                self.claim(step, i, "then", step.then)
                self.claim(step, i, "else", step.else_)
        self.check_indexes(steps)
        self.check_crossed_branches(steps)

    def check_names(self, names: Iterable[str], where: PathKey, owner: str) -> None:
        for j, name in enumerate(names):
            loc = self.at(*where, j)
            if name not in self.index:
                self.error(
                    f"unknown step '{name}'",
                    hint_for(name, self.index, self.step_names()),
                    loc,
                )
            elif name == owner:
                self.error(f"step '{name}' names itself", "remove it", loc)

    def claim(self, step: p.ConditionStep, i: int, branch: p.Branch,
              names: tuple[str, ...]) -> None:
        self.check_names(names, ("steps", i, branch), step.name)
        for j, name in enumerate(names):
            if name not in self.index or name == step.name:
                continue
            if name in self.branch:
                owner, side = self.branch[name]
                self.error(
                    f"step '{name}' is already in the {side} branch of '{owner}'",
                    "a step belongs to one branch; remove one of the claims",
                    self.at("steps", i, branch, j),
                )
                continue
            self.branch[name] = (step.name, branch)

    def check_indexes(self, steps: dict[str, p.Step]) -> None:
        for name in steps:
            for ref, loc in self.step_uses(name):
                if ref.step not in self.shapes or not ref.path:
                    continue
                problem = check.index_problem(self.shapes[ref.step], ref.path)
                if problem:
                    self.error(f"{ref}: {problem.message}", problem.hint, loc)

    def check_crossed_branches(self, steps: dict[str, p.Step]) -> None:
        for name in steps:
            if name not in self.branch:
                continue
            owner, side = self.branch[name]
            for ref, loc in self.step_uses(name):
                other = self.branch.get(ref.step)
                if other and other[0] == owner and other[1] != side:
                    self.error(
                        f"step '{name}' runs in the {side} branch of '{owner}' but "
                        f"uses '{ref.step}' from its {other[1]} branch",
                        "only one branch runs; move one of the steps",
                        loc,
                    )

    def upstream(self, steps: dict[str, p.Step]) -> dict[str, tuple[str, ...]]:
        edges = {}
        for name, step in steps.items():
            deps = {ref.step for ref, _ in self.step_uses(name)}
            deps.update(step.after)
            if name in self.branch:
                deps.add(self.branch[name][0])
            edges[name] = tuple(sorted(d for d in deps if d in steps and d != name))
        return edges

    def order(self, upstream: Mapping[str, tuple[str, ...]]) -> list[str]:
        """Topological order, ties broken by name; a cycle is an error."""
        waiting = {name: len(deps) for name, deps in upstream.items()}
        downstream: dict[str, list[str]] = {name: [] for name in upstream}
        for name, deps in upstream.items():
            for dep in deps:
                downstream[dep].append(name)
        ready = [name for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            name = heapq.heappop(ready)
            order.append(name)
            for child in downstream[name]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, child)
        if len(order) < len(upstream):
            self.report_cycle(upstream, set(upstream) - set(order))
        return order

    def report_cycle(self, upstream: Mapping[str, tuple[str, ...]],
                     stuck: set[str]) -> None:
        cycle = _find_cycle(upstream, stuck)
        self.error(
            f"dependency cycle: {' -> '.join(cycle)}",
            "a step cannot depend on itself; remove one of these references",
            self.at("steps", self.index[cycle[0]], "name"),
        )

    # -- signatures -----------------------------------------------------------

    def signature(
        self, step: s.FunctionStep, i: int, module: str, function: str
    ) -> tuple[Path | None, check.Signature | None]:
        loc = self.at("steps", i, "entrypoint")
        try:
            source = check.find_source(module, self.root)
            return source, check.read_signature(source, function)
        except check.ModuleNotFound as exc:
            what = "file" if module.endswith(".py") else "module"
            self.error(
                f"cannot find {what} '{module}' under {self.root_label()}",
                hint_for(module, exc.candidates, "entrypoints resolve from the "
                         "project root; check the path or pass --root"),
                loc,
            )
        except check.FunctionNotFound as exc:
            self.error(
                f"'{module}' has no function '{function}'",
                hint_for(function, exc.names, "define it at the module's top level"),
                self.source.locate_at(("steps", i, "entrypoint"), len(module) + 1),
            )
        except check.SourceSyntaxError as exc:
            self.error(
                f"cannot parse {_shown(exc.path)}:{exc.line}: {exc.reason}",
                "fix the syntax error in the step's source",
                loc,
            )
        return None, None

    def root_label(self) -> str:
        if self.root == Path.cwd().resolve():
            return "the project root"
        return _shown(self.root)

    def check_inputs(self, step: s.FunctionStep, i: int, sig: check.Signature) -> None:
        if sig.params is None:
            return
        named = {p.name: p for p in sig.params if p.kind not in _VARIADIC}
        for key in step.inputs:
            self.check_input(step, i, sig, named.get(key), key)
        for param in named.values():
            if param.required and param.name not in step.inputs:
                where = ("steps", i, "inputs") if step.inputs else ("steps", i)
                self.error(
                    f"{step.entrypoint} needs input '{param.name}'",
                    f"add it under inputs: ({param.name}: ...)",
                    self.source.locate_key(where),
                )

    def check_input(
        self, step: s.FunctionStep, i: int, sig: check.Signature,
        param: check.Param | None, key: str,
    ) -> None:
        loc = self.source.locate_key(("steps", i, "inputs", key))
        if param is None and not sig.takes_any_keyword:
            names = [p.name for p in sig.params or () if p.kind not in _VARIADIC]
            self.error(
                f"{step.entrypoint} takes no parameter '{key}'",
                hint_for(key, names, f"it takes {_param_list(sig)}"),
                loc,
            )
        elif param is not None and param.kind == "positional_only":
            self.error(
                f"parameter '{key}' of {step.entrypoint} is positional-only",
                "yamlpipe passes inputs by name; drop the '/' from the signature",
                loc,
            )


_VARIADIC = {"var_positional", "var_keyword"}


def _param_list(sig: check.Signature) -> str:
    names = [p.name for p in sig.params or () if p.kind not in _VARIADIC]
    return "(" + ", ".join(names) + ")" if names else "no parameters"


def _shown(path: Path) -> str:
    """A path as a user would type it: relative to here when it is below here."""
    try:
        return str(path.relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)


def _strings(value: Any, where: PathKey) -> Iterator[tuple[PathKey, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, where + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, where + (index,))


def _unescape(value: Any) -> Any:
    if isinstance(value, str):
        return refs.unescape(value)
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


def _find_cycle(upstream: Mapping[str, tuple[str, ...]], stuck: set[str]) -> list[str]:
    """One cycle among ``stuck`` steps, starting from the smallest name."""
    start = min(stuck)
    path = [start]
    seen = {start: 0}
    current = start
    while True:
        current = min(d for d in upstream[current] if d in stuck)
        if current in seen:
            cycle = path[seen[current]:] + [current]
            break
        seen[current] = len(path)
        path.append(current)
    # Report in data-flow order (producer -> consumer) from the smallest name.
    cycle = list(reversed(cycle))
    low = cycle[:-1].index(min(cycle[:-1]))
    rotated = cycle[low:-1] + cycle[:low]
    return rotated + [rotated[0]]
