"""Report sections of the demo, one function per step, from the data each step returned."""
from __future__ import annotations

from pathlib import Path

from archmodel.formatting import si
from moearch.demo.report import Section, Table


def modelling_sections(data: dict, out: Path) -> list[Section]:
    s = data["settings"]
    serving = sorted(data["serving"], key=lambda r: -r["output_tokens_per_s_per_device"])
    comp = Section("devices", "Mixtral-8x7B across architectures",
                   f"Serving ISL {s['isl']} / OSL {s['osl']} requests in BF16, in flight under TensorRT-LLM's "
                   "default limits with as many closed-loop clients as the engine holds (the RDU, whose model "
                   "times static batches, serves the largest static batch that fits), each device on the fewest "
                   "chips that hold the model (GPU and NPU: roofline with "
                   "measured efficiencies; RDU: fused dataflow with three memory tiers; Logic-PIM: per-operator "
                   "xPU/PIM assignment; FPGA: DSP-limited PE arrays).")
    comp.table(Table(("device", "kind", "chips", "split", "schedule", "clients/batch", "tokens/s", "tokens/s/chip",
                      "TTFT", "TPOT", "energy/token", "bottleneck"),
                     [(r["device"], r["kind"], r["devices"],
                       "tp{tp} ep{ep} pp{pp} dp{dp}".format(**r["parallel"]), r["schedule"], r["batch"],
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


def exploration_sections(data: dict, out: Path) -> list[Section]:
    objectives = data["objectives"]
    sec = Section("dse", "Design-space exploration: FPGA MoE kernel",
                  f"Space '{data['space']}' (PE array, DSP packing, buffers, HBM channels, schedule style; "
                  f"objectives {', '.join(objectives)}). Each agent had {data['budget']} unique evaluations "
                  f"(seed {data['seed']}); every evaluation is a row in the agent's SQLite job store. The genetic "
                  "algorithm leads: our DSE benchmark (docs/dse.md) ranks it first at 300 evaluations on its "
                  "interacting space, where trained multi-agent RL did no better than untrained; MARL is beside it "
                  "and random search is the baseline line.")
    sec.table(Table(("agent", "evaluations", "infeasible", "cached", *[f"best {m}" for m in objectives], "best design"),
                    [(j["agent"], j["evaluations"], j["infeasible"], j["cached"],
                      *[f"{j['best'][m]:.4g}" if j["best"] else "-" for m in objectives],
                      ", ".join(f"{k}={v}" for k, v in (j["best_design"] or {}).items()))
                     for j in data["jobs"]]))
    for rel in data["images"]:
        sec.image(out / rel, Path(rel).stem.replace("_", " "))
    return [sec]


def kernel_sections(data: dict, out: Path) -> list[Section]:
    spec = data["spec"]
    sec = Section("kernel", "Generated kernel: schedule, verification, cycles, resources",
                  f"The best design's schedule style ({spec['style']}) and PE array (capped to {spec['pe'][0]}x"
                  f"{spec['pe'][1]} so the RTL simulates in seconds) on a {spec['layer']} MoE layer scaled down by "
                  f"{spec['scale']}: d={spec['hidden']}, f={spec['ffn']}, {spec['experts']} experts, top-{spec['top_k']}, "
                  f"{'gated' if spec['gated'] else 'not gated'}, {spec['tokens']} tokens. Generated as HLS C++ and "
                  "Amaranth RTL (Verilog) from one schedule.")
    verify = data["verify"] or {}
    sims = verify.get("simulators", {})
    kpis = [("predicted cycles (FPGA model)", f"{data['predicted_cycles']:,}"),
            ("HLS C-simulation vs golden model", "bit-exact" if data["csim_bit_exact"] else "MISMATCH")]
    timing = next((s["timing"] for s in sims.values() if s.get("timing")), None)
    if timing:
        kpis.append(("measured cycles (RTL simulation)", f"{timing['measured_cycles']:,} ({timing['error']:+.1%})"))
        if timing.get("pe_utilisation") is not None:
            kpis.append(("PE utilisation in PE stages", f"{timing['pe_utilisation']:.1%}"))
    sec.kpis(kpis)
    sec.image(out / data["image"], "schedule timeline")
    if not data["rtl_available"]:
        sec.text(f"No RTL for this schedule: {data['rtl_message']}")
    if verify:
        sec.text(f"Verilator lint (-Wall with the documented waivers): {verify['lint']['outcome']}.")
        tests = sorted({t["name"] for s in sims.values() for t in s["tests"]})
        sec.table(Table(("test", *sims), [(name, *[next((t["passed"] for t in s["tests"] if t["name"] == name), "-")
                                                    for s in sims.values()]) for name in tests],
                        caption="cocotb tests of the generated RTL against the NumPy golden model"))
        if data.get("missing_simulators"):
            sec.text(f"Not installed here, so not run: {', '.join(data['missing_simulators'])} "
                     "(`make test` installs Icarus with apt-get when root).", note=True)
        partial = [name for name, s in sims.items() if len(s["tests"]) < len(tests)]
        if partial:
            sec.text(f"-: not run on {', '.join(partial)} by the demo, to keep it short (Icarus, a 4-state "
                     "event-driven simulator, takes over a minute per test on this kernel). "
                     f"`moearch verify {out / 'kernel'} --sim {partial[0]}` runs them all.", note=True)
        for name, s in sims.items():
            if s.get("error"):
                sec.text(f"{name}: {s['error'].splitlines()[0]}", note=True)
    if timing:
        sec.table(Table(("stage", "mode", "predicted cycles", "measured cycles", "error", "PE utilisation"),
                        [(s["stage"], s["mode"], s["predicted_cycles"], s["measured_cycles"],
                          f"{(s['measured_cycles'] - s['predicted_cycles']) / s['predicted_cycles']:+.1%}"
                          if s["predicted_cycles"] else "-",
                          f"{s['pe_utilisation']:.1%}" if s["pe_utilisation"] is not None else "-")
                         for s in timing["stages"]],
                        caption=f"per stage, routing '{timing['routing']}' (tokens per expert {timing['counts']})"))
    res = verify.get("resources")
    if res and res.get("data"):
        sec.table(Table(("resource", "predicted (model)", "synthesised (Yosys synth_xilinx)", "error", "target", "ok"),
                        [(r["resource"], r["predicted"], r["measured"], f"{r['error']:+.1%}", r["target"],
                          r["ok"])
                         for r in res["data"]["rows"]]))
    return [sec]


def validation_sections(data: dict, out: Path) -> list[Section]:
    """The parity plot and per-group errors of the serving simulation against measured engines."""
    sec = Section("validation", "Serving estimates against measured engines")
    if not data["available"]:
        sec.text(f"No measured data set was found (looked for {data['looked_for']}; set ${data['env']} or pass "
                 "--measured FILE to `moearch demo`), so this section is empty.", note=True)
        return [sec]
    sample = f"every {data['every']}th row of " if data["every"] > 1 else ""
    sec.text(f"`moearch validate` on {sample}{Path(data['file']).name}: {data['simulated']} rows simulated the way "
             f"they were measured (in-flight engine presets; disaggregated rows on their two pools), "
             f"{data['skipped']} listed with the reason they are not. Error = predicted / measured - 1; no figure "
             "of the model was set from these rows.")
    sec.table(Table(("group", "rows", "TTFT MAPE", "TPOT MAPE", "tok/s MAPE", "TTFT bias", "TPOT bias", "tok/s bias"),
                    [(g["group"], g["rows"], f"{g['mape']['ttft_ms']:.1%}", f"{g['mape']['tpot_ms']:.1%}",
                      f"{g['mape']['tokens_per_s']:.1%}", f"{g['mean_error']['ttft_ms']:+.1%}",
                      f"{g['mean_error']['tpot_ms']:+.1%}", f"{g['mean_error']['tokens_per_s']:+.1%}")
                     for g in data["groups"]]))
    sec.image(out / "parity.png", "predicted against measured TTFT, TPOT and throughput")
    sec.text("How far to trust these numbers: the serving figures in this report come from the same "
             "simulation, so read them with the errors above (per group, measured engines on H100). "
             "docs/validation.md lists every comparison moearch makes against published or measured "
             "figures, its error and its cause.", note=True)
    return [sec]
