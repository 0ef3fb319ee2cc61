"""The parts of a space file that a table space reads differently: ``table:``, ``parameters:``, ``fixed:``.

```yaml
name: convolution-a100
evaluator: table
table: {path: convolution-A100.json.gz, format: kernel-tuner}   # path relative to the space file
parameters:                          # optional: default every configuration key of the file
  - {name: block_size_x, agent: threads}
  - {name: tile_size_x, agent: tiling, values: [1, 2]}   # values: optional, a subset of the file's
fixed: {use_cmem: 1}                 # configuration keys every design shares
objectives: [{metric: time_s, goal: min}]
```

* ``table.format``: ``kernel-tuner`` or ``csv``; a CSV table declares ``metrics: {name: unit}``
  and optionally ``parameters: [column, ...]`` (see :mod:`dse.measured.formats`).
* A parameter is a configuration key of the file; its values are those present in the file
  (numbers ascending). A space names every key either as a parameter or in ``fixed:`` (a value
  present in the file): listing some keys as parameters does not fix the others, so a space
  that leaves one out is refused. Without ``parameters:`` every key not in ``fixed:`` is one,
  in the file's order, in the ``default`` group.
* ``workload``, ``base_device`` and ``domain`` are refused: the file decides the designs.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from accelerators.errors import ConfigError

from ..evaluators.base import Scalar
from ..space import DEFAULT_GROUP, MAX_VALUES, NAME_RE, Parameter, is_number
from .problems import Problems
from .table import FORMATS, VALID_COLUMN, MeasuredTable, TableSource

TABLE_KEYS: Final = ("path", "format", "parameters", "metrics")
PARAM_KEYS: Final = ("name", "agent", "values")
DOMAIN: Final = "table"


@dataclass(frozen=True)
class TableMetrics:
    """What the space-file checks of objectives and constraints ask of a domain: its name and metrics."""

    metrics: Mapping[str, str]
    domain: str = DOMAIN


def table_source(raw: object, space_file: str, base_dir: Path | None) -> TableSource:
    """The ``table:`` section as a TableSource (path resolved against ``base_dir``); every mistake
    in one ConfigError."""
    def error(field: str, value: object, allowed: str) -> ConfigError:
        return ConfigError(space_file, field, value, allowed)

    if not isinstance(raw, dict):
        raise error("table", raw, "a mapping {path, format: kernel-tuner|csv} (csv: also metrics, parameters)")
    problems = [error(f"table.{k}", raw[k], f"one of: {', '.join(TABLE_KEYS)}") for k in raw if k not in TABLE_KEYS]
    path, fmt = raw.get("path"), raw.get("format")
    if not isinstance(path, str) or not path:
        problems.append(error("table.path", path, "the table file's path (relative to the space file)"))
    if fmt not in FORMATS:
        problems.append(error("table.format", fmt, f"one of: {', '.join(FORMATS)}"))
    parameters: tuple[str, ...] = ()
    metrics: tuple[tuple[str, str], ...] = ()
    if fmt == "csv":
        parameters, metrics = _csv_columns(raw, error, problems)
    elif fmt == "kernel-tuner":
        for key in ("parameters", "metrics"):
            if key in raw:
                problems.append(error(f"table.{key}", raw[key], "only for format: csv (a Kernel Tuner file names "
                                      "its configuration keys and measurements itself)"))
    if problems:
        raise ConfigError.combine(problems)
    assert isinstance(path, str)
    resolved = Path(path) if Path(path).is_absolute() or base_dir is None else base_dir / path
    return TableSource(path=str(resolved.resolve()), format=fmt, parameters=parameters,  # type: ignore[arg-type]
                       metrics=metrics)  # fmt is one of FORMATS, checked above


def _csv_columns(raw: Mapping[str, Any], error, problems: list[ConfigError]) -> tuple[tuple[str, ...],
                                                                                      tuple[tuple[str, str], ...]]:
    metrics = raw.get("metrics")
    out_metrics: list[tuple[str, str]] = []
    if not isinstance(metrics, dict) or not metrics:
        problems.append(error("table.metrics", metrics, "a mapping of metric column -> unit, e.g. {time_s: s}"))
    else:
        for name, unit in metrics.items():
            if not isinstance(name, str) or not name or name == VALID_COLUMN:
                problems.append(error("table.metrics", name, f"a column name other than '{VALID_COLUMN}'"))
            elif not isinstance(unit, str) or not unit:
                problems.append(error(f"table.metrics.{name}", unit, "the metric's unit, e.g. s or GFLOP/s"))
            else:
                out_metrics.append((name, unit))
    parameters = raw.get("parameters", [])
    if not isinstance(parameters, list) or not all(isinstance(p, str) and p for p in parameters) \
            or len(set(parameters)) != len(parameters):
        problems.append(error("table.parameters", parameters, "a list of distinct column names (default: every "
                              "column that is neither a metric nor 'valid')"))
        parameters = []
    names = {n for n, _ in out_metrics}
    for p in parameters:
        if p in names or p == VALID_COLUMN:
            problems.append(error("table.parameters", p, f"a column that is neither a metric nor '{VALID_COLUMN}'"))
    return tuple(parameters), tuple(out_metrics)


def table_design(table: MeasuredTable, raw_parameters: object, raw_fixed: object, space_file: str,
                 problems: list[ConfigError]) -> tuple[tuple[Parameter, ...], tuple[tuple[str, Scalar], ...]]:
    """The parameters and fixed values of a table space; mistakes are appended to ``problems``."""
    def error(field: str, value: object, allowed: str) -> None:
        problems.append(ConfigError(space_file, field, value, allowed))

    keys = ", ".join(table.keys)
    fixed_keys = {str(k) for k in raw_fixed} if isinstance(raw_fixed, dict) else set()
    fixed: dict[str, Scalar] = {}
    if raw_fixed is not None and not isinstance(raw_fixed, dict):
        error("fixed", raw_fixed, f"a mapping of configuration key -> value; keys of {Path(table.path).name}: {keys}")
    for key, value in (raw_fixed or {}).items() if isinstance(raw_fixed, dict) else ():
        if key not in table.values:
            error(f"fixed.{key}", value, f"a configuration key of {Path(table.path).name}: {keys}")
        elif value not in table.values[key]:
            error(f"fixed.{key}", value, f"a value of {key} in the table: {_listing(table.values[key])}")
        else:
            fixed[str(key)] = value
    if raw_parameters is None:
        items: Sequence[object] = [{"name": k} for k in table.keys if k not in fixed_keys]
    elif isinstance(raw_parameters, list) and raw_parameters:
        items = raw_parameters
    else:
        error("parameters", raw_parameters, "a non-empty list of {name, agent, values} naming configuration keys "
              f"(or leave it out: every key of the table): {keys}")
        return (), tuple(sorted(fixed.items()))
    parameters: list[Parameter] = []
    for index, item in enumerate(items):
        parameter = _parameter(table, index, item, {p.name for p in parameters}, fixed_keys, error)
        if parameter is not None:
            parameters.append(parameter)
    named = {p.name for p in parameters} | fixed_keys
    left = [k for k in table.keys if k not in named]
    if left and len(parameters) == len(items):
        error("parameters", [p.name for p in parameters],
              f"every configuration key as a parameter or in fixed: (listing parameters fixes nothing else); "
              f"missing: {', '.join(left)} — add them to parameters, or fix them, e.g. fixed: "
              f"{{{', '.join(f'{k}: {_first(table.values[k])}' for k in left)}}}")
    if not items:
        error("fixed", sorted(fixed), "at least one configuration key left as a parameter")
    return tuple(parameters), tuple(sorted(fixed.items()))


def _first(values: tuple[Scalar, ...]) -> str:
    return repr(values[0]) if isinstance(values[0], str) else str(values[0])


def _listing(values: tuple[Scalar, ...], limit: int = 20) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f", ... ({len(values)} values)" if len(values) > limit else "")


def _parameter(table: MeasuredTable, index: int, item: object, seen: set[str], fixed: set[str],
               error) -> Parameter | None:
    field = f"parameters[{index}]"
    if not isinstance(item, dict):
        error(field, item, "a mapping {name, agent, values}")
        return None
    bad = [k for k in item if k not in PARAM_KEYS]
    for key in bad:
        error(f"{field}.{key}", item[key], f"one of: {', '.join(PARAM_KEYS)} (a table decides the values; "
              "values: may list a subset)")
    name = item.get("name")
    if name not in table.values:
        error(f"{field}.name", name, f"a configuration key of {Path(table.path).name}: {', '.join(table.keys)}")
        return None
    assert isinstance(name, str)
    field = f"parameters.{name}"
    if name in seen:
        error(f"{field}", name, "a key listed once")
        return None
    if name in fixed:
        error(f"fixed.{name}", name, "a key that is not also a parameter")
        return None
    agent = item.get("agent", DEFAULT_GROUP)
    if not isinstance(agent, str) or not NAME_RE.match(agent):
        error(f"{field}.agent", agent, "a group name in lower-case-with-dashes, e.g. compute")
        return None
    present = table.values[name]
    values = present
    if "values" in item:
        subset = item["values"]
        if not isinstance(subset, list) or not subset or any(v not in present for v in subset) \
                or len(set(subset)) != len(subset):
            error(f"{field}.values", subset, f"a non-empty list of distinct values present in the table: "
                  f"{_listing(present)}")
            return None
        values = tuple(sorted(subset)) if all(is_number(v) for v in subset) else tuple(subset)
    if len(values) > MAX_VALUES:
        error(f"{field}", f"{len(values)} values", f"at most {MAX_VALUES} values (list a subset with values:, or "
              "fix the key in fixed:)")
        return None
    if bad:
        return None
    return Parameter(name=name, values=values, agent=agent, target="table", path=name)


def check_measured(table: MeasuredTable, parameters: Sequence[Parameter], fixed: Sequence[tuple[str, Scalar]],
                   names: Sequence[str]) -> list[ConfigError]:
    """Every valid row of the space (the rows its parameters and fixed values select) must have the
    metrics its objectives and constraints name (``names``); one problem per row that lacks one."""
    allowed = {p.name: set(p.values) for p in parameters} | {k: {v} for k, v in fixed}
    columns = [(i, allowed[k]) for i, k in enumerate(table.keys)]
    problems = Problems(table.path)
    for config, point in table.points.items():
        if not point.valid or not all(config[i] in values for i, values in columns):
            continue
        for name in names:
            if name not in point.metrics:
                problems.add(point.where or "configuration", dict(zip(table.keys, config)),
                             f"a measurement of '{name}' (the space's objectives and constraints name it) in every "
                             "row measured valid", f"rows without {name}")
    return problems.errors()
