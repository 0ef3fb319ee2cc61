"""Check the serving simulation against measured rows: map, simulate, and report the errors.

``validate(path)`` reads a measured CSV (:mod:`archmodel.measured`), maps each row's model and
system to a catalog workload and device (``BUILTIN_MAP`` plus a user map file), and simulates every
aggregated row the way it was measured: ``concurrency`` closed-loop clients on the row's engine
preset (:mod:`archmodel.serving`) at its tensor and expert parallelism and precision; a
disaggregated row through :func:`archmodel.serving.disagg.simulate_disaggregated` (the
``serve-pd`` model: its prefill and decode pools, workers x tensor x attention-data-parallel
devices, at its concurrency), grouped apart (``model / engine disagg``). Rows it does not simulate
are listed with the reason, never dropped: a duplicate of an earlier row's setting, a row repeating an earlier row's measured values
under another setting (the source's tp64 rows that copy tp8 rows), an nvfp4 row on Hopper (an artefact of the source:
Hopper has no FP4 tensor cores), an unknown model or system, attention data parallelism (not yet
simulated), a parallelism the model cannot run, a sequence that does not fit.

Errors per row and metric: signed ``(predicted - measured) / measured`` and its absolute value;
per group (model x engine) the MAPE and the mean signed error. The measured throughput is derived,
not measured: a closed-loop client finishes a request every ``TTFT + (OSL - 1) TPOT``, so
``output tokens/s = concurrency x OSL / (TTFT + (OSL - 1) TPOT)`` (Little's law). No figure of the
simulation is set from these rows.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

from accelerators.catalog import list_devices, load_device
from accelerators.errors import ConfigError
from accelerators.schema import Device

from .measured import MeasuredRow, read_measured
from .parallel import Parallelism
from .precision import Precision
from .serving import engine_preset, simulate
from .serving.disagg import PhasePool, simulate_disaggregated
from .workload import ModelConfig
from .workloads import list_workloads, load_workload

METRICS = ("ttft_ms", "tpot_ms", "tokens_per_s")

# Measured names -> catalog names. Llama-3.1-70B has the architecture of the catalog's
# Llama-3.3-70B (same config.json shape: 80 layers, hidden 8192, 64 heads, 8 KV heads, FFN 28672,
# vocab 128256); instruct variants share their base model's architecture.
BUILTIN_MAP: dict[str, dict[str, str]] = {
    "models": {
        "meta-llama/llama-3.1-8b": "llama-3.1-8b",
        "meta-llama/llama-3.1-8b-instruct": "llama-3.1-8b",
        "meta-llama/llama-3.1-70b": "llama-3.1-70b",
        "meta-llama/llama-3.1-70b-instruct": "llama-3.1-70b",
        "meta-llama/llama-3.3-70b-instruct": "llama-3.3-70b",
        "qwen/qwen3-235b-a22b": "qwen3-235b-a22b",
        "qwen/qwen3-235b-a22b-fp8": "qwen3-235b-a22b",
        "qwen/qwen3-30b-a3b": "qwen3-30b-a3b",
        "qwen/qwen3-32b": "qwen3-32b",
        "qwen/qwen3-32b-fp8": "qwen3-32b",
        "deepseek-ai/deepseek-v3": "deepseek-v3",
        "deepseek-ai/deepseek-r1": "deepseek-r1",
        "mistralai/mixtral-8x7b-v0.1": "mixtral-8x7b",
        "openai/gpt-oss-120b": "gpt-oss-120b",
        "openai/gpt-oss-20b": "gpt-oss-20b",
    },
    "systems": {"h100_sxm": "h100-sxm", "h200_sxm": "h200-sxm", "a100_sxm": "a100-sxm-80g"},
}
HOPPER = ("h100", "h200")
FP4 = ("fp4", "nvfp4", "mxfp4")
PRECISIONS = {"": "bf16", "bf16": "bf16", "fp16": "fp16", "float16": "fp16", "fp8": "fp8", "fp8_block": "fp8"}


@dataclass(frozen=True)
class NameMap:
    models: dict[str, str]
    systems: dict[str, str]

    def model(self, name: str) -> str | None:
        key = name.strip().lower()
        if key in self.models:
            return self.models[key]
        return key if key in list_workloads() else None

    def system(self, name: str) -> str | None:
        key = name.strip().lower()
        if key in self.systems:
            return self.systems[key]
        return key if key in list_devices() else None


def load_map(path: str | os.PathLike[str] | None = None) -> NameMap:
    """The built-in map, with a user map file (YAML: ``models: {name: workload}``,
    ``systems: {name: device}``) laid over it."""
    models = dict(BUILTIN_MAP["models"])
    systems = dict(BUILTIN_MAP["systems"])
    if path is not None:
        file = os.fspath(path)
        try:
            with open(file) as fh:
                data = yaml.safe_load(fh) or {}
        except OSError as exc:
            raise ConfigError(file, None, file, f"a readable YAML map file ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(file, None, str(exc).splitlines()[0], "valid YAML") from None
        if not isinstance(data, dict) or set(data) - {"models", "systems"}:
            raise ConfigError(file, None, sorted(data) if isinstance(data, dict) else data,
                              "a mapping with the keys 'models' and/or 'systems'")
        for key, target in (("models", models), ("systems", systems)):
            section = data.get(key) or {}
            if not isinstance(section, dict) or not all(isinstance(v, str) for v in section.values()):
                raise ConfigError(file, key, section, "a mapping of measured names to catalog names")
            target.update({str(k).strip().lower(): v.strip() for k, v in section.items()})
    return NameMap(models, systems)


@dataclass(frozen=True)
class Skipped:
    row: MeasuredRow
    reason: str

    def to_json(self) -> dict:
        return {"line": self.row.line, "id": self.row.row_id, "model": self.row.model,
                "backend": self.row.backend, "mode": self.row.mode, "reason": self.reason}


@dataclass(frozen=True)
class RowResult:
    row: MeasuredRow
    workload: str
    device: str
    measured: dict[str, float]
    predicted: dict[str, float]
    bound: str

    @property
    def group(self) -> str:
        return f"{self.row.model} / {self.row.backend}" + (" disagg" if self.row.mode == "disagg" else "")

    def error(self, metric: str) -> float:
        return (self.predicted[metric] - self.measured[metric]) / self.measured[metric]

    def to_json(self) -> dict:
        r = self.row
        return {"line": r.line, "id": r.row_id, "group": self.group, "model": r.model, "workload": self.workload,
                "backend": r.backend, "device": self.device, "isl": r.isl, "osl": r.osl,
                "concurrency": r.concurrency, "tp": r.tp, "ep": r.ep, "precision": r.precision or "bf16",
                "bound": self.bound,
                **{f"{m}_measured": self.measured[m] for m in METRICS},
                **{f"{m}_predicted": self.predicted[m] for m in METRICS},
                **{f"{m}_error": self.error(m) for m in METRICS}}


@dataclass(frozen=True)
class GroupResult:
    group: str
    rows: int
    mape: dict[str, float]
    mean_error: dict[str, float]

    def to_json(self) -> dict:
        return {"group": self.group, "rows": self.rows, "mape": dict(self.mape), "mean_error": dict(self.mean_error)}


@dataclass(frozen=True)
class ValidationReport:
    file: str
    schema: str
    rows: tuple[RowResult, ...]
    skipped: tuple[Skipped, ...]
    groups: tuple[GroupResult, ...] = field(default=())

    def to_json(self) -> dict:
        return {"file": self.file, "schema": self.schema, "simulated": len(self.rows), "skipped": len(self.skipped),
                "groups": [g.to_json() for g in self.groups], "rows": [r.to_json() for r in self.rows],
                "skipped_rows": [s.to_json() for s in self.skipped]}


@dataclass(frozen=True)
class _Plan:
    workload: str
    device: str
    precision: Precision
    parallel: Parallelism
    pools: tuple[PhasePool, PhasePool] | None = None  # disaggregated: prefill, decode


def _pool(columns) -> PhasePool:
    """A pool of the row's phase; a blank worker count reads as one worker. MoE: expert-parallel over
    ``moe_ep``; with ``moe_ep`` 1 the experts are split over the worker's tensor-parallel group, or,
    with attention data parallelism, over all its ``tp x attention_dp`` devices (vLLM and SGLang run
    the MoE layers of a data-parallel-attention engine as one group; moearch places them expert-
    parallel, which stores and reads the same bytes per device)."""
    ep = columns.moe_ep if columns.moe_ep > 1 else columns.tp * columns.attention_dp if columns.attention_dp > 1 else 1
    parallel = Parallelism(tp=columns.tp, dp=columns.attention_dp, ep=ep)
    return PhasePool(max(columns.workers, 1), parallel, columns.batch or None)


def plan_row(row: MeasuredRow, names: NameMap, seen: dict[tuple, int]) -> _Plan | str:
    """How to simulate ``row``, or why not (``seen``: setting -> first line, updated)."""
    first = seen.setdefault(row.config_key(), row.line)
    copied = seen.setdefault(("measured", row.model.lower(), row.backend, row.isl, row.osl, row.ttft_ms, row.tpot_ms),
                             row.line)
    if first != row.line:
        return f"duplicate of line {first} (the same setting measured again)"
    if copied != row.line:
        return (f"repeats the measured TTFT and TPOT of line {copied} under another setting (an artefact of the "
                "source, e.g. a tp64 row copying a tp8 row)")
    quant = {row.precision.lower(), row.gemm_quant.lower(), row.moe_quant.lower()}
    if quant & set(FP4) and any(h in row.system.lower() for h in HOPPER):
        return "nvfp4 on Hopper: an artefact of the source (Hopper has no FP4 tensor cores)"
    workload = names.model(row.model)
    if workload is None:
        return f"unknown model {row.model!r}: not in the catalog, the built-in map or the --map file"
    device = names.system(row.system)
    if device is None:
        return f"unknown system {row.system!r}: not in the built-in map or the --map file"
    if row.mode == "disagg":
        return _disagg_plan(row, workload, device)
    if row.attention_dp > 1:
        return f"attention data parallelism {row.attention_dp}: not simulated yet"
    precision = _precision_of(row)
    if isinstance(precision, str):
        return precision
    if row.ep * row.moe_tp != row.tp and row.ep > 1:
        return f"moe_ep {row.ep} x moe_tp {row.moe_tp} is not tp {row.tp}"
    try:
        parallel = Parallelism(tp=row.tp, ep=row.ep, pp=row.pp)
    except ConfigError as exc:
        return f"parallelism not runnable: {exc}"
    return _Plan(workload, device, precision, parallel)


def _precision_of(row: MeasuredRow) -> Precision | str:
    """The row's precision (its GEMM quantisation, else its precision column), or why it is not modelled."""
    dtype = PRECISIONS.get(row.gemm_quant.lower() or row.precision.lower())
    if dtype is None:
        return f"precision {row.gemm_quant or row.precision!r} not modelled (allowed: {', '.join(sorted(PRECISIONS))})"
    return Precision.of(dtype)


