"""`moearch compare`: one workload served on several devices, side by side (table, JSON, bar chart).

The rows, the device counts and the split come from :mod:`archmodel.compare`; this command parses
the flags and prints or draws them."""
from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from accelerators.errors import ConfigError
from archmodel.compare import SCHEDULES, compare_chart, compare_rows
from archmodel.serving import PRESETS
from archmodel.formatting import si
from moearch.cli.common import (
    check_positions,
    MODEL_FLAGS,
    atomic_write,
    console,
    flag_names,
    json_option,
    positions_option,
    load_workload_arg,
    make_precision,
    parse_concurrency,
    parse_routing,
    precision_options,
    print_json,
    renamed,
    whole_number,
    workload_option,
)


def _device_names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    if not names or any(not n for n in names):
        raise ConfigError(None, "--device", text, "a comma-separated list of catalog devices or YAML paths, e.g. h100-sxm,ascend-910c")
    return names


@click.command("compare")
@workload_option
@click.option("--device", "-d", "device", required=True,
              help="Comma-separated catalog devices or device YAML paths, e.g. h100-sxm,ascend-910c,cloudmatrix384.")
@click.option("--isl", type=int, required=True, help="Input (prompt) tokens per request.")
@click.option("--osl", type=int, required=True, help="Output tokens per request.")
@click.option("--devices", "devices", type=int, default=None,
              help="Devices of each kind to use (default: the fewest that hold the model).")
@click.option("--concurrency", "batch", default="auto", show_default=True,
              help="Closed-loop clients on each device kind (static: the batch), or 'auto' (what the engine holds; "
                   "static: the most whose KV cache fits).")
@renamed("--batch", "--concurrency", "batch")
@click.option("--schedule", type=click.Choice(list(SCHEDULES)), default="inflight", show_default=True,
              help="inflight: the engine's in-flight batching (a kind whose model times static batches only, the "
                   "RDU, falls back to static and its row says so); static: one batch prefilled and decoded in lock step.")
@click.option("--engine", type=click.Choice(list(PRESETS)), default="trtllm", show_default=True,
              help="Engine preset of the in-flight schedule.")
@precision_options
@positions_option
@json_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG bar chart to write.")
def compare(workload, device, isl, osl, devices, batch, schedule, engine, dtype, kv_dtype, routing, beyond_positions,
            as_json, output):
    """Serve one workload on several devices: tokens/s, TPOT, energy per token and bottleneck, side by side."""
    model = load_workload_arg(workload)
    check_positions(model, isl + osl, "--isl + --osl", beyond_positions)
    names = _device_names(device)
    whole_number("--devices", devices)
    batch = parse_concurrency(batch)
    precision = make_precision(dtype, kv_dtype)
    with flag_names(**MODEL_FLAGS, batch="--concurrency"):
        rows = compare_rows(model, names, isl=isl, osl=osl, precision=precision, routing=parse_routing(routing),
                            devices=devices, batch=batch, schedule=schedule, engine=engine)
    title = f"{model.name}, ISL {isl} / OSL {osl}, {dtype}"
    if output is not None:
        atomic_write(output, lambda p: compare_chart(rows, p, title))
    if as_json:
        print_json({"workload": model.name, "isl": isl, "osl": osl, "dtype": dtype, "rows": rows})
        return
    table = Table(title=title + " (energy: modelled dynamic energy, in flight at the mean batch; TDP bound = TDP x "
                                "devices / tokens/s)")
    for col in ("device", "devices", "split", "schedule", "clients/batch", "tokens/s", "tokens/s/device", "TTFT", "TPOT",
                "energy/token", "TDP bound", "bottleneck"):
        table.add_column(col, justify="left" if col in ("device", "split", "bottleneck") else "right")
    for r in rows:
        p = r["parallel"]
        bound = r["tdp_bound_j_per_token"]
        table.add_row(r["device"], str(r["devices"]), f"tp{p['tp']} ep{p['ep']} pp{p['pp']} dp{p['dp']}",
                      r["schedule"] + (f" ({r['engine']})" if r["engine"] else ""), str(r["batch"]),
                      f"{r['output_tokens_per_s']:,.0f}", f"{r['output_tokens_per_s_per_device']:,.0f}",
                      si(r["ttft_s"], "s"), si(r["tpot_s"], "s"), si(r["energy_j_per_token"], "J"),
                      si(bound, "J") if bound else "-", r["bottleneck"])
    console.print(table)
    defaults = sorted({r["device"] for r in rows if r["energy_defaults"]})
    if defaults:
        console.print(f"energy: defaults by device kind used for {', '.join(defaults)} (see archmodel.energy)")
    if output is not None:
        click.echo(f"wrote {output}")
