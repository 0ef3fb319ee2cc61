"""Duplex (Logic-PIM) tables of docs/validation.md and the PIM sweep speed (printed, never asserted).

    python benchmarks/pim_duplex.py [--points N]

1. per-operator unit assignment for Mixtral-8x7B decode at batches 32, 64, 128 (context 2048,
   FP16, two devices with tp = 2: the 93 GB of weights need two 80 GB devices);
2. Duplex against the H100 it extends: offline serving at equal batch (``serve``) and a steady
   continuous-batching step (``mixed_step``: every step decodes the batch and prefills the prompt
   tokens of the sequences that finish, as one chunk);
3. design points per second of the PIM sweep path (``pim_step_latency``), one core.
Writes benchmarks/results/pim_duplex.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from accelerators.catalog import load_device  # noqa: E402
from accelerators.errors import ConfigError  # noqa: E402
from moearch.cli.common import atomic_write  # noqa: E402
from archmodel.devices.pim import operator_assignment, pim_step_latency  # noqa: E402
from archmodel.mixed import mixed_step  # noqa: E402
from archmodel.parallel import Parallelism  # noqa: E402
from archmodel.serve import serve  # noqa: E402
from archmodel.workloads import load_workload  # noqa: E402

BATCHES = (32, 64, 128)
CONTEXT = 2048
TP2 = Parallelism(tp=2)


def assignment_table(model, duplex) -> tuple[list[dict], str]:
    rows = operator_assignment(model, duplex, batches=BATCHES, context=CONTEXT, parallel=TP2)
    by = {(r["batch"], r["name"]): r for r in rows}
    names = [r["name"] for r in rows if r["batch"] == BATCHES[0]]
    head = "| operator | " + " | ".join(f"b={b}: Op/B | unit (PIM share) | xPU / PIM / Duplex µs" for b in BATCHES) + " |"
    lines = [head, "|---|" + "---:|---|---:|" * len(BATCHES)]
    for name in names:
        if by[(BATCHES[0], name)]["unit"] == "link" or by[(BATCHES[0], name)]["time_s"] == 0:
            continue
        cells = []
        for b in BATCHES:
            r = by[(b, name)]
            unit = r["unit"] + (f" ({r['pim_share']:.0%})" if r["unit"] == "xpu+pim" else "")
            cells.append(f"{r['op_per_byte']:.2f} | {unit} | {r['xpu_time_s'] * 1e6:.1f} / {r['pim_time_s'] * 1e6:.1f}"
                         f" / {r['time_s'] * 1e6:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    steps = " | ".join(f"b={b}: {by[(b, names[0])]['step_s'] * 1e3:.2f} ms" for b in BATCHES)
    lines.append(f"\nDecode step (all layers): {steps}")
    return rows, "\n".join(lines)


def serving_table(model, h100, duplex) -> tuple[list[dict], str]:
    out = []
    lines = ["| ISL / OSL | batch | H100 tok/s | Duplex tok/s | throughput gain | TPOT gain |", "|---|---:|---:|---:|---:|---:|"]
    for isl, osl in ((256, 256), (1024, 1024), (2048, 2048)):
        for batch in BATCHES:
            try:
                gpu = serve(model, h100, isl=isl, osl=osl, batch=batch, parallel=TP2)
                pim = serve(model, duplex, isl=isl, osl=osl, batch=batch, parallel=TP2)
            except ConfigError:
                continue  # the KV cache does not fit
            gain, tpot = pim.output_tokens_per_s / gpu.output_tokens_per_s, gpu.tpot_s / pim.tpot_s
            out.append({"isl": isl, "osl": osl, "batch": batch, "h100_tok_s": gpu.output_tokens_per_s,
                        "duplex_tok_s": pim.output_tokens_per_s, "gain": gain, "tpot_gain": tpot})
            lines.append(f"| {isl} / {osl} | {batch} | {gpu.output_tokens_per_s:,.0f} | {pim.output_tokens_per_s:,.0f} | "
                         f"{gain:.2f}x | {tpot:.2f}x |")
    return out, "\n".join(lines)


def continuous_table(model, h100, duplex) -> tuple[list[dict], str]:
    """Steady continuous batching: ``batch`` decodes a step; batch / OSL sequences finish a step, so
    the step also prefills batch x ISL / OSL prompt tokens (one chunk, its prefix half a prompt on
    average); decodes see ISL + OSL / 2 tokens of context on average."""
    out = []
    lines = ["| ISL / OSL | batch | chunk | MoE Op/B | H100 ms/step | Duplex ms/step | gain |", "|---|---:|---:|---:|---:|---:|---:|"]
    from archmodel.mixed import layer_op_per_byte
    for isl, osl in ((1024, 1024), (2048, 256)):
        for batch in BATCHES:
            chunk = batch * isl // osl
            kw = dict(prefill_context=max(isl - chunk, 0) // 2, parallel=TP2)
            gpu = mixed_step(model, h100, 1, chunk, batch, isl + osl // 2, **kw)
            pim = mixed_step(model, duplex, 1, chunk, batch, isl + osl // 2, **kw)
            opb = float(layer_op_per_byte(gpu.costs, "moe"))
            gain = float(gpu.latency) / float(pim.latency)
            out.append({"isl": isl, "osl": osl, "batch": batch, "chunk": chunk, "moe_op_per_byte": opb,
                        "h100_step_s": float(gpu.latency), "duplex_step_s": float(pim.latency), "gain": gain})
            lines.append(f"| {isl} / {osl} | {batch} | {chunk} | {opb:.1f} | {float(gpu.latency) * 1e3:.2f} | "
                         f"{float(pim.latency) * 1e3:.2f} | {gain:.2f}x |")
    return out, "\n".join(lines)


def sweep_speed(model, duplex, points: int) -> dict:
    rng = np.random.default_rng(0)
    b = rng.integers(1, 1024, points).astype(float)
    c = rng.integers(128, 8192, points).astype(float)
    mult = rng.uniform(1, 8, points)
    opb = rng.uniform(1, 32, points)
    kw = dict(s=1, parallel=TP2)
    pim_step_latency(model, duplex, b=b[:8], c=c[:8], bandwidth_multiple=mult[:8], op_per_byte=opb[:8], **kw)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        pim_step_latency(model, duplex, b=b, c=c, bandwidth_multiple=mult, op_per_byte=opb, **kw)
        best = min(best, time.perf_counter() - t0)
    return {"points": points, "seconds": best, "points_per_s": points / best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    ns = parser.parse_args()
    model, h100, duplex = load_workload("mixtral-8x7b"), load_device("h100-sxm"), load_device("duplex")
    rows, table = assignment_table(model, duplex)
    print(f"## Mixtral-8x7B decode on Duplex (context {CONTEXT}, FP16, tp=2): per-operator unit\n\n{table}\n")
    served, table = serving_table(model, h100, duplex)
    print(f"## Offline serving, equal batch (tp=2)\n\n{table}\n")
    steady, table = continuous_table(model, h100, duplex)
    print(f"## Continuous batching, steady step (tp=2)\n\n{table}\n")
    speed = sweep_speed(model, duplex, ns.points)
    print(f"PIM sweep path: {speed['points']:,} design points (batch, context, PIM multiple, PIM Op/B) "
          f"in {speed['seconds'] * 1e3:.0f} ms = {speed['points_per_s']:,.0f} points/s (one core)")
    result = {"assignment": rows, "serving": served, "continuous": steady, "sweep": speed}
    atomic_write(ROOT / "benchmarks" / "results" / "pim_duplex.json",
                 lambda p: p.write_text(json.dumps(result, indent=1)))


if __name__ == "__main__":
    main()
