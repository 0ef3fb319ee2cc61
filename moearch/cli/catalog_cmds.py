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
        print_json([_device_row(d) for d in rows])
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


def _device_row(d) -> dict:
    """The catalog figures of one device (per chip; bandwidths per direction), for ``--json`` and the
    generated table in docs/devices.md."""
    up = d.interconnect.scale_up
    return {"name": d.name, "kind": d.kind, "chips": d.chips, "extends": d.extends, "description": d.description,
            "peak": dict(d.compute.peak), "memory": [{"name": t.name, "capacity": t.capacity,
                                                     "read_bandwidth": t.read_bandwidth} for t in d.memory],
            "scale_up": None if up is None else {"name": up.name, "bandwidth": up.bandwidth, "domain": up.domain,
                                                 "topology": up.topology},
            "tdp": d.power.tdp if d.power else None, "peak_source": d.sources.get("compute.peak", "")}


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


def _workload_row(m) -> dict:
    """The shape of one built-in model, for ``--json`` and the generated table in docs/workloads.md."""
    a, moe = m.attention, m.moe
    return {"name": m.name, "model_type": m.model_type, "layers": m.num_layers, "dense_layers": m.num_dense_layers,
            "moe_layers": m.num_moe_layers, "hidden": m.hidden_size,
            "attention": {"kind": a.kind, "heads": a.num_heads, "kv_heads": a.num_kv_heads, "head_dim": a.head_dim,
                          "kv_lora_rank": a.kv_lora_rank, "rope_dim": a.qk_rope_head_dim, "qk_norm": a.qk_norm,
                          "sinks": a.sinks},
            "sliding_window": m.sliding_window, "windowed_layers": m.windowed_layers(),
            "dense_ffn": None if m.dense_ffn is None else {"intermediate": m.dense_ffn.intermediate_size,
                                                           "gated": m.dense_ffn.gated},
            "hidden_act": m.hidden_act,
            "moe": None if moe is None else {"experts": moe.num_experts, "top_k": moe.top_k,
                                             "intermediate": moe.expert_intermediate_size,
                                             "shared": moe.num_shared_experts, "shared_intermediate": moe.shared_intermediate_size},
            "total_params": m.total_params(), "active_params": m.active_params(),
            "kv_bytes_per_token_fp16": m.kv_cache_bytes_per_token(2), "source": m.source}


@click.command("workloads")
@json_option
def workloads(as_json: bool) -> None:
    """List the built-in models."""
    rows = [load_workload(name) for name in list_workloads()]
    if as_json:
        print_json([_workload_row(m) for m in rows])
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
