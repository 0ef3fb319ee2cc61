"""Report sections of the demo, one function per step, from the data each step returned."""
from __future__ import annotations

from pathlib import Path

from ..common import si
from .report import Section, Table


def modelling_sections(data: dict, out: Path) -> list[Section]:
    s = data["settings"]
    serving = sorted(data["serving"], key=lambda r: -r["output_tokens_per_s_per_device"])
    comp = Section("devices", "Mixtral-8x7B across architectures",
                   f"Offline serving of ISL {s['isl']} / OSL {s['osl']} requests in BF16 with the largest batch that "
                   "fits, each device on the fewest chips that hold the model (GPU and NPU: roofline with "
                   "measured efficiencies; RDU: fused dataflow with three memory tiers; Logic-PIM: per-operator "
                   "xPU/PIM assignment; FPGA: DSP-limited PE arrays).")
    comp.table(Table(("device", "kind", "chips", "split", "batch", "tokens/s", "tokens/s/chip", "TTFT", "TPOT",
                      "energy/token", "bottleneck"),
                     [(r["device"], r["kind"], r["devices"],
                       "tp{tp} ep{ep} pp{pp} dp{dp}".format(**r["parallel"]), r["batch"],
                       f"{r['output_tokens_per_s']:,.0f}", f"{r['output_tokens_per_s_per_device']:,.0f}",
                       si(r["ttft_s"], "s"), si(r["tpot_s"], "s"), si(r["energy_j_per_token"], "J"), r["bottleneck"])
                      for r in serving]))
    comp.image(out / "compare.png", "serving comparison across devices")
    decode = sorted(data["decode"], key=lambda r: -r["tokens_per_s_per_chip"])
    comp.text(f"Decode step alone: batch {s['decode_batch']} per tensor-parallel group, context "
              f"{s['decode_context']} tokens.")
    comp.table(Table(("device", "kind", "chips", "step", "tokens/s/chip", "bottleneck"),
                     [(r["device"], r["kind"], r["chips"], si(r["step_s"], "s"), f"{r['tokens_per_s_per_chip']:,.0f}",
                       r["bottleneck"]) for r in decode]))

    roof = Section("roofline", "Roofline: where each operator sits",
                   "The decode step's operators on 2 x H100 at their operational intensity and achieved FLOP/s; "
                   "expert GEMMs sit at Op/B ≈ tokens per expert, GQA attention at the query-group size.")
    roof.image(out / "roofline.png", "roofline")

    p = data["placement"]
    tiers = Section("tiers", "Memory-tier placement on the SN40L",
                    "Placement of Mixtral-8x7B's tensors on one SN40L socket (decode): hot, reused tensors in "
                    "on-chip SRAM, weights and KV cache in HBM while they fit, cold experts in DDR.")
    tiers.table(Table(("tier", "capacity", "used", "tensors"),
                      [(t["name"], si(t["capacity_bytes"], "B"), si(t["used_bytes"], "B"),
                        "; ".join(f"{e['name']} ({si(e['bytes'], 'B')})" for e in t["tensors"]))
                       for t in p["tiers"]]))

    coe = Section("coe", "Composition of Experts: model switching",
                  "A stream of requests, each routed to one of many Llama-2-7B experts; an expert not in HBM is "
                  "copied in (SN40L: DDR to HBM at over 1 TB/s per node; DGX: host to GPU over PCIe).")
    coe.table(Table(("system", "switch (one expert)", "vs SN40L", "switches", "hit rate", "tokens/s", "total"),
                    [(r["system"], si(r["switch_time_s"], "s"), f"{r['switch_vs_rdu']:.1f}x", r["switches"],
                      f"{r['hit_rate']:.0%}", f"{r['output_tokens_per_s']:,.0f}", si(r["total_time_s"], "s"))
                     for r in data["coe"]]))
    coe.text("The SN40L paper reports switching 31x faster than DGX A100 and 15-16x faster than DGX H100.", note=True)
    return [comp, roof, tiers, coe]
