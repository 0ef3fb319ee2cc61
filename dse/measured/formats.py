"""Reading table files into a :class:`MeasuredTable`: Kernel Tuner T4 results JSON, and CSV.

**Kernel Tuner T4** (``format: kernel-tuner``; the file may be gzip-compressed)::

    {"schema_version": "1.0.0", "metadata": {"timeunit": "miliseconds"},
     "results": [{"configuration": {"block_size_x": 16, ...}, "invalidity": "correct",
                  "times": {"compilation": 918.6, "framework": 105.2, "search_algorithm": 0,
                            "validation": 0, "runtimes": [3.97, 3.87, ...]},
                  "measurements": [{"name": "time", "value": 3.875, "unit": ""}]}, ...]}

* The configuration keys are those of the first result; every result must have the same keys.
* ``invalidity`` ``correct`` is a valid point; any other value (``compile``, ``runtime``) is the
  reason the configuration is invalid. Invalid rows need no measurements; one with ``times``
  keeps what trying it cost as its only metric, ``eval_cost_s`` (a compile failure's compile
  time), so a job's simulated tuning wall-clock includes the configurations that failed.
* Metrics of a valid point: the measurement ``time`` becomes ``time_s`` (seconds; its unit, or
  the file's ``metadata.timeunit`` when the unit is empty); every other measurement keeps its
  name and value, with its stated unit. ``eval_cost_s`` is what measuring the point cost, in
  seconds: ``times.compilation + times.framework + times.validation + sum(times.runtimes)``
  (a missing field counts 0). ``times.search_algorithm`` is left out: it is the search
  strategy's own time, not the cost of measuring this point.

**CSV** (``format: csv``): a header row, then one row per configuration. The space declares the
metric columns and their units (``metrics: {name: unit}``) and optionally the parameter columns
(``parameters: [...]``; default: every column that is neither a metric nor ``valid``); other
columns are ignored. A parameter column whose every cell is a number holds numbers; otherwise
its cells are strings as written. An optional ``valid`` column: ``1``, ``true``, ``yes`` or
``correct`` (any case) is a valid row; ``0``, ``false``, ``no`` is invalid; any other text is
invalid with that text as the reason. A metric cell of a valid row is a number or empty (not
measured); the metrics are the declared columns, named and valued as written (no conversion).

Every mistake in a file is reported in one ConfigError naming the file, the row and field, the
value and what is allowed (:mod:`dse.measured.problems`). Two rows with the same configuration
and different contents are an error; two identical rows are one point.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Final

from accelerators.errors import ConfigError

from ..evaluators.base import Scalar
from .problems import Problems
from .table import VALID_COLUMN, MeasuredPoint, MeasuredTable, TableSource, distinct_values

#: time unit -> units per second (times are divided by it: exact for a value already in seconds)
TIME_UNITS: Final[dict[str, float]] = {
    "seconds": 1.0, "s": 1.0, "milliseconds": 1e3, "miliseconds": 1e3, "ms": 1e3,  # "miliseconds": T4's spelling
    "microseconds": 1e6, "us": 1e6, "nanoseconds": 1e9, "ns": 1e9}
TIME_METRIC: Final = "time_s"
COST_METRIC: Final = "eval_cost_s"
COST_TIMES: Final = ("compilation", "framework", "validation")  # + sum(runtimes)
VALID_WORDS: Final = frozenset({"1", "true", "yes", "correct"})
INVALID_WORDS: Final = frozenset({"0", "false", "no"})
_INT_RE: Final = re.compile(r"^[+-]?\d+$")


def is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _decode(source: TableSource, data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(source.path, None, f"byte {error.start}", f"UTF-8 text ({what})") from None


class _Points:
    """Configuration -> point, refusing a configuration measured twice with different results."""

    def __init__(self, keys: Sequence[str], problems: Problems, pattern: str):
        self.keys = tuple(keys)
        self.problems = problems
        self.pattern = pattern
        self.points: dict[tuple[Scalar, ...], MeasuredPoint] = {}

    def add(self, config: tuple[Scalar, ...], point: MeasuredPoint) -> None:
        prior = self.points.setdefault(config, point)
        if prior != point:
            self.problems.add(point.where, dict(zip(self.keys, config)),
                              f"one result per configuration ({prior.where} has this configuration with "
                              "other results)", self.pattern)

    def values(self) -> dict[str, tuple[Scalar, ...]]:
        return {k: distinct_values([c[i] for c in self.points]) for i, k in enumerate(self.keys)}


# --- Kernel Tuner T4 ---------------------------------------------------------------------------

def read_kernel_tuner(source: TableSource, data: bytes, digest: str) -> MeasuredTable:
    """A Kernel Tuner T4 results file (already gunzipped) as a table."""
    path = source.path
    text = _decode(source, data, "a Kernel Tuner T4 JSON file")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(path, f"line {error.lineno}, column {error.colno}", error.msg,
                          "valid JSON (a Kernel Tuner T4 results file)") from None
    if not isinstance(doc, dict):
        raise ConfigError(path, None, type(doc).__name__, "a JSON object with schema_version, metadata and results "
                          "(a Kernel Tuner T4 results file)")
    problems = Problems(path)
    version = doc.get("schema_version")
    if not (isinstance(version, str) and version.split(".")[0] == "1"):
        problems.add("schema_version", version, "a T4 schema version 1.x, e.g. '1.0.0'")
    metadata = doc.get("metadata")
    unit = metadata.get("timeunit") if isinstance(metadata, dict) else None
    if unit not in TIME_UNITS:
        problems.add("metadata.timeunit", unit, f"one of: {', '.join(TIME_UNITS)}")
    scale = TIME_UNITS.get(unit, 1.0) if isinstance(unit, str) else 1.0  # units per second
    results = doc.get("results")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict) \
            or not isinstance(results[0].get("configuration"), dict) or not results[0]["configuration"]:
        problems.add("results", results if not isinstance(results, list) else f"{len(results)} results",
                     "a non-empty list of results, the first with a non-empty 'configuration' mapping")
        problems.check()
    assert isinstance(results, list)  # problems.check() raised otherwise
    keys = tuple(str(k) for k in results[0]["configuration"])
    points = _Points(keys, problems, "results[*]")
    units: dict[str, str] = {}
    for i, raw in enumerate(results):
        parsed = _kt_result(f"results[{i}]", raw, keys, scale, units, problems)
        if parsed is not None:
            points.add(*parsed)
    problems.check()
    metrics: dict[str, str] = {}
    if any(TIME_METRIC in p.metrics for p in points.points.values()):
        metrics[TIME_METRIC] = f"s, the measurement 'time' (converted from {unit})"
    metrics[COST_METRIC] = ("s, what measuring the point cost: compilation + framework + validation + "
                            "sum(runtimes) of its 'times'")
    metrics.update({name: u or "as in the file (no unit stated)" for name, u in units.items()})
    return MeasuredTable(path=path, digest=digest, keys=keys, values=points.values(), points=points.points,
                         metrics=metrics)


def _kt_result(field: str, raw: object, keys: tuple[str, ...], scale: float, units: dict[str, str],
               problems: Problems) -> tuple[tuple[Scalar, ...], MeasuredPoint] | None:
    """One result as (configuration, point), or None after recording what is wrong with it."""
    if not isinstance(raw, dict):
        problems.add(field, raw, "a result mapping {configuration, invalidity, times, measurements}", "results[*]")
        return None
    config = raw.get("configuration")
    if not isinstance(config, dict) or set(config) != set(keys):
        problems.add(f"{field}.configuration", sorted(config) if isinstance(config, dict) else config,
                     f"a mapping with the configuration keys of results[0]: {', '.join(keys)}",
                     "results[*].configuration")
        return None
    ok = True
    for key in keys:
        value = config[key]
        if not (isinstance(value, (str, bool)) or is_finite_number(value)):
            problems.add(f"{field}.configuration.{key}", value, "a number, string or boolean",
                         "results[*].configuration.*")
            ok = False
    invalidity = raw.get("invalidity")
    if not isinstance(invalidity, str) or not invalidity:
        problems.add(f"{field}.invalidity", invalidity, "'correct', or why the configuration is invalid "
                     "(compile, runtime ...)", "results[*].invalidity")
        return None
    values = tuple(config[k] for k in keys)
    if invalidity != "correct":  # no measurements; what trying it cost, when the file says
        spent = _kt_cost(field, raw["times"], scale, problems) if "times" in raw else None
        if not ok or ("times" in raw and spent is None):
            return None
        return values, MeasuredPoint(invalidity, {} if spent is None else {COST_METRIC: spent}, field)
    metrics = _kt_measurements(field, raw.get("measurements"), scale, units, problems)
    cost = _kt_cost(field, raw.get("times"), scale, problems)
    if not ok or metrics is None or cost is None:
        return None
    return values, MeasuredPoint(None, {**metrics, COST_METRIC: cost}, field)


def _kt_measurements(field: str, raw: object, scale: float, units: dict[str, str],
                     problems: Problems) -> dict[str, float] | None:
    """The metrics of a result measured correct, or None after recording what is wrong."""
    if not isinstance(raw, list):
        problems.add(f"{field}.measurements", raw, "a list of {name, value, unit} (a result measured 'correct')",
                     "results[*].measurements")
        return None
    out: dict[str, float] = {}
    ok = True
    for j, m in enumerate(raw):
        where = f"{field}.measurements[{j}]"
        metric = _kt_measurement(where, m, scale, units, problems)
        if metric is None:
            ok = False
        elif metric[0] in out:
            problems.add(f"{where}.name", m["name"], "each measurement at most once per result",
                         "results[*].measurements[*].name")
            ok = False
        else:
            out[metric[0]] = metric[1]
    return out if ok else None


def _kt_measurement(where: str, m: object, scale: float, units: dict[str, str],
                    problems: Problems) -> tuple[str, float] | None:
    """One measurement as (metric, value): ``time`` in seconds as ``time_s``, others as they are."""
    name = m.get("name") if isinstance(m, dict) else None
    if not isinstance(m, dict) or not isinstance(name, str) or not name:
        problems.add(where, m, "a mapping {name, value, unit}", "results[*].measurements[*]")
        return None
    value, unit = m.get("value"), m.get("unit", "")
    if not is_finite_number(value):
        problems.add(f"{where}.value", value, f"a finite number: measurement '{name}' of a result measured "
                     "'correct'", "results[*].measurements[*].value")
        return None
    assert isinstance(value, (int, float))  # is_finite_number checked it
    if not isinstance(unit, str):
        problems.add(f"{where}.unit", unit, "a string", "results[*].measurements[*].unit")
        return None
    if name == "time":
        factor = TIME_UNITS.get(unit) if unit else scale
        if factor is None:
            problems.add(f"{where}.unit", unit, f"a time unit ({', '.join(TIME_UNITS)}), or empty for the file's "
                         "metadata.timeunit", "results[*].measurements[*].unit")
            return None
        return TIME_METRIC, value / factor
    if name in (TIME_METRIC, COST_METRIC):
        problems.add(f"{where}.name", name, f"a measurement name other than {TIME_METRIC} and {COST_METRIC} "
                     "(the table's names for the time and the cost)", "results[*].measurements[*].name")
        return None
    known = units.setdefault(name, unit)
    if known != unit:
        problems.add(f"{where}.unit", unit, f"the unit of measurement '{name}' in the results before ({known!r})",
                     "results[*].measurements[*].unit")
        return None
    return name, float(value)


def _kt_cost(field: str, raw: object, scale: float, problems: Problems) -> float | None:
    """``eval_cost_s``: compilation + framework + validation + sum(runtimes), in seconds."""
    if not isinstance(raw, dict):
        problems.add(f"{field}.times", raw, "a mapping {compilation, framework, validation, runtimes}",
                     "results[*].times")
        return None
    total = 0.0
    for key in COST_TIMES:
        value = raw.get(key, 0)
        if not is_finite_number(value):
            problems.add(f"{field}.times.{key}", value, "a finite number (in the file's timeunit)",
                         f"results[*].times.{key}")
            return None
        total += value
    runtimes = raw.get("runtimes", [])
    if not isinstance(runtimes, list) or not all(is_finite_number(v) for v in runtimes):
        problems.add(f"{field}.times.runtimes", runtimes, "a list of finite numbers (in the file's timeunit)",
                     "results[*].times.runtimes")
        return None
    return (total + sum(runtimes)) / scale


# --- CSV ---------------------------------------------------------------------------------------

def _cell_number(text: str) -> int | float | None:
    if _INT_RE.match(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _typed_columns(raw: list[tuple[str, ...]], count: int) -> list[tuple[Scalar, ...]]:
    """Parameter cells typed per column: numbers when every cell of the column is one, else strings."""
    columns: list[list[Scalar]] = []
    for j in range(count):
        cells = [row[j] for row in raw]
        numbers = [_cell_number(c) for c in cells]
        columns.append(list(cells) if any(n is None for n in numbers) else numbers)  # type: ignore[arg-type]
    return [tuple(col[i] for col in columns) for i in range(len(raw))]


def _csv_header(source: TableSource, header: list[str], problems: Problems) -> tuple[str, ...]:
    """Check the header against the declared columns; the parameter columns."""
    declared_metrics = [name for name, _ in source.metrics]
    for name in sorted({h for h in header if header.count(h) > 1}):
        problems.add("header", name, "each column name once")
    for name in declared_metrics + list(source.parameters):
        if name not in header:
            kind = "table.metrics" if name in declared_metrics else "table.parameters"
            problems.add("header", header, f"a column '{name}' (declared in the space's {kind})")
    parameters = source.parameters or tuple(h for h in header if h not in declared_metrics and h != VALID_COLUMN)
    if not parameters:
        problems.add("header", header, "at least one parameter column besides the metrics and 'valid'")
    return parameters


def read_csv(source: TableSource, data: bytes, digest: str) -> MeasuredTable:
    """A CSV table (already gunzipped) with the columns the space declares."""
    path = source.path
    rows = list(csv.reader(io.StringIO(_decode(source, data, "a CSV file"))))
    if not rows or not any(c.strip() for c in rows[0]):
        raise ConfigError(path, "line 1", "<empty>", "a header row naming the parameter and metric columns")
    header = [h.strip() for h in rows[0]]
    problems = Problems(path)
    parameters = _csv_header(source, header, problems)
    problems.check()
    column = {h: i for i, h in enumerate(header)}
    raw_configs: list[tuple[str, ...]] = []
    parsed: list[MeasuredPoint] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            problems.add(f"line {line}", f"{len(row)} cells", f"{len(header)} cells, one per header column", "line *")
            continue
        cells = {h: row[i].strip() for h, i in column.items()}
        point = _csv_point(line, cells, source.metrics, problems)
        empty = [p for p in parameters if not cells[p]]
        for p in empty:
            problems.add(f"line {line}, column {p}", "", "a parameter value", f"line *, column {p}")
        if point is not None and not empty:
            raw_configs.append(tuple(cells[p] for p in parameters))
            parsed.append(point)
    points = _Points(parameters, problems, "line *")
    for config, point in zip(_typed_columns(raw_configs, len(parameters)), parsed):
        points.add(config, point)
    problems.check()
    return MeasuredTable(path=path, digest=digest, keys=tuple(parameters), values=points.values(),
                         points=points.points, metrics=dict(source.metrics))


def _csv_point(line: int, cells: Mapping[str, str], metrics: Sequence[tuple[str, str]],
               problems: Problems) -> MeasuredPoint | None:
    reason: str | None = None
    if VALID_COLUMN in cells:
        word = cells[VALID_COLUMN]
        if not word:
            problems.add(f"line {line}, column {VALID_COLUMN}", word, "1/true/yes/correct for a valid row; 0/false/no "
                         "or the reason (compile, runtime ...) for an invalid one", f"line *, column {VALID_COLUMN}")
            return None
        if word.lower() not in VALID_WORDS:
            reason = "" if word.lower() in INVALID_WORDS else word
    if reason is not None:
        return MeasuredPoint(reason, {}, f"line {line}")
    out: dict[str, float] = {}
    ok = True
    for name, _ in metrics:
        text = cells[name]
        if not text:
            continue  # not measured: a metric an objective or constraint names is checked by the space
        value = _cell_number(text)
        if value is None:
            problems.add(f"line {line}, column {name}", text, "a finite number, or empty (not measured)",
                         f"line *, column {name}")
            ok = False
        else:
            out[name] = float(value)
    return MeasuredPoint(None, out, f"line {line}") if ok else None