def _disagg_plan(row: MeasuredRow, workload: str, device: str) -> _Plan | str:
    precision = _precision_of(row)
    if isinstance(precision, str):
        return precision
    if row.prefill is None or row.decode is None or row.concurrency < 1:
        return "disaggregated row without its pools or concurrency"
    try:
        pools = (_pool(row.prefill), _pool(row.decode))
    except ConfigError as exc:
        return f"parallelism not runnable: {exc}"
    return _Plan(workload, device, precision, pools[1].parallel, pools)


def measured_metrics(row: MeasuredRow) -> dict[str, float]:
    per_request_s = (row.ttft_ms + (row.osl - 1) * row.tpot_ms) / 1e3
    return {"ttft_ms": row.ttft_ms, "tpot_ms": row.tpot_ms, "tokens_per_s": row.concurrency * row.osl / per_request_s}


def summarise(rows: list[RowResult]) -> tuple[GroupResult, ...]:
    groups: dict[str, list[RowResult]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    out = []
    for name in sorted(groups):
        members = groups[name]
        errs = {m: np.array([r.error(m) for r in members]) for m in METRICS}
        out.append(GroupResult(name, len(members), {m: float(np.abs(e).mean()) for m, e in errs.items()},
                               {m: float(e.mean()) for m, e in errs.items()}))
    return tuple(out)


def validate(path: str | os.PathLike[str], map_file: str | os.PathLike[str] | None = None,
             requests: int | None = None, every: int = 1) -> ValidationReport:
    """Simulate every mappable row of ``path`` (aggregated and disaggregated); list the others with the
    reason. ``every`` > 1 takes every ``every``-th row of the file only (a quick sample)."""
    if not isinstance(every, int) or every < 1:
        raise ConfigError(None, "every", every, "a whole number >= 1")
    schema, rows = read_measured(path)
    rows = rows[::every]
    names = load_map(map_file)
    seen: dict[tuple, int] = {}
    done: list[RowResult] = []
    skipped: list[Skipped] = []
    models: dict[str, ModelConfig] = {}
    devices: dict[str, Device] = {}
    for row in rows:
        plan = plan_row(row, names, seen)
        if isinstance(plan, str):
            skipped.append(Skipped(row, plan))
            continue
        try:
            engine = engine_preset(row.backend)
        except ConfigError:
            skipped.append(Skipped(row, f"unknown engine {row.backend!r} (trtllm, vllm, sglang)"))
            continue
        try:
            model = models[plan.workload] if plan.workload in models else load_workload(plan.workload)
            device = devices[plan.device] if plan.device in devices else load_device(plan.device)
        except ConfigError as exc:
            skipped.append(Skipped(row, f"the map names what the catalog cannot load: {exc}"))
            continue
        models[plan.workload], devices[plan.device] = model, device
        try:
            if plan.pools is not None:
                sim: Any = simulate_disaggregated(model, device, isl=row.isl, osl=row.osl, concurrency=row.concurrency,
                                                  prefill=plan.pools[0], decode=plan.pools[1],
                                                  precision=plan.precision)
            else:
                sim = simulate(model, device, isl=row.isl, osl=row.osl, engine=engine, concurrency=row.concurrency,
                               requests=requests, precision=plan.precision, parallel=plan.parallel)
        except ConfigError as exc:
            skipped.append(Skipped(row, f"not simulated: {exc.allowed}"))
            continue
        predicted = {"ttft_ms": sim.ttft_s * 1e3, "tpot_ms": sim.tpot_s * 1e3, "tokens_per_s": sim.output_tokens_per_s}
        done.append(RowResult(row, plan.workload, plan.device, measured_metrics(row), predicted, sim.bound))
    return ValidationReport(os.fspath(path), schema, tuple(done), tuple(skipped), summarise(done))
