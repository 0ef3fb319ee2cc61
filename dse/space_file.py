"""Reading a space file: YAML -> a validated :class:`dse.space.Space` (format: :mod:`dse.space`).

Every problem of the file is reported at once: each section, parameter, fixed value, objective
and constraint is checked on its own, and one ``ConfigError`` lists them all (each naming the
file, the field, the value and what is allowed). A section that others depend on (the base
device, the domain) stops the checks that need it.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from accelerators.catalog import load_device
from accelerators.errors import ConfigError, read_user_text
from accelerators.yaml_loader import UniqueKeyLoader
from archmodel.workloads import load_workload

from .constraints import Constraint, load_constraint
from .evaluators import adapter_for, default_domain, list_domains
from .evaluators.base import PHASES, WORKLOAD_FIELDS, WorkloadSpec
from .measured import MeasuredTable, load_table
from .measured.section import DOMAIN as TABLE_DOMAIN
from .measured.section import TableMetrics, check_measured, table_design, table_source
from .overrides import OverrideError, check_path
from .rtl.settings import RTL_DOMAINS, parse_rtl_settings
from .space import (
    DEFAULT_GROUP,
    EVALUATORS,
    IDENT_RE,
    MAX_VALUES,
    NAME_RE,
    PARAM_KEYS,
    TOP_KEYS,
    Objective,
    Parameter,
    Scalar,
    Space,
    is_number,
)


def _geometric(lo: float, log2_step: float, i: int) -> float:
    """``lo * 2**(log2_step * i)``; infinite once it overflows (beyond any range's max)."""
    try:
        return lo * 2.0 ** (log2_step * i)
    except OverflowError:
        return math.inf


def load_space(path: str | Path) -> Space:
    """Read and validate a space file."""
    path = Path(path)
    text = read_user_text(path, "space file")
    return parse_space(text, source=str(path), base_dir=path.parent)


def parse_space(text: str, source: str = "<space>", base_dir: Path | None = None) -> Space:
    """Validate the YAML ``text`` of a space; relative paths resolve against ``base_dir``."""
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
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
        self.problems: list[ConfigError] = []

    def error(self, field: str | None, value: object, allowed: str) -> ConfigError:
        return ConfigError(self.source, field, value, allowed)

    @contextmanager
    def collect(self) -> Iterator[None]:
        """Check one part of the file: its ConfigError is kept and the build goes on with the next."""
        try:
            yield
        except ConfigError as problem:
            self.problems.append(problem)

    def header(self, data: Mapping[str, Any], required: tuple[str, ...]) -> tuple[str, str]:
        """Checks every space shares: known and required top-level keys, the name, the description."""
        for key in data:
            if key not in TOP_KEYS:
                self.problems.append(self.error(str(key), data[key],
                                                f"no field '{key}' in a space; allowed: {', '.join(TOP_KEYS)}"))
        for key in required:
            if key not in data:
                self.problems.append(self.error(key, "<missing>", "this field is required"))
        name, description = data.get("name"), data.get("description", "")
        if "name" in data and (not isinstance(name, str) or not NAME_RE.match(name)):
            self.problems.append(self.error("name", name, "lower-case words joined by dashes, e.g. fpga-moe-kernel"))
        if not isinstance(description, str):
            self.problems.append(self.error("description", description, "a string"))
        return str(name), str(description)

    def build(self, data: Mapping[str, Any]) -> Space:
        evaluator = data.get("evaluator", "archmodel")
        if evaluator == "table":
            return self.build_table(data)
        name, description = self.header(data, ("name", "workload", "base_device", "parameters", "objectives"))
        if evaluator not in EVALUATORS:
            self.problems.append(self.error("evaluator", evaluator, f"one of: {', '.join(EVALUATORS)}"))
        rtl = None
        if evaluator == "rtl":
            with self.collect():
                rtl = parse_rtl_settings(data.get("rtl"), self.source, self.base_dir)
        elif "rtl" in data:
            self.problems.append(self.error("rtl", data["rtl"], "only with evaluator: rtl"))
        if "table" in data:
            self.problems.append(self.error("table", data["table"], "only with evaluator: table (a space of measured "
                                            "points)"))
        workload = None
        if "workload" in data:
            with self.collect():
                workload = self.workload(data["workload"])
        adapter, device_ref = None, None
        if "base_device" in data:
            with self.collect():
                device_ref, adapter = self.domain(data)
        if adapter is None or device_ref is None:  # parameters and metrics mean nothing without the domain
            raise ConfigError.combine(self.problems)
        parameters = self.parameters(data["parameters"], adapter, device_ref) if "parameters" in data else ()
        fixed = self.fixed(data.get("fixed") or {}, adapter, {p.name for p in parameters})
        objectives = self.objectives(data["objectives"], adapter) if "objectives" in data else ()
        numeric = {p.name for p in parameters if p.ordinal} | {k for k, v in fixed if is_number(v)}
        constraints = self.constraints(data.get("constraints") or [], adapter, numeric,
                                       {p.name for p in parameters})
        if evaluator == "rtl" and adapter.domain not in RTL_DOMAINS:
            self.problems.append(self.error("evaluator", evaluator, f"archmodel for the {adapter.domain} domain (RTL "
                                            f"is generated for: {', '.join(RTL_DOMAINS)})"))
        if self.problems or workload is None:
            raise ConfigError.combine(self.problems)
        space = Space(name=name, description=description, workload=workload, base_device=device_ref,
                      domain=adapter.domain, evaluator=str(evaluator), parameters=parameters, fixed=fixed,
                      constraints=constraints, objectives=objectives, source=self.source, rtl=rtl)
        # The fixed settings alone must make a valid workload.
        settings_workload = space.settings(tuple(0 for _ in parameters)).workload
        assert settings_workload is not None  # a model space has a workload
        self.check_workload(settings_workload, "workload")
        return space

    def build_table(self, data: Mapping[str, Any]) -> Space:
        """A space of measured points (``evaluator: table``, :mod:`dse.measured.section`)."""
        name, description = self.header(data, ("name", "table", "objectives"))
        for key in ("workload", "base_device", "domain"):
            if key in data:
                self.problems.append(self.error(key, data[key], "not used with evaluator: table (the table file "
                                                "decides the designs and their metrics); remove it"))
        table: MeasuredTable | None = None
        if "table" in data:
            with self.collect():
                source = table_source(data["table"], self.source, self.base_dir)
                table = load_table(source, self.source)
        if table is None:
            raise ConfigError.combine(self.problems)
        parameters, fixed = table_design(table, data.get("parameters"), data.get("fixed"), self.source, self.problems)
        catalog = TableMetrics(table.metrics)
        objectives = self.objectives(data["objectives"], catalog) if "objectives" in data else ()
        numeric = {p.name for p in parameters if p.ordinal} | {k for k, v in fixed if is_number(v)}
        constraints = self.constraints(data.get("constraints") or [], catalog, numeric, {p.name for p in parameters})
        clashes = sorted(({p.name for p in parameters} | {k for k, _ in fixed}) & set(table.metrics))
        for clash in clashes:
            self.problems.append(self.error("parameters", clash, "configuration keys and metric names that differ "
                                            f"(metrics: {', '.join(table.metrics)})"))
        if not self.problems:
            named = [o.metric for o in objectives] + sorted({n for c in constraints for n in c.names} & set(table.metrics))
            self.problems += check_measured(table, parameters, fixed, list(dict.fromkeys(named)))
        if self.problems:
            raise ConfigError.combine(self.problems)
        return Space(name=name, description=description, workload=None, base_device=None, domain=TABLE_DOMAIN,
                     evaluator="table", parameters=parameters, fixed=fixed, constraints=constraints,
                     objectives=objectives, source=self.source, table=replace(source, digest=table.digest))

    def domain(self, data: Mapping[str, Any]) -> tuple[str, Any]:
        """The base device (resolved) and the domain's adapter, checked against each other."""
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
        return device_ref, adapter

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
            self.problems.append(self.error("parameters", raw, "a non-empty list of {name, values|range, agent}"))
            return ()
        out: list[Parameter] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            with self.collect():
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
                out.append(Parameter(name=name, values=values, agent=agent, target=target,  # type: ignore[arg-type]
                                     path=path))  # target() returns one of Parameter's target names
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
            if all(is_number(v) for v in values):
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
            if not is_number(v) or not math.isfinite(v):  # type: ignore[arg-type]  # is_number checked it
                raise self.error(f"{field}.{key}", v, "a number")
        assert isinstance(lo, (int, float)) and isinstance(hi, (int, float))  # checked just above
        if hi < lo:
            raise self.error(f"{field}.max", hi, f"a number >= min ({lo})")
        if ("log2_step" in raw) == ("step" in raw):
            raise self.error(field, raw, "exactly one of log2_step (geometric) or step (linear)")
        integral = isinstance(lo, int) and isinstance(hi, int)
        values: list[float] = []
        if "log2_step" in raw:
            k = raw["log2_step"]
            if not is_number(k) or not math.isfinite(k) or k <= 0:
                raise self.error(f"{field}.log2_step", k, "a finite number > 0")
            if lo <= 0:
                raise self.error(f"{field}.min", lo, "a number > 0 for a log2_step range")
            i = 0
            while (v := _geometric(lo, k, i)) <= hi * (1 + 1e-12):
                values.append(v)
                i += 1
                if i > MAX_VALUES:
                    raise self.error(field, raw, f"at most {MAX_VALUES} values")
        else:
            step = raw["step"]
            if not is_number(step) or not math.isfinite(step) or step <= 0:
                raise self.error(f"{field}.step", step, "a finite number > 0")
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
            self.problems.append(self.error("fixed", raw, "a mapping of knob or workload field -> value"))
            return ()
        out = []
        for key, value in raw.items():
            with self.collect():
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
            self.problems.append(self.error("objectives", raw, "a non-empty list of {metric, goal: min|max}"))
            return ()
        out: list[Objective] = []
        for index, item in enumerate(raw):
            with self.collect():
                field = f"objectives[{index}]"
                if not isinstance(item, dict) or set(item) - {"metric", "goal"}:
                    raise self.error(field, item, "a mapping {metric, goal: min|max}")
                metric, goal = item.get("metric"), item.get("goal", "min")
                if not isinstance(metric, str) or metric not in adapter.metrics:
                    raise self.error(f"{field}.metric", metric,
                                     f"a metric of domain '{adapter.domain}': {', '.join(adapter.metrics)}")
                if goal not in ("min", "max"):
                    raise self.error(f"{field}.goal", goal, "min or max")
                if any(o.metric == metric for o in out):
                    raise self.error(f"{field}.metric", metric, "each metric at most once")
                out.append(Objective(str(metric), goal))
        return tuple(out)

    def constraints(self, raw: object, adapter, numeric: set[str], parameters: set[str]) -> tuple[Constraint, ...]:
        if not isinstance(raw, list):
            self.problems.append(self.error("constraints", raw, "a list of constraint strings such as 'dsp <= 9024'"))
            return ()
        out = []
        for index, text in enumerate(raw):
            with self.collect():
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


