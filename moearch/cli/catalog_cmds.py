"""`moearch devices` and `moearch workloads`."""
from __future__ import annotations

import click
from rich.table import Table

from accelerators.catalog import list_devices, load_device
from archmodel.formatting import si
from archmodel.workloads import list_workloads, load_workload
from moearch.cli.common import console, json_option, print_json


@click.group("devices", invoke_without_command=True)
@json_option
@click.pass_context
def devices(ctx: click.Context, as_json: bool) -> None:
    """List the device catalog (or `devices show NAME`)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = [load_device(name) for name in list_devices()]
    if as_json:
        print_json([{"name": d.name, "kind": d.kind, "chips": d.chips} for d in rows])
        return
    table = Table(title="Device catalog")
    for col in ("name", "kind", "chips", "matrix peak/chip", "main memory", "bandwidth", "TDP"):
        table.add_column(col, justify="left" if col in ("name", "kind") else "right")
    for d in rows:
        main = d.main_memory
        dtype = "bf16" if "bf16" in d.compute.peak else max(d.compute.peak, key=lambda k: d.compute.peak[k])
        table.add_row(d.name, d.kind, str(d.chips), f"{si(d.compute.peak[dtype], 'OP/s')} {dtype}", si(main.capacity, "B"),
                      si(main.read_bandwidth, "B/s"), si(d.power.tdp, "W") if d.power else "-")
    console.print(table)


@devices.command("show")
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show one device (catalog name or YAML path) with every figure and its source."""
    d = load_device(name)
    data = d.model_dump(mode="json")
    if as_json:
        print_json(data)
        return
    table = Table(title=f"{d.name} ({d.kind}) — {d.description}")
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in _flatten(data):
        if key != "sources" and not key.startswith("sources."):
            table.add_row(key, str(value))
    console.print(table)
    src = Table(title="sources")
    src.add_column("field")
    src.add_column("source")
    for key, cite in sorted(d.sources.items()):
        src.add_row(key, cite)
    console.print(src)


def _flatten(data, prefix: str = ""):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _flatten(value, f"{prefix}{key}.")
    elif isinstance(data, list) and data and isinstance(data[0], dict):
        for item in data:
            yield from _flatten(item, f"{prefix}{item.get('name', '?')}.")
    else:
        yield prefix.rstrip("."), data


@click.command("workloads")
@json_option
def workloads(as_json: bool) -> None:
    """List the built-in models."""
    rows = [load_workload(name) for name in list_workloads()]
    if as_json:
        print_json([{"name": m.name, "layers": m.num_layers, "hidden": m.hidden_size,
                     "total_params": m.total_params(), "active_params": m.active_params()} for m in rows])
        return
    table = Table(title="Built-in workloads")
    for col in ("name", "layers", "hidden", "attention", "experts", "params", "active"):
        table.add_column(col, justify="left" if col in ("name", "attention") else "right")
    for m in rows:
        a = m.attention
        att = f"{a.kind} {a.num_heads}/{a.num_kv_heads}" if a.kind != "mla" else f"mla {a.num_heads}h r{a.kv_lora_rank}"
        shared = f" +{m.moe.num_shared_experts}s" if m.moe and m.moe.num_shared_experts else ""
        exp = f"{m.moe.num_experts} top-{m.moe.top_k}{shared}" if m.moe else "-"
        table.add_row(m.name, str(m.num_layers), str(m.hidden_size), att, exp, si(m.total_params()), si(m.active_params()))
    console.print(table)
