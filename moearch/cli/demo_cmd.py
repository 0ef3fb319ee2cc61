"""`moearch demo`: the main job, end to end, with a progress display and an HTML report.

Steps (each a module of :mod:`moearch.demo`): model Mixtral-8x7B across architectures and a
Composition-of-Experts case (``modelling``); check the serving simulation against measured engines
(``validation``: the parity plot of the development set, when it is found); explore the FPGA MoE-kernel space with multi-agent RL
and two baselines (``exploration``); generate, C-simulate, verify and synthesise the kernel of the
best design (``kernel``); write ``DIR/index.html`` (self-contained) and print a summary.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from accelerators.errors import ConfigError
from archmodel.formatting import si
from moearch.cli.common import atomic_write, console
from moearch.demo import exploration, kernel, modelling, report, sections, validation
from moearch.demo.progress import StepLog, demo_progress
from moearch.demo.screenshot import find_chromium, first_screen


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-report"), show_default=True,
              help="Report folder (index.html, demo.json, charts, the kernel).")
@click.option("--quick", is_flag=True, help="Smallest settings (what `make test` runs).")
@click.option("--measured", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Measured serving rows to validate against (default: $MOEARCH_MEASURED, else the development "
                   "set ../shared/datasets/aic-silicon/h100-measured.csv if present).")
@click.option("--screenshot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also render the report's first screen to this PNG with headless Chromium (the README's "
                   "picture: docs/images/demo-report.png).")
def demo(out: Path, quick: bool, measured: Path | None, screenshot: Path | None) -> None:
    """Run the main job and write a self-contained HTML report."""

    if screenshot is not None and find_chromium() is None:  # before the job, not after it
        raise ConfigError(None, "--screenshot", str(screenshot), "Chromium installed (apt-get install chromium)")
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    steps = [
        ("modelling", "modelling Mixtral-8x7B on GPU, NPU, RDU, Logic-PIM and FPGA devices",
         lambda log: modelling.run(out, quick, log)),
        ("validation", "the serving simulation against measured engines",
         lambda log: validation.run(out, quick, measured, log)),
        ("exploration", "exploring the FPGA MoE-kernel space (genetic, multi-agent RL, random)",
         lambda log: exploration.run(out, quick, log)),
        ("kernel", "the best design's kernel",
         lambda log: kernel.run(out, quick, (data["exploration"]["best"] or {}).get("best_design"), log)),
    ]
    data: dict[str, dict] = {}
    with demo_progress(console) as progress:
        overall = progress.add_task("moearch demo" + (" --quick" if quick else ""), total=len(steps))
        counter = progress.add_task("", total=1, visible=False)
        for name, description, step in steps:
            progress.update(overall, description=description)
            data[name] = step(StepLog(progress, overall, counter, name, start))
            progress.advance(overall)
        progress.update(overall, description="done")

    model = data["modelling"]
    best = max(model["serving"], key=lambda r: r["output_tokens_per_s_per_device"])
    coe = model["coe"]
    summary = report.Section("summary", "Summary")
    summary.kpis([
        ("best tokens/s per chip (serving)", f"{best['output_tokens_per_s_per_device']:,.0f} on {best['device']}"),
        ("SN40L vs DGX A100 model switching", f"{coe[1]['switch_vs_rdu']:.1f}x faster"),
        ("SN40L vs DGX H100 model switching", f"{coe[2]['switch_vs_rdu']:.1f}x faster"),
    ])
    k = data["kernel"]
    verify = k["verify"] or {}
    timing = next((s["timing"] for s in verify.get("simulators", {}).values() if s.get("timing")), None)
    summary.kpis([("kernel C-simulation", "bit-exact" if k["csim_bit_exact"] else "MISMATCH"),
                  ("kernel RTL verification", "passed" if verify.get("passed") else "FAILED" if verify else "no RTL"),
                  ("measured vs predicted cycles", f"{timing['error']:+.1%}" if timing else "-")])
    body = [summary, *sections.modelling_sections(model, out), *sections.validation_sections(data["validation"], out),
            *sections.exploration_sections(data["exploration"], out),
            *sections.kernel_sections(k, out)]
    page = report.render("moearch demo report",
                         "Mixture-of-Experts hardware: modelling, design-space exploration, kernel generation and "
                         "verification" + (" (quick settings)" if quick else ""), body)
    index = out / "index.html"
    atomic_write(index, lambda p: p.write_text(page, encoding="utf-8"))
    atomic_write(out / "demo.json", lambda p: p.write_text(json.dumps(data, indent=2, default=float)))
    if screenshot is not None:
        first_screen(index, screenshot)
    console.print(f"[bold]best serving throughput per chip:[/] {best['output_tokens_per_s_per_device']:,.0f} tokens/s "
                  f"on {best['device']} (TPOT {si(best['tpot_s'], 's')})")
    console.print(f"[bold]model switching:[/] SN40L node {coe[1]['switch_vs_rdu']:.1f}x faster than DGX A100, "
                  f"{coe[2]['switch_vs_rdu']:.1f}x than DGX H100")
    if timing:
        console.print(f"[bold]kernel:[/] C-sim {'bit-exact' if k['csim_bit_exact'] else 'MISMATCH'}, RTL "
                      f"{'passed' if verify.get('passed') else 'FAILED'} on {', '.join(verify['simulators'])}, "
                      f"{timing['measured_cycles']:,} cycles measured vs {timing['predicted_cycles']:,} predicted")
    if screenshot is not None:
        console.print(f"first screen: {screenshot}")
    console.print(f"report: {index}  ({time.perf_counter() - start:.0f} s)")
