"""`moearch demo`: the main job. Models Mixtral-8x7B serving across the catalog's devices."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.table import Table


from .common import atomic_write, console, si

DEMO_WORKLOAD = "mixtral-8x7b"
#: One or more devices of every architecture the models cover: GPU, NPU, dataflow RDU, Logic-PIM, FPGA.
DEMO_DEVICES = ("a100-sxm-80g", "h100-sxm", "h200-sxm", "mi300x", "ascend-910b", "ascend-910c", "sn40l", "duplex",
                "alveo-u280")
DEMO_ISL, DEMO_OSL = 1024, 1024


def architecture_comparison(workload: str, devices: tuple[str, ...], isl: int, osl: int) -> list[dict]:
    """Serving estimate of ``workload`` on each device, each on the fewest of its chips that hold it."""
    from ..precision import Precision
    from ..routing import Routing
    from ..workloads import load_workload
    from .compare_cmd import compare_rows
    return compare_rows(load_workload(workload), list(devices), isl=isl, osl=osl, precision=Precision.of("bf16"),
                        routing=Routing())


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-report"), show_default=True)
@click.option("--quick", is_flag=True, help="Smallest settings (what `make test` runs).")
def demo(out: Path, quick: bool) -> None:
    """Run the main job: Mixtral-8x7B across GPU, NPU, RDU, Logic-PIM and FPGA devices, and a roofline plot."""
    from accelerators.catalog import load_device
    from ..plots import roofline_plot
    from ..precision import Precision
    from ..step import model_step
    from ..workloads import load_workload
    from ..parallel import Parallelism

    start = time.perf_counter()
    isl, osl = (128, 128) if quick else (DEMO_ISL, DEMO_OSL)
    out.mkdir(parents=True, exist_ok=True)
    with console.status("modelling Mixtral-8x7B serving on GPU, NPU, RDU, Logic-PIM and FPGA devices"):
        rows = architecture_comparison(DEMO_WORKLOAD, DEMO_DEVICES, isl, osl)
    table = Table(title=f"{DEMO_WORKLOAD} serving, ISL {isl} / OSL {osl}, bf16, largest batch that fits, "
                        "each device on the fewest chips that hold the model")
    for col in ("device", "kind", "chips", "batch", "TTFT", "TPOT", "tokens/s", "tokens/s/chip", "energy/token",
                "bottleneck"):
        table.add_column(col, justify="left" if col in ("device", "kind", "bottleneck") else "right")
    for r in sorted(rows, key=lambda r: -r["output_tokens_per_s_per_device"]):
        table.add_row(r["device"], r["kind"], str(r["devices"]), str(r["batch"]), si(r["ttft_s"], "s"),
                      si(r["tpot_s"], "s"), f"{r['output_tokens_per_s']:,.0f}",
                      f"{r['output_tokens_per_s_per_device']:,.0f}", si(r["energy_j_per_token"], "J"), r["bottleneck"])
    console.print(table)
    atomic_write(out / "serve.json", lambda p: p.write_text(json.dumps(rows, indent=2)))
    from .compare_cmd import compare_chart
    atomic_write(out / "compare.png", lambda p: compare_chart(rows, p, f"{DEMO_WORKLOAD}, ISL {isl} / OSL {osl}, bf16"))

    model = load_workload(DEMO_WORKLOAD)
    dev = load_device("h100-sxm")
    precision = Precision.of("bf16")
    step = model_step(model, dev, b=32, s=1, c=isl, precision=precision, parallel=Parallelism(tp=2))
    png = out / "roofline.png"
    atomic_write(png, lambda p: roofline_plot(step, dev, precision, p,
                                              f"{DEMO_WORKLOAD} decode on 2 x h100-sxm (tp2), batch 32, context {isl}"))
    console.print(f"wrote {out / 'serve.json'}, {out / 'compare.png'} and {png} in {time.perf_counter() - start:.1f} s")
