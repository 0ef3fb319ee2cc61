"""GPU/NPU cluster deployment: tensor/expert/pipeline/data parallelism, batch and datatypes.

Metrics come from ``archmodel.step.model_step`` (prefill and decode phases) and
``archmodel.serve.serve`` (serve phase). ``batch`` counts sequences over all devices, as in
``serve``: each of the ``dp`` replicas runs ``batch / dp`` of them as ``pp`` micro-batches, so a
decode step takes ``pp`` stage times of a micro-batch and a prefill ``2 pp - 1`` (fill and drain).

Designs that differ only in batch or context share one vectorised ``model_step`` call; step totals
are summed in a fixed operator order, so a design's metrics never depend on its batch-mates.

Energy: ``archmodel.energy`` with ``archmodel.serve``'s accounting — every device runs each of
the ``pp`` micro-batches through its stage (dynamic energy), plus static power for the whole run.

Subclasses (other domains served by the same step/serve models, e.g. Logic-PIM) add knobs that
reshape the device in :meth:`ClusterAdapter.reshape`.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from accelerators.errors import ConfigError
from archmodel.energy import step_energy
from archmodel.parallel import Parallelism
from archmodel.precision import DTYPES, Precision
from archmodel.routing import Routing
from archmodel.serve import serve
from archmodel.step import kv_bytes_per_sequence, model_step, stored_weight_bytes
from archmodel.workloads import load_workload

from .base import Adapter, Context, InvalidDesign, Knob, Metrics, Outcome, Settings, guarded

GB = 1e9


KNOBS: dict[str, Knob] = {
    "tp": Knob("tp", "tensor-parallel degree", "int", minimum=1),
    "ep": Knob("ep", "expert-parallel degree", "int", minimum=1),
    "pp": Knob("pp", "pipeline-parallel degree", "int", minimum=1),
    "dp": Knob("dp", "data-parallel replicas of the tp x pp group", "int", minimum=1),
    "dtype": Knob("dtype", "weights datatype (int8 = W8A8, int4 weight-only)", "str", choices=DTYPES),
    "kv_dtype": Knob("kv_dtype", "KV-cache datatype (default: the activations')", "str", choices=DTYPES),
    "zipf": Knob("zipf", "Zipf exponent of expert popularity (0 = uniform routing)", "float", minimum=0),
}

METRICS: dict[str, str] = {
    "latency_s": "s; decode: one token for every sequence, prefill: the prompt, serve: prefill + all decode",
    "ttft_s": "s to the first token (prefill; 0 in decode)",
    "tpot_s": "s per output token of a sequence (decode step; 0 in prefill)",
    "tokens_per_s": "tokens/s over all devices (decode/serve: output tokens, prefill: prompt tokens)",
    "tokens_per_s_per_device": "tokens/s per device",
    "devices": "devices in use (tp x pp x dp)",
    "energy_j": "J for the whole step or request batch, all devices (archmodel.energy)",
    "energy_per_token_j": "J per token (as counted in tokens_per_s)",
    "weights_gb": "GB of weights stored per device",
    "kv_gb": "GB of KV cache per device at the full context",
    "memory_gb": "GB per device (weights + KV)",
    "capacity_gb": "GB of main memory per device",
    "memory_fraction": "memory_gb / capacity_gb",
}


class ClusterAdapter(Adapter):
    domain: ClassVar[str] = "cluster"
    description: ClassVar[str] = "GPU/NPU deployment: parallelism, batch, datatypes (archmodel roofline + serve)"
    device_kinds: ClassVar[tuple[str, ...]] = ("gpu", "npu")
    knobs: ClassVar[dict[str, Knob]] = KNOBS
    metrics: ClassVar[dict[str, str]] = METRICS
    precheck_metrics: ClassVar[tuple[str, ...]] = ("devices", "weights_gb", "kv_gb", "memory_gb", "capacity_gb",
                                                   "memory_fraction")

    def reshape(self, device, settings: Settings):
        """The device a design runs on, after its domain knobs (none here)."""
        return device

    def device(self, context: Context, settings: Settings):
        return self.reshape(super().device(context, settings), settings)

    def precheck(self, context: Context, batch: Sequence[Settings]) -> list[Outcome]:
        def one(s: Settings) -> Metrics:
            device = self.device(context, s)
            try:
                precision, parallel, _ = _plan(s)
                _per_group(s, parallel)
                device.peak(precision.compute_dtype)
            except (ConfigError, ValueError) as error:
                raise InvalidDesign(str(error)) from None
            return _memory(device, s)
        return guarded(one, batch)

    def evaluate(self, context: Context, batch: Sequence[Settings]) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(batch)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, s in enumerate(batch):
            if s.workload.phase == "serve":
                groups[("serve", i)].append(i)
            else:
                w = s.workload
                groups[(w.model, w.phase, s.knobs, s.device)].append(i)
        for key, members in groups.items():
            if key[0] == "serve":
                results[members[0]] = guarded(lambda s: _serve(self.device(context, s), s), [batch[members[0]]])[0]
                continue
            try:
                outcomes = _steps(self.device(context, batch[members[0]]), [batch[i] for i in members])
            except Exception as error:  # noqa: BLE001 - the group's designs all fail with this error
                outcomes = [error] * len(members)
            for i, outcome in zip(members, outcomes):
                results[i] = outcome
        return [r if r is not None else RuntimeError("design not evaluated") for r in results]


def _plan(s: Settings) -> tuple[Precision, Parallelism, Routing]:
    k = s.knob_map
    precision = Precision.of(str(k.get("dtype", "bf16")), k.get("kv_dtype"))  # type: ignore[arg-type]
    parallel = Parallelism(tp=int(k.get("tp", 1)), ep=int(k.get("ep", 1)), pp=int(k.get("pp", 1)),
                           dp=int(k.get("dp", 1)))
    skew = float(k.get("zipf", 0.0))
    return precision, parallel, (Routing("zipf", skew) if skew > 0 else Routing())


def _per_group(s: Settings, parallel: Parallelism) -> int:
    batch = s.workload.batch
    if batch % parallel.dp:
        raise ValueError(f"batch {batch} is not a multiple of dp = {parallel.dp}")
    return batch // parallel.dp


def _memory(device, s: Settings) -> Metrics:

    model = load_workload(s.workload.model)
    precision, parallel, _ = _plan(s)
    per_group = _per_group(s, parallel)
    tokens = s.workload.context + (s.workload.output if s.workload.phase == "serve" else 1)
    weights = stored_weight_bytes(model, precision, parallel)
    kv = kv_bytes_per_sequence(model, precision, parallel, tokens) * per_group
    capacity = device.main_memory.capacity
    return {"devices": float(parallel.devices), "weights_gb": weights / GB, "kv_gb": kv / GB,
            "memory_gb": (weights + kv) / GB, "capacity_gb": capacity / GB, "memory_fraction": (weights + kv) / capacity}


def _steps(device, members: Sequence[Settings]) -> list[Outcome]:
    """Prefill or decode steps of designs sharing model, knobs and device: one model_step call."""

    first = members[0]
    model = load_workload(first.workload.model)
    precision, parallel, routing = _plan(first)
    pp = parallel.pp
    prefill = first.workload.phase == "prefill"
    outcomes: list[Outcome] = []
    valid: list[int] = []
    b, c = [], []
    memory: list[Metrics] = []
    for i, s in enumerate(members):
        try:
            per_group = _per_group(s, parallel)
            memory.append(_memory(device, s))
        except Exception as error:  # noqa: BLE001
            outcomes.append(error)
            continue
        outcomes.append({})
        valid.append(i)
        b.append(per_group / pp)
        c.append(0 if prefill else s.workload.context)
    if not valid:
        return outcomes
    b_arr, c_arr = np.asarray(b, float), np.asarray(c, float)
    s_arr = np.asarray([members[i].workload.context for i in valid], float) if prefill else 1.0
    step = model_step(model, device, b=b_arr, s=s_arr, c=c_arr, precision=precision, parallel=parallel,
                      routing=routing)
    stage = _fixed_order_sum(step.times.costs.count, step.times.time, b_arr.shape)
    latency = stage * ((2 * pp - 1) if prefill else pp)
    joules = step_energy(step, device, precision, parallel)
    dynamic = _fixed_order_sum(np.ones(len(joules.count)), joules.by_op(), b_arr.shape)
    energies = parallel.devices * (pp * dynamic + joules.figures.static_power * latency)
    for j, i in enumerate(valid):
        s = members[i]
        t = float(latency[j])
        tokens = s.workload.batch * (s.workload.context if prefill else 1)
        energy = float(energies[j])
        outcomes[i] = {
            "latency_s": t, "ttft_s": t if prefill else 0.0, "tpot_s": 0.0 if prefill else t,
            "tokens_per_s": tokens / t, "tokens_per_s_per_device": tokens / t / parallel.devices,
            "energy_j": energy, "energy_per_token_j": energy / tokens, **memory[j]}
    return outcomes


def _fixed_order_sum(count: np.ndarray, per_op: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``sum_i count[i] * per_op[i]`` per design, one operator at a time in table order.

    ``Step.latency`` sums with a BLAS dot whose summation order depends on how many designs share
    the call, which changes the last bits; this fixed order makes a design's numbers independent
    of the other designs in its batch (so every backend and a resumed job agree exactly)."""
    rows = np.broadcast_to(per_op, (len(count), *shape))
    total = np.zeros(shape)
    for c, row in zip(count, rows):
        total = total + float(c) * row
    return total


def _serve(device, s: Settings) -> Metrics:

    precision, parallel, routing = _plan(s)
    _per_group(s, parallel)
    w = s.workload
    result = serve(load_workload(w.model), device, isl=w.context, osl=w.output, batch=w.batch,
                   precision=precision, parallel=parallel, routing=routing)
    latency = result.prefill_s + result.decode_s
    tokens = result.batch * w.output
    energy = result.energy_j_per_token * tokens
    return {"latency_s": latency, "ttft_s": result.ttft_s, "tpot_s": result.tpot_s,
            "tokens_per_s": result.output_tokens_per_s,
            "tokens_per_s_per_device": result.output_tokens_per_s_per_device,
            "energy_j": energy, "energy_per_token_j": energy / tokens, **_memory(device, s)}
