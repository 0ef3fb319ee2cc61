"""Demo step 1: Mixtral-8x7B across GPU, NPU, RDU, Logic-PIM and FPGA devices; Composition of Experts.

Every number comes from the same models the CLI exposes (``compare``, ``model``, ``coe``); this
module only chooses the settings and draws the pictures.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accelerators.catalog import load_device
from archmodel.coe import simulate_coe
from archmodel.compare import compare_chart, compare_rows, fewest_devices, split_plan
from archmodel.devices.rdu import memory_map
from archmodel.parallel import Parallelism
from archmodel.plots import roofline_plot
from archmodel.precision import Precision
from archmodel.routing import Routing
from archmodel.step import model_step
from archmodel.workloads import load_workload
from moearch.cli.common import atomic_write
from moearch.demo.progress import Note, silent

WORKLOAD = "mixtral-8x7b"
#: Devices of every architecture the models cover: GPU, NPU, dataflow RDU, Logic-PIM, FPGA.
DEVICES = ("a100-sxm-80g", "h100-sxm", "h200-sxm", "mi300x", "ascend-910b", "ascend-910c", "sn40l", "duplex",
           "alveo-u280")
#: Composition of Experts: 150 Llama-2-7B experts (the SN40L paper's Samba-CoE setting) on one
#: SN40L node against DGX-class 8-GPU systems.
COE_SYSTEMS = (("SN40L node (8 sockets)", "sn40l-node", 8), ("DGX A100 (8 x A100 80GB)", "a100-sxm-80g", 8),
               ("DGX H100 (8 x H100)", "h100-sxm", 8))


@dataclass(frozen=True)
class ModellingSettings:
    isl: int
    osl: int
    decode_batch: int
    decode_context: int
    coe_experts: int
    coe_requests: int

    @classmethod
    def of(cls, quick: bool) -> "ModellingSettings":
        if quick:
            return cls(isl=128, osl=128, decode_batch=32, decode_context=1024, coe_experts=40, coe_requests=64)
        return cls(isl=1024, osl=1024, decode_batch=32, decode_context=2048, coe_experts=150, coe_requests=400)


def decode_rows(settings: ModellingSettings) -> list[dict]:
    """One decode step (batch, context) per device, on the same split ``compare`` picks."""
    model = load_workload(WORKLOAD)
    precision = Precision.of("bf16")
    rows = []
    for name in DEVICES:
        device = load_device(name)
        n = fewest_devices(model, device, precision, settings.decode_context, 1)
        parallel = split_plan(model, device, n)
        step = model_step(model, device, b=settings.decode_batch, s=1, c=settings.decode_context,
                          precision=precision, parallel=parallel)
        latency = float(step.latency)
        sequences = settings.decode_batch * parallel.dp
        rows.append({"device": name, "kind": device.kind, "chips": n, "step_s": latency,
                     "tokens_per_s_per_chip": sequences / latency / n, "bottleneck": step.bottleneck()})
    return rows


def coe_rows(settings: ModellingSettings) -> list[dict]:
    expert = load_workload("llama-2-7b")
    rows: list[dict[str, float | str]] = []
    for label, name, devices in COE_SYSTEMS:
        r = simulate_coe(expert, load_device(name), experts=settings.coe_experts, batch=8, osl=settings.osl,
                         requests=settings.coe_requests, devices=devices, seed=0)
        rows.append({"system": label, "switch_time_s": r.switch_time_s, "switches": r.switches,
                     "hit_rate": r.trace.hit_rate, "output_tokens_per_s": r.output_tokens_per_s,
                     "total_time_s": r.total_time_s})
    base = float(rows[0]["switch_time_s"])
    for row in rows:
        row["switch_vs_rdu"] = float(row["switch_time_s"]) / base
    return rows


def placement(settings: ModellingSettings) -> dict:
    """Where Mixtral's tensors live on one SN40L socket (decode, batch and context of the demo)."""
    model = load_workload(WORKLOAD)
    mm = memory_map(model, load_device("sn40l"), b=settings.decode_batch, s=1, c=settings.decode_context,
                    precision=Precision.of("bf16"), parallel=Parallelism(tp=1))
    return mm.to_json()


def run(out: Path, quick: bool, note: Note = silent) -> dict:
    """All of step 1; writes the PNGs into ``out`` and returns the data for the report."""
    settings = ModellingSettings.of(quick)
    model = load_workload(WORKLOAD)
    note(f"serving ISL {settings.isl} / OSL {settings.osl} on {len(DEVICES)} devices")
    serving = compare_rows(model, list(DEVICES), isl=settings.isl, osl=settings.osl, precision=Precision.of("bf16"),
                           routing=Routing())
    atomic_write(out / "compare.png", lambda p: compare_chart(
        serving, p, f"{WORKLOAD} serving, ISL {settings.isl} / OSL {settings.osl}, bf16"))
    note("decode roofline on 2 x H100, decode step per device, SN40L placement, Composition of Experts")
    device = load_device("h100-sxm")
    precision = Precision.of("bf16")
    step = model_step(model, device, b=settings.decode_batch, s=1, c=settings.decode_context, precision=precision,
                      parallel=Parallelism(tp=2))
    atomic_write(out / "roofline.png", lambda p: roofline_plot(
        step, device, precision, p, f"{WORKLOAD} decode on 2 x h100-sxm (tp2), batch {settings.decode_batch}, "
                                    f"context {settings.decode_context}"))
    return {"settings": settings.__dict__, "serving": serving, "decode": decode_rows(settings),
            "coe": coe_rows(settings), "placement": placement(settings)}
