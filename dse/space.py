"""Design spaces: a YAML file of parameters, constraints and objectives over a base device.

```yaml
name: fpga-moe-kernel
workload: {model: mixtral-8x7b, phase: decode, batch: 32, context: 2048}
base_device: alveo-u280          # catalog name or a .yaml path (relative to this file)
domain: fpga-kernel              # optional: the evaluator adapter; default from the device kind
parameters:
  - {name: pe_rows, values: [4, 8, 16, 32], agent: compute}
  - {name: buffer_kib, range: {min: 64, max: 4096, log2_step: 1}, agent: memory}
  - {name: hbm_gb, target: device.memory.hbm.capacity, values: ["8 GB", "16 GB"], agent: memory}
fixed: {dtype: int8}             # optional: knob/workload values every design shares
constraints: ["dsp <= 9024"]
objectives: [{metric: latency_s, goal: min}, {metric: energy_j, goal: min}]
evaluator: archmodel
```

A parameter maps onto a workload field (``model phase batch context output``), a knob of the
domain's adapter, or a device field (``target: device.<path>``; see ``dse.overrides``). Without a
``target`` the name decides, in that order. Numeric values are sorted ascending (agents treat
them as ordinal); ``range`` expands ``min * 2**(log2_step*i)`` or ``min + step*i`` up to ``max``.
A design is a tuple of value indices, one per parameter, in file order.

Everything is checked on load; a problem raises one ConfigError naming the file, the field, the
value and what is allowed.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from archmodel.workloads import load_workload

from .constraints import Constraint, load_constraint
from .evaluators import adapter_for, default_domain, list_domains
from .evaluators.base import PHASES, WORKLOAD_FIELDS, Context, Scalar, Settings, WorkloadSpec
from .overrides import OverrideError, check_path

Design = tuple[int, ...]

NAME_RE: Final = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
IDENT_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TOP_KEYS: Final = ("name", "description", "workload", "base_device", "domain", "parameters", "fixed",
                   "constraints", "objectives", "evaluator")
PARAM_KEYS: Final = ("name", "values", "range", "agent", "target")
EVALUATORS: Final = ("archmodel",)
PLANNED_EVALUATORS: Final = ("rtl",)
MAX_VALUES: Final = 10_000
DEFAULT_GROUP: Final = "default"


@dataclass(frozen=True)
class Parameter:
    """One axis of the space. ``target`` is ``workload``, ``knob`` or ``device``; ``path`` is the
    workload field, knob name or dotted device path it sets."""

    name: str
    values: tuple[Scalar, ...]
    agent: str
    target: Literal["workload", "knob", "device"]
    path: str

    @property
    def ordinal(self) -> bool:
        """All values numeric (sorted ascending): neighbours in index are neighbours in value."""
        return all(_is_number(v) for v in self.values)

    @property
    def size(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Objective:
    metric: str
    goal: Literal["min", "max"]

    @property
    def sign(self) -> float:
        """Multiplier that turns the metric into a quantity to minimise."""
        return 1.0 if self.goal == "min" else -1.0


@dataclass(frozen=True)
class Space:
    """A validated design space. Frozen and picklable: workers of every backend receive it."""

    name: str
    description: str
    workload: WorkloadSpec
    base_device: str
    domain: str
    evaluator: str
    parameters: tuple[Parameter, ...]
    fixed: tuple[tuple[str, Scalar], ...]
    constraints: tuple[Constraint, ...]
    objectives: tuple[Objective, ...]
    source: str = "<space>"

    # --- shape -------------------------------------------------------------------------------
    @property
    def cardinalities(self) -> tuple[int, ...]:
        """Values per parameter: the ``MultiDiscrete`` shape of an RL action."""
        return tuple(p.size for p in self.parameters)

    @property
    def size(self) -> int:
        return math.prod(self.cardinalities)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @cached_property
    def groups(self) -> dict[str, tuple[int, ...]]:
        """``agent:`` group -> positions of its parameters, groups in order of first appearance."""
        out: dict[str, list[int]] = {}
        for i, p in enumerate(self.parameters):
            out.setdefault(p.agent, []).append(i)
        return {k: tuple(v) for k, v in out.items()}

    @property
    def context(self) -> Context:
        return Context(base_device=self.base_device, domain=self.domain)

    @cached_property
    def fingerprint(self) -> str:
        """Hash of everything that decides a design's metrics (not the name or description)."""
        data = {"workload": self.workload.__dict__, "base_device": self.base_device, "domain": self.domain,
                "evaluator": self.evaluator, "fixed": self.fixed,
                "parameters": [(p.name, p.values, p.target, p.path) for p in self.parameters]}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    # --- designs -----------------------------------------------------------------------------
    def check(self, design: Sequence[int]) -> Design:
        """``design`` as a tuple of ints, or ValueError if it is not a point of this space."""
        if len(design) != len(self.parameters):
            raise ValueError(f"a design of {self.name} has {len(self.parameters)} indices, got {len(design)}")
        out = tuple(int(i) for i in design)
        for i, (index, p) in enumerate(zip(out, self.parameters)):
            if not 0 <= index < p.size:
                raise ValueError(f"index {index} of parameter {i} ({p.name}) is outside 0..{p.size - 1}")
        return out

    def values_of(self, design: Sequence[int]) -> dict[str, Scalar]:
        """Parameter name -> value of ``design``."""
        return {p.name: p.values[i] for p, i in zip(self.parameters, self.check(design))}

    def design_of(self, values: Mapping[str, Scalar]) -> Design:
        """The design whose parameter values are ``values`` (inverse of :meth:`values_of`)."""
        out = []
        for p in self.parameters:
            if p.name not in values:
                raise ValueError(f"no value for parameter {p.name!r}")
            try:
                out.append(p.values.index(values[p.name]))
            except ValueError:
                raise ValueError(f"{values[p.name]!r} is not a value of {p.name!r}: {p.values}") from None
        return tuple(out)

    def key(self, design: Sequence[int]) -> str:
        """Canonical text of a design (JSON of its values): the cache and store key."""
        return json.dumps(self.values_of(design), sort_keys=True, separators=(",", ":"))

    def design_at(self, index: int) -> Design:
        """The ``index``-th design in mixed-radix order (last parameter fastest)."""
        if not 0 <= index < self.size:
            raise ValueError(f"design index {index} outside 0..{self.size - 1}")
        out = []
        for n in reversed(self.cardinalities):
            index, r = divmod(index, n)
            out.append(r)
        return tuple(reversed(out))

    def index_of(self, design: Sequence[int]) -> int:
        index = 0
        for i, n in zip(self.check(design), self.cardinalities):
            index = index * n + i
        return index

    def settings(self, design: Sequence[int]) -> Settings:
        """What ``design`` fixes, split by target, with ``fixed`` values underneath."""
        workload: dict[str, Any] = {}
        knobs: dict[str, Scalar] = {}
        device: list[tuple[str, Scalar]] = []
        for name, value in self.fixed:
            target, path = _fixed_target(name)
            (workload if target == "workload" else knobs)[path] = value
        for p, i in zip(self.parameters, self.check(design)):
            value = p.values[i]
            if p.target == "workload":
                workload[p.path] = value
            elif p.target == "knob":
                knobs[p.path] = value
            else:
                device.append((p.path, value))
        return Settings(workload=replace(self.workload, **workload), knobs=tuple(sorted(knobs.items())),
                        device=tuple(device))

    def numeric_values(self, design: Sequence[int]) -> dict[str, float]:
        """Numeric parameter and fixed values of ``design`` (what constraints may name)."""
        out = {name: float(v) for name, v in self.fixed if _is_number(v)}
        out.update({k: float(v) for k, v in self.values_of(design).items() if _is_number(v)})
        return out


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fixed_target(name: str) -> tuple[str, str]:
    return ("workload", name) if name in WORKLOAD_FIELDS else ("knob", name)


