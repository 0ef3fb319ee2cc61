"""`moearch demo`: the main job, end to end, with a progress display and an HTML report.

Steps (each a module of :mod:`archmodel.cli.demo`): model Mixtral-8x7B across architectures and a
Composition-of-Experts case; write ``DIR/index.html`` (self-contained) and print a summary.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .common import atomic_write, console, si


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-report"), show_default=True)
@click.option("--quick", is_flag=True, help="Smallest settings (what `make test` runs).")
def demo(out: Path, quick: bool) -> None:
    """Run the main job and write a self-contained HTML report."""
    from .demo import modelling, report, sections

    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    steps = [("modelling Mixtral-8x7B on GPU, NPU, RDU, Logic-PIM and FPGA devices", modelling.run)]
    data: dict[str, dict] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        overall = progress.add_task("moearch demo" + (" --quick" if quick else ""), total=len(steps))
        for description, step in steps:
            progress.update(overall, description=description)
            data[step.__module__.rsplit(".", 1)[-1]] = step(out, quick)
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
    body = [summary, *sections.modelling_sections(model, out)]
    page = report.render("moearch demo report",
                         "Mixture-of-Experts hardware: modelling" + (" (quick settings)" if quick else ""), body)
    index = out / "index.html"
    atomic_write(index, lambda p: p.write_text(page, encoding="utf-8"))
    atomic_write(out / "demo.json", lambda p: p.write_text(json.dumps(data, indent=2, default=float)))
    console.print(f"[bold]best serving throughput per chip:[/] {best['output_tokens_per_s_per_device']:,.0f} tokens/s "
                  f"on {best['device']} (TPOT {si(best['tpot_s'], 's')})")
    console.print(f"[bold]model switching:[/] SN40L node {coe[1]['switch_vs_rdu']:.1f}x faster than DGX A100, "
                  f"{coe[2]['switch_vs_rdu']:.1f}x than DGX H100")
    console.print(f"report: {index}  ({time.perf_counter() - start:.0f} s)")
