"""`moearch demo`: the main job. Models Mixtral-8x7B serving across the catalog's devices."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.table import Table

from accelerators.errors import ConfigError

from .common import atomic_write, console, si

DEMO_WORKLOAD = "mixtral-8x7b"
DEMO_DEVICES = ("a100-sxm-80g", "h100-sxm", "h200-sxm", "mi300x", "ascend-910b", "ascend-910c")
DEMO_ISL, DEMO_OSL = 1024, 1024


def smallest_fit(model, device, precision, isl: int, osl: int, max_devices: int = 64):
    """The fewest tensor-parallel devices (powers of two) on which at least one request fits."""
    from ..parallel import Parallelism
    from ..serve import max_batch
    n = 1
    while n <= max_devices:
        parallel = Parallelism(tp=n)
        if max_batch(model, device, precision, parallel, isl + osl) >= 1:
            return parallel
        n *= 2
    return None


def serve_comparison(workload: str, devices: tuple[str, ...], isl: int, osl: int) -> list[dict]:
    from accelerators.catalog import load_device
    from ..precision import Precision
    from ..serve import serve
    from ..workloads import load_workload
    model = load_workload(workload)
    precision = Precision.of("bf16")
    rows = []
    for name in devices:
        dev = load_device(name)
        parallel = smallest_fit(model, dev, precision, isl, osl)
        if parallel is None:
            continue
        r = serve(model, dev, isl=isl, osl=osl, batch="auto", precision=precision, parallel=parallel)
        rows.append(r.to_json() | {"device": name, "kind": dev.kind, "tp": parallel.tp})
    return rows


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-report"), show_default=True)
@click.option("--quick", is_flag=True, help="Smallest settings (what `make test` runs).")
def demo(out: Path, quick: bool) -> None:
    """Run the main job: a serving comparison of Mixtral-8x7B across devices, and a roofline plot."""
    from accelerators.catalog import load_device
    from ..plots import roofline_plot
    from ..precision import Precision
    from ..step import model_step
    from ..workloads import load_workload
    from ..parallel import Parallelism

    start = time.perf_counter()
    isl, osl = (128, 128) if quick else (DEMO_ISL, DEMO_OSL)
    out.mkdir(parents=True, exist_ok=True)
    with console.status("modelling Mixtral-8x7B serving on the catalog's GPUs and NPUs"):
        rows = serve_comparison(DEMO_WORKLOAD, DEMO_DEVICES, isl, osl)
    if not rows:
        raise ConfigError(None, "devices", DEMO_DEVICES, "at least one device that can hold the model")
    table = Table(title=f"{DEMO_WORKLOAD} serving, ISL {isl} / OSL {osl}, bf16, largest batch that fits")
    for col in ("device", "devices", "batch", "TTFT", "TPOT", "tokens/s", "tokens/s/device", "bottleneck"):
        table.add_column(col, justify="left" if col in ("device", "bottleneck") else "right")
    for r in sorted(rows, key=lambda r: -r["output_tokens_per_s_per_device"]):
        table.add_row(r["device"], str(r["tp"]), str(r["batch"]), si(r["ttft_s"], "s"), si(r["tpot_s"], "s"),
                      f"{r['output_tokens_per_s']:,.0f}", f"{r['output_tokens_per_s_per_device']:,.0f}", r["bottleneck"])
    console.print(table)
    atomic_write(out / "serve.json", lambda p: p.write_text(json.dumps(rows, indent=2)))

    model = load_workload(DEMO_WORKLOAD)
    dev = load_device("h100-sxm")
    precision = Precision.of("bf16")
    step = model_step(model, dev, b=32, s=1, c=isl, precision=precision, parallel=Parallelism(tp=2))
    png = out / "roofline.png"
    atomic_write(png, lambda p: roofline_plot(step, dev, precision, p,
                                              f"{DEMO_WORKLOAD} decode on 2 x h100-sxm (tp2), batch 32, context {isl}"))
    console.print(f"wrote {out / 'serve.json'} and {png} in {time.perf_counter() - start:.1f} s")
