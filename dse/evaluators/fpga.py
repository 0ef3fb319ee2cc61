"""FPGA MoE kernel: PE array, on-chip buffer, HBM channels and InTAR schedule style.

Metrics come from ``archmodel.fpga.schedule_moe_layer`` (the schedule the kernel generator
emits): its total cycles and its resource estimate (DSP, LUT, FF, BRAM36, URAM). One schedule per
design gives both; the resource metrics are the adapter's precheck metrics, so constraints such
as ``dsp <= 9024`` reject a design before its cycles are used (the schedule is memoised, the
evaluation reuses it).

The layer: the workload model's MoE shape (hidden, expert ffn, experts, top-k, gated) with
``tokens`` = batch (decode) or batch x context (prefill) tokens, unless the ``tokens`` knob says
otherwise; tokens per expert are balanced (``uniform_counts``) or, with ``zipf`` > 0, Zipf
popularity rounded to whole tokens by largest remainder.

``buffer_kib`` is the on-chip memory the kernel may use: BRAM36 blocks first (4.5 KiB each),
then URAM blocks (36 KiB each), both capped by the part. A design whose array does not fit the
DSPs, or whose buffers fit no schedule variant, is invalid (rejected, not evaluated).

Energy: archmodel's energy model works on operator-table steps, not on this kernel schedule, so
energy here is a stated power model: ``energy_j = TDP x (DSPs used / DSPs on the part) x
latency`` — the card's thermal design power in proportion to the DSP share the kernel occupies,
for as long as the layer runs. It ranks designs by DSP-time; it is not a measured figure.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import ClassVar

import numpy as np

from accelerators.errors import ConfigError
from accelerators.kinds.fpga import FpgaSpec
from archmodel.fpga import make_budget
from archmodel.fpga.tasks import MoELayer, uniform_counts
from archmodel.routing import Routing, expert_popularity
from archmodel.workloads import load_workload
from codegen.schedule import schedule_moe_layer

from .base import Adapter, Context, InvalidDesign, Knob, Metrics, Outcome, Settings, guarded
from .energy import tdp_energy

BRAM36_KIB = 4608 / 1024
URAM_KIB = 36864 / 1024

KNOBS: dict[str, Knob] = {
    "pe_rows": Knob("pe_rows", "PE array rows", "int", minimum=1),
    "pe_cols": Knob("pe_cols", "PE array columns", "int", minimum=1),
    "buffer_kib": Knob("buffer_kib", "on-chip buffer budget (KiB; BRAM first, then URAM)", "int", minimum=1),
    "hbm_channels": Knob("hbm_channels", "HBM pseudo-channels the kernel reads weights through", "int", minimum=1),
    "schedule": Knob("schedule", "execution style", "str", choices=("intar", "dataflow", "sequential")),
    "stream_bytes": Knob("stream_bytes", "token stream word bytes", "int", choices=(1, 2, 4, 8, 16, 32, 64)),
    "macs_per_dsp": Knob("macs_per_dsp", "int8 MACs packed per DSP", "int", minimum=1),
    "tokens": Knob("tokens", "tokens in the layer (default from the workload)", "int", minimum=1),
    "zipf": Knob("zipf", "Zipf exponent of expert popularity (0 = balanced)", "float", minimum=0),
}

RESOURCE_METRICS: dict[str, str] = {
    "dsp": "DSP slices", "lut": "LUTs", "ff": "flip-flops", "bram36": "BRAM36 blocks", "uram": "URAM blocks",
    "bram_kib": "KiB of on-chip RAM used (BRAM36 x 4.5 + URAM x 36)",
    "dsp_fraction": "DSPs used / DSPs on the part", "lut_fraction": "LUTs used / on the part",
    "ff_fraction": "FFs used / on the part", "fits": "1 if every resource fits the part and budget, else 0",
    "pe_macs": "MACs per cycle of the PE array",
}
METRICS: dict[str, str] = {
    "latency_s": "s for one MoE layer", "cycles": "kernel clock cycles for one MoE layer",
    "tokens_per_s": "tokens/s through the layer",
    "energy_j": "J for one layer: TDP x DSP share x latency (a stated power model)",
    "energy_per_token_j": "J per token", **RESOURCE_METRICS,
}


def _counts(tokens: int, experts: int, top_k: int, skew: float) -> tuple[int, ...]:

    total = tokens * top_k
    if skew <= 0:
        return uniform_counts(MoELayer(tokens, 1, 1, experts, top_k))
    share = expert_popularity(experts, top_k, Routing("zipf", skew)) / top_k * total
    share = np.minimum(share, tokens)
    counts = np.floor(share).astype(int)
    order = np.argsort(-(share - counts), kind="stable")
    for e in order[: total - int(counts.sum())]:
        counts[e] += 1
    return tuple(int(c) for c in counts)


def _buffers(fpga, kib: int) -> tuple[int, int]:
    bram = min(fpga.bram36, int(kib // BRAM36_KIB))
    rest = kib - bram * BRAM36_KIB
    uram = min(fpga.uram, int(np.ceil(max(rest, 0.0) / URAM_KIB))) if rest > BRAM36_KIB else 0
    return bram, uram


@lru_cache(maxsize=4096)
def _schedule(context: Context, settings: Settings):
    """(schedule result, device) of one design; InvalidDesign when it cannot be built."""

    device = FpgaKernelAdapter().device(context, settings)
    k = settings.knob_map
    model = load_workload(settings.workload.model)
    if model.moe is None:
        raise InvalidDesign(f"{model.name} has no MoE layer")
    w = settings.workload
    tokens = int(k.get("tokens") or (w.batch * w.context if w.phase == "prefill" else w.batch))
    fpga = device.section(FpgaSpec)
    if fpga is None:
        raise InvalidDesign(f"{device.name} has no fpga section")
    bram, uram = _buffers(fpga, int(k.get("buffer_kib", (fpga.bram36 * BRAM36_KIB + fpga.uram * URAM_KIB))))
    try:
        budget = make_budget(device, int(k.get("pe_rows", 16)), int(k.get("pe_cols", 16)),
                             macs_per_dsp=int(k.get("macs_per_dsp", 1)),
                             hbm_channels=None if k.get("hbm_channels") is None else int(k["hbm_channels"]),
                             bram36=bram, uram=uram)
        shape = MoELayer(tokens, model.hidden_size, model.moe.expert_intermediate_size, model.moe.num_experts,
                         model.moe.top_k, model.moe.gated)
        counts = _counts(tokens, shape.experts, shape.top_k, float(k.get("zipf", 0.0)))
        result = schedule_moe_layer(shape, counts, budget, style=str(k.get("schedule", "intar")),
                                    stream_bytes=int(k.get("stream_bytes", 16)))
    except ConfigError as error:
        raise InvalidDesign(str(error)) from None
    return result, device


def _resources(result, device) -> Metrics:
    r, b, f = result.resources, result.budget, device.require_section(FpgaSpec)
    return {"dsp": float(r.dsp), "lut": float(r.lut), "ff": float(r.ff), "bram36": float(r.bram36),
            "uram": float(r.uram), "bram_kib": r.bram36 * BRAM36_KIB + r.uram * URAM_KIB,
            "dsp_fraction": r.dsp / f.dsp, "lut_fraction": r.lut / f.lut, "ff_fraction": r.ff / f.ff,
            "fits": 1.0 if r.fits(b) else 0.0, "pe_macs": float(b.rows * b.cols)}


def _metrics(result, device) -> Metrics:
    latency = result.latency_s
    tokens = result.shape.tokens
    energy = tdp_energy(device, 1, latency, utilisation=min(1.0, result.resources.dsp / device.require_section(FpgaSpec).dsp))
    return {"latency_s": latency, "cycles": float(result.total_cycles), "tokens_per_s": tokens / latency,
            "energy_j": energy, "energy_per_token_j": energy / tokens, **_resources(result, device)}


class FpgaKernelAdapter(Adapter):
    domain: ClassVar[str] = "fpga-kernel"
    description: ClassVar[str] = "InTAR-style MoE kernel on an FPGA (archmodel.fpga schedule, cycles, resources)"
    device_kinds: ClassVar[tuple[str, ...]] = ("fpga",)
    knobs: ClassVar[dict[str, Knob]] = KNOBS
    metrics: ClassVar[dict[str, str]] = METRICS
    precheck_metrics: ClassVar[tuple[str, ...]] = tuple(RESOURCE_METRICS)

    def precheck(self, context: Context, batch: Sequence[Settings]) -> list[Outcome]:
        return guarded(lambda s: _resources(*_schedule(context, s)), batch)

    def evaluate(self, context: Context, batch: Sequence[Settings]) -> list[Outcome]:
        return guarded(lambda s: _metrics(*_schedule(context, s)), batch)
