"""Dataflow RDU (SN40L-like) serving a Composition of Experts: SRAM, HBM, DDR sizes and sockets.

Metrics come from ``archmodel.coe.simulate_coe``: a seeded request stream routed over
``experts`` copies of the workload model (uniform or Zipf popularity), served ``batch`` at a
time; experts live in DDR and are copied to HBM on demand (LRU cache in the HBM the KV cache
leaves free); each run is timed by the RDU dataflow model (``archmodel.step``, device kind
``rdu``), so SRAM capacity changes what fuses on chip.

Knobs reshape the per-socket memory (``sram_mb``, ``hbm_gb``, ``ddr_tb``) and set the number of
``sockets`` the experts are tensor-parallel over, the number of ``experts``, the stream length
(``requests``), the routing (``zipf``, ``route_seed``) and the datatype. Workload: ``model`` is
the expert model, ``batch`` requests at a time of ``context`` input and ``output`` output tokens.

Before evaluation (``precheck_metrics``): memory totals and the HBM cache slots, computed with
the same accounting as ``simulate_coe``; a design whose HBM holds no expert, or whose DDR cannot
hold all experts, is invalid (rejected, not evaluated).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from archmodel.coe import expert_bytes, simulate_coe
from archmodel.precision import DTYPES, Precision
from archmodel.routing import Routing
from archmodel.workloads import load_workload

from ..overrides import apply_device_overrides
from .base import Adapter, Context, InvalidDesign, Knob, Metrics, Outcome, Settings, guarded

KNOBS: dict[str, Knob] = {
    "sram_mb": Knob("sram_mb", "on-chip SRAM per socket (MB)", "float", minimum=1),
    "hbm_gb": Knob("hbm_gb", "HBM per socket (GB)", "float", minimum=1),
    "ddr_tb": Knob("ddr_tb", "DDR per socket (TB)", "float", minimum=0.001),
    "sockets": Knob("sockets", "sockets serving each expert (tensor parallel)", "int", minimum=1),
    "experts": Knob("experts", "expert models in the composition", "int", minimum=1),
    "requests": Knob("requests", "requests in the simulated stream (default 256)", "int", minimum=1),
    "zipf": Knob("zipf", "Zipf exponent of expert popularity (0 = uniform)", "float", minimum=0),
    "route_seed": Knob("route_seed", "seed of the request routing draw", "int", minimum=0),
    "dtype": Knob("dtype", "weights datatype", "str", choices=DTYPES),
}

PRECHECK: dict[str, str] = {
    "sockets": "sockets", "sram_mb_total": "MB of SRAM, all sockets", "hbm_gb_total": "GB of HBM, all sockets",
    "ddr_tb_total": "TB of DDR, all sockets", "expert_gb": "GB of weights of one expert",
    "ddr_fraction": "experts' bytes / DDR", "cache_slots": "experts the free HBM caches at once",
}
METRICS: dict[str, str] = {
    "tokens_per_s": "output tokens/s of the whole stream", "tokens_per_s_per_socket": "output tokens/s per socket",
    "latency_s": "mean s per batch of requests (compute, switches)", "total_time_s": "s for the whole stream",
    "switch_share": "share of the time spent copying experts DDR -> HBM", "hit_rate": "HBM expert-cache hit rate",
    "switches": "expert copies DDR -> HBM", "switch_time_s": "s to copy one expert", **PRECHECK,
}


def _plan(settings: Settings):

    k = settings.knob_map
    skew = float(k.get("zipf", 0.0))
    return (Precision.of(str(k.get("dtype", "bf16"))), Routing("zipf", skew) if skew > 0 else Routing(),
            int(k.get("sockets", 8)), int(k.get("experts", 150)), int(k.get("requests", 256)),
            int(k.get("route_seed", 0)))


def _memory(device, settings: Settings) -> Metrics:

    model = load_workload(settings.workload.model)
    precision, _, sockets, experts, _, _ = _plan(settings)
    w = settings.workload
    size = expert_bytes(model, precision)
    kv = w.batch * (w.context + w.output) * model.kv_cache_bytes_per_token(precision.kv_bytes)
    free = sockets * device.main_memory.capacity - kv
    slots = int(free // size) if free > 0 else 0
    ddr = sockets * device.tier("ddr").capacity if device.has_tier("ddr") else 0.0
    if slots < 1:
        raise InvalidDesign(f"{sockets} x {device.main_memory.capacity / 1e9:.0f} GB HBM holds the KV cache "
                            f"({kv / 1e9:.1f} GB) but no {size / 1e9:.1f} GB expert")
    if experts * size > ddr:
        raise InvalidDesign(f"{experts} experts of {size / 1e9:.1f} GB exceed {sockets} x DDR ({ddr / 1e12:.2f} TB)")
    return {"sockets": float(sockets), "sram_mb_total": sockets * device.tier("sram").capacity / 1e6,
            "hbm_gb_total": sockets * device.main_memory.capacity / 1e9, "ddr_tb_total": ddr / 1e12,
            "expert_gb": size / 1e9, "ddr_fraction": experts * size / ddr, "cache_slots": float(slots)}


def _serve(device, settings: Settings) -> Metrics:

    memory = _memory(device, settings)
    precision, routing, sockets, experts, requests, seed = _plan(settings)
    w = settings.workload
    r = simulate_coe(load_workload(w.model), device, experts=experts, batch=w.batch, osl=w.output, isl=w.context,
                     requests=requests, devices=sockets, seed=seed, routing=routing, precision=precision)
    batches = math.ceil(requests / w.batch)
    return {"tokens_per_s": r.output_tokens_per_s, "tokens_per_s_per_socket": r.output_tokens_per_s / sockets,
            "latency_s": r.total_time_s / batches, "total_time_s": r.total_time_s,
            "switch_share": r.switch_time_total_s / r.total_time_s, "hit_rate": r.trace.hit_rate,
            "switches": float(r.switches), "switch_time_s": r.switch_time_s, **memory}


class CoeAdapter(Adapter):
    domain: ClassVar[str] = "rdu-coe"
    description: ClassVar[str] = "Dataflow RDU serving a Composition of Experts (archmodel.coe + RDU step model)"
    device_kinds: ClassVar[tuple[str, ...]] = ("rdu",)
    knobs: ClassVar[dict[str, Knob]] = KNOBS
    metrics: ClassVar[dict[str, str]] = METRICS
    precheck_metrics: ClassVar[tuple[str, ...]] = tuple(PRECHECK)

    def device(self, context: Context, settings: Settings):
        device = super().device(context, settings)
        k = settings.knob_map
        updates = [(path, float(k[name]) * scale) for name, path, scale in (
            ("sram_mb", "memory.sram.capacity", 1e6), ("hbm_gb", "memory.hbm.capacity", 1e9),
            ("ddr_tb", "memory.ddr.capacity", 1e12)) if name in k]
        return apply_device_overrides(device, updates, si=True)

    def precheck(self, context: Context, batch: Sequence[Settings]) -> list[Outcome]:
        return guarded(lambda s: _memory(self.device(context, s), s), batch)

    def evaluate(self, context: Context, batch: Sequence[Settings]) -> list[Outcome]:
        return guarded(lambda s: _serve(self.device(context, s), s), batch)