# --- loading ---------------------------------------------------------------------------------

class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects a key written twice in one mapping."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_space(path: str | Path) -> Space:
    """Read and validate a space file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(path), None, str(path), f"a readable space file ({error.strerror})") from None
    return parse_space(text, source=str(path), base_dir=path.parent)


def parse_space(text: str, source: str = "<space>", base_dir: Path | None = None) -> Space:
    """Validate the YAML ``text`` of a space; relative paths resolve against ``base_dir``."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
        raise ConfigError(source, where, getattr(error, "problem", None) or str(error), "valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(source, None, data, "a YAML mapping with name, workload, base_device, parameters, "
                          "objectives")
    return _SpaceBuilder(source, base_dir).build(data)


class _SpaceBuilder:
    def __init__(self, source: str, base_dir: Path | None):
        self.source = source
        self.base_dir = base_dir

    def error(self, field: str | None, value: object, allowed: str) -> ConfigError:
        return ConfigError(self.source, field, value, allowed)

    def build(self, data: Mapping[str, Any]) -> Space:

        for key in data:
            if key not in TOP_KEYS:
                raise self.error(str(key), data[key], f"no field '{key}' in a space; allowed: {', '.join(TOP_KEYS)}")
        for key in ("name", "workload", "base_device", "parameters", "objectives"):
            if key not in data:
                raise self.error(key, "<missing>", "this field is required")
        name = data["name"]
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise self.error("name", name, "lower-case words joined by dashes, e.g. fpga-moe-kernel")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise self.error("description", description, "a string")
        evaluator = data.get("evaluator", "archmodel")
        if evaluator not in EVALUATORS:
            planned = f" ({', '.join(PLANNED_EVALUATORS)} comes later, with codegen)" if evaluator in \
                PLANNED_EVALUATORS else ""
            raise self.error("evaluator", evaluator, f"one of: {', '.join(EVALUATORS)}{planned}")
        device_ref, kind = self.base_device(data["base_device"])
        domain = data.get("domain") or default_domain(kind)
        if domain is None or domain not in list_domains():
            raise self.error("domain", data.get("domain", f"<default for kind {kind}>"),
                             f"one of: {', '.join(list_domains())}")
        adapter = adapter_for(domain)
        if kind not in adapter.device_kinds:
            raise self.error("base_device", data["base_device"],
                             f"a device of kind {' or '.join(adapter.device_kinds)} for domain '{domain}' "
                             f"(this one is kind '{kind}')")
        workload = self.workload(data["workload"])
        parameters = self.parameters(data["parameters"], adapter, device_ref)
        fixed = self.fixed(data.get("fixed") or {}, adapter, {p.name for p in parameters})
        objectives = self.objectives(data["objectives"], adapter)
        numeric = {p.name for p in parameters if p.ordinal} | {k for k, v in fixed if _is_number(v)}
        constraints = self.constraints(data.get("constraints") or [], adapter, numeric,
                                       {p.name for p in parameters})
        space = Space(name=name, description=description, workload=workload, base_device=device_ref,
                      domain=domain, evaluator=evaluator, parameters=parameters, fixed=fixed,
                      constraints=constraints, objectives=objectives, source=self.source)
        # The fixed settings alone must make a valid workload.
        self.check_workload(space.settings(tuple(0 for _ in parameters)).workload, "workload")
        return space

    def base_device(self, ref: object) -> tuple[str, str]:

        if not isinstance(ref, str) or not ref:
            raise self.error("base_device", ref, "a catalog device name or a path to a device .yaml file")
        resolved = ref
        if ref.endswith((".yaml", ".yml")) and self.base_dir is not None and not Path(ref).is_absolute():
            resolved = str((self.base_dir / ref).resolve())
        try:
            device = load_device(resolved)
        except ConfigError as error:
            raise self.error("base_device", ref, error.allowed) from None
        return resolved, device.kind

    def workload(self, raw: object) -> WorkloadSpec:
        if isinstance(raw, str):
            raw = {"model": raw}
        if not isinstance(raw, dict):
            raise self.error("workload", raw, "a mapping such as {model: mixtral-8x7b, phase: decode, batch: 32}")
        for key in raw:
            if key not in WORKLOAD_FIELDS:
                raise self.error(f"workload.{key}", raw[key], f"one of the workload fields: {', '.join(WORKLOAD_FIELDS)}")
        if "model" not in raw:
            raise self.error("workload.model", "<missing>", "a built-in model name or a config.json path")
        values = dict(raw)
        model = values["model"]
        if isinstance(model, str) and model.endswith(".json") and self.base_dir is not None \
                and not Path(model).is_absolute():
            values["model"] = str((self.base_dir / model).resolve())
        for key, value in values.items():
            self.check_workload_value(key, value, f"workload.{key}")
        spec = WorkloadSpec(**values)
        return spec

    def check_workload_value(self, key: str, value: object, field: str) -> None:

        if key == "model":
            if not isinstance(value, str):
                raise self.error(field, value, "a built-in model name or a config.json path")
            try:
                load_workload(value)
            except ConfigError as error:
                raise self.error(field, value, error.allowed) from None
        elif key == "phase":
            if value not in PHASES:
                raise self.error(field, value, f"one of: {', '.join(PHASES)}")
        elif key == "context":
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
                raise self.error(field, value, "a whole number >= 0")
        elif not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise self.error(field, value, "a whole number >= 1")

    def check_workload(self, spec: WorkloadSpec, field: str) -> None:
        if spec.phase == "prefill" and spec.context < 1:
            raise self.error(f"{field}.context", spec.context, "a prompt length >= 1 for phase prefill")

    def parameters(self, raw: object, adapter, device_ref: str) -> tuple[Parameter, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.error("parameters", raw, "a non-empty list of {name, values|range, agent}")
        out: list[Parameter] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            field = f"parameters[{index}]"
            if not isinstance(item, dict):
                raise self.error(field, item, "a mapping {name, values|range, agent, target}")
            for key in item:
                if key not in PARAM_KEYS:
                    raise self.error(f"{field}.{key}", item[key], f"one of: {', '.join(PARAM_KEYS)}")
            name = item.get("name")
            if not isinstance(name, str) or not IDENT_RE.match(name):
                raise self.error(f"{field}.name", name, "an identifier (letters, digits, _), usable in constraints")
            if name in seen:
                raise self.error(f"{field}.name", name, "a name not used by another parameter")
            seen.add(name)
            field = f"parameters.{name}"
            values = self.values(item, field)
            agent = item.get("agent", DEFAULT_GROUP)
            if not isinstance(agent, str) or not NAME_RE.match(agent):
                raise self.error(f"{field}.agent", agent, "a group name in lower-case-with-dashes, e.g. compute")
            target, path = self.target(name, item.get("target"), adapter, field)
            for value in values:
                self.check_value(target, path, value, adapter, device_ref, f"{field}.values")
            out.append(Parameter(name=name, values=values, agent=agent, target=target, path=path))
        return tuple(out)

    def values(self, item: Mapping[str, Any], field: str) -> tuple[Scalar, ...]:
        has_values, has_range = "values" in item, "range" in item
        if has_values == has_range:
            raise self.error(field, "<values/range>", "exactly one of 'values' (a list) or 'range' ({min, max, "
                             "log2_step|step})")
        if has_values:
            values = item["values"]
            if not isinstance(values, list) or not values:
                raise self.error(f"{field}.values", values, "a non-empty list of numbers or strings")
            for v in values:
                if not isinstance(v, (int, float, str, bool)) or (isinstance(v, float) and not math.isfinite(v)):
                    raise self.error(f"{field}.values", v, "numbers, strings or booleans")
            if len(set(map(repr, values))) != len(values) or len(set(values)) != len(values):
                raise self.error(f"{field}.values", values, "distinct values")
            if len(values) > MAX_VALUES:
                raise self.error(f"{field}.values", len(values), f"at most {MAX_VALUES} values")
            if all(_is_number(v) for v in values):
                return tuple(sorted(values))
            return tuple(values)
        return self.expand_range(item["range"], f"{field}.range")

    def expand_range(self, raw: object, field: str) -> tuple[Scalar, ...]:
        if not isinstance(raw, dict):
            raise self.error(field, raw, "a mapping {min, max, log2_step} or {min, max, step}")
        for key in raw:
            if key not in ("min", "max", "log2_step", "step"):
                raise self.error(f"{field}.{key}", raw[key], "one of: min, max, log2_step, step")
        lo, hi = raw.get("min"), raw.get("max")
        for key, v in (("min", lo), ("max", hi)):
            if not _is_number(v) or not math.isfinite(v):
                raise self.error(f"{field}.{key}", v, "a number")
        if hi < lo:
            raise self.error(f"{field}.max", hi, f"a number >= min ({lo})")
        if ("log2_step" in raw) == ("step" in raw):
            raise self.error(field, raw, "exactly one of log2_step (geometric) or step (linear)")
        integral = isinstance(lo, int) and isinstance(hi, int)
        values: list[float] = []
        if "log2_step" in raw:
            k = raw["log2_step"]
            if not _is_number(k) or k <= 0:
                raise self.error(f"{field}.log2_step", k, "a number > 0")
            if lo <= 0:
                raise self.error(f"{field}.min", lo, "a number > 0 for a log2_step range")
            i = 0
            while (v := lo * 2.0 ** (k * i)) <= hi * (1 + 1e-12):
                values.append(v)
                i += 1
                if i > MAX_VALUES:
                    raise self.error(field, raw, f"at most {MAX_VALUES} values")
        else:
            step = raw["step"]
            if not _is_number(step) or step <= 0:
                raise self.error(f"{field}.step", step, "a number > 0")
            integral = integral and isinstance(step, int)
            count = int(math.floor((hi - lo) / step + 1e-9)) + 1
            if count > MAX_VALUES:
                raise self.error(field, raw, f"at most {MAX_VALUES} values")
            values = [lo + step * i for i in range(count)]
        if integral and all(float(v).is_integer() for v in values):
            return tuple(int(round(v)) for v in values)
        return tuple(float(v) for v in values)

    def target(self, name: str, raw: object, adapter, field: str) -> tuple[str, str]:
        knobs = adapter.knobs
        if raw is None:
            if name in WORKLOAD_FIELDS:
                return "workload", name
            if name in knobs:
                return "knob", name
            raise self.error(f"{field}.name", name,
                             f"a workload field ({', '.join(WORKLOAD_FIELDS)}), a knob of domain "
                             f"'{adapter.domain}' ({', '.join(knobs)}), or any name with "
                             "'target: device.<field path>'")
        if not isinstance(raw, str) or "." not in raw:
            raise self.error(f"{field}.target", raw, "'device.<field path>', 'workload.<field>' or 'knob.<name>'")
        kind, _, path = raw.partition(".")
        if kind == "device" and path:
            return "device", path
        if kind == "workload" and path in WORKLOAD_FIELDS:
            return "workload", path
        if kind == "knob" and path in knobs:
            return "knob", path
        raise self.error(f"{field}.target", raw,
                         f"'device.<field path>', 'workload.<{'|'.join(WORKLOAD_FIELDS)}>' or "
                         f"'knob.<{'|'.join(knobs)}>'")

    def check_value(self, target: str, path: str, value: object, adapter, device_ref: str, field: str) -> None:
        if target == "workload":
            self.check_workload_value(path, value, field)
        elif target == "knob":
            problem = adapter.knobs[path].check(value)
            if problem is not None:
                raise self.error(field, value, f"for knob '{path}' ({adapter.knobs[path].doc}): {problem}")
        else:

            try:
                check_path(load_device(device_ref), path, value)
            except OverrideError as error:
                raise self.error(field, value, f"for device field '{error.path}': {error.allowed}") from None

    def fixed(self, raw: object, adapter, parameter_names: set[str]) -> tuple[tuple[str, Scalar], ...]:
        if not isinstance(raw, dict):
            raise self.error("fixed", raw, "a mapping of knob or workload field -> value")
        out = []
        for key, value in raw.items():
            field = f"fixed.{key}"
            if key in parameter_names:
                raise self.error(field, value, "a name that is not also a parameter")
            if key in WORKLOAD_FIELDS:
                self.check_workload_value(key, value, field)
            elif key in adapter.knobs:
                problem = adapter.knobs[key].check(value)
                if problem is not None:
                    raise self.error(field, value, f"for knob '{key}': {problem}")
            else:
                raise self.error(field, value, f"a workload field ({', '.join(WORKLOAD_FIELDS)}) or a knob of "
                                 f"domain '{adapter.domain}' ({', '.join(adapter.knobs)})")
            out.append((str(key), value))
        return tuple(sorted(out))

    def objectives(self, raw: object, adapter) -> tuple[Objective, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.error("objectives", raw, "a non-empty list of {metric, goal: min|max}")
        out: list[Objective] = []
        for index, item in enumerate(raw):
            field = f"objectives[{index}]"
            if not isinstance(item, dict) or set(item) - {"metric", "goal"}:
                raise self.error(field, item, "a mapping {metric, goal: min|max}")
            metric, goal = item.get("metric"), item.get("goal", "min")
            if metric not in adapter.metrics:
                raise self.error(f"{field}.metric", metric,
                                 f"a metric of domain '{adapter.domain}': {', '.join(adapter.metrics)}")
            if goal not in ("min", "max"):
                raise self.error(f"{field}.goal", goal, "min or max")
            if any(o.metric == metric for o in out):
                raise self.error(f"{field}.metric", metric, "each metric at most once")
            out.append(Objective(metric, goal))
        return tuple(out)

    def constraints(self, raw: object, adapter, numeric: set[str], parameters: set[str]) -> tuple[Constraint, ...]:
        if not isinstance(raw, list):
            raise self.error("constraints", raw, "a list of constraint strings such as 'dsp <= 9024'")
        out = []
        for index, text in enumerate(raw):
            field = f"constraints[{index}]"
            constraint = load_constraint(text, self.source, field)
            for name in sorted(constraint.names):
                if name in parameters and name not in numeric:
                    raise self.error(field, text, f"'{name}' has non-numeric values; constraints compare numbers")
                if name not in numeric and name not in adapter.metrics:
                    raise self.error(field, text, f"'{name}' is neither a numeric parameter ("
                                     f"{', '.join(sorted(numeric)) or 'none'}) nor a metric of domain "
                                     f"'{adapter.domain}' ({', '.join(adapter.metrics)})")
            out.append(constraint)
        return tuple(out)


def pre_constraints(space: Space, precheck_metrics: Sequence[str]) -> tuple[Constraint, ...]:
    """Constraints decidable before evaluation: they name only parameters, fixed values and
    the adapter's cheap ``precheck_metrics``."""
    known = set(space.names) | {k for k, _ in space.fixed} | set(precheck_metrics)
    return tuple(c for c in space.constraints if c.names <= known)
