"""`moearch coe`: Composition of Experts — model switching and an LRU-cached request stream."""
from __future__ import annotations

import click
from rich.table import Table

from accelerators.errors import ConfigError
from archmodel.coe import HOST_LINKS_PAPER, simulate_coe
from archmodel.formatting import si
from archmodel.precision import DTYPES
from moearch.cli.common import (
    console,
    device_option,
    flag_names,
    json_option,
    load_device_arg,
    load_workload_arg,
    make_precision,
    parse_routing,
    print_json,
    renamed,
)


@click.command("coe")
@click.option("--expert-model", required=True,
              help="Model of every expert: a built-in name (see `moearch workloads`) or a config.json path.")
@click.option("--experts", type=int, required=True, help="Number of expert models in DDR / host memory.")
@device_option
@click.option("--devices", type=int, default=None,
              help="Devices (sockets / GPUs) one expert runs on, tensor-parallel (default: the device's chips).")
@click.option("--concurrency", "batch", type=int, default=None,
              help="Requests in flight together (split into per-expert runs). Required.")
@renamed("--batch", "--concurrency", "batch", type=int)
@click.option("--osl", type=int, required=True, help="Output tokens per request.")
@click.option("--isl", type=int, default=128, show_default=True, help="Prompt tokens per request.")
@click.option("--requests", type=int, default=1000, show_default=True, help="Requests in the stream.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the routing draw.")
@click.option("--routing", default="uniform", show_default=True,
              help="Expert popularity: 'uniform' or 'zipf:S' (Zipf with exponent S).")
@click.option("--host-links", type=int, default=HOST_LINKS_PAPER, show_default=True,
              help="GPU systems: host links one switch copies over in parallel (1 = the SN40L paper's accounting).")
@click.option("--router-model", default=None,
              help="Optional router model kept in HBM; each batch pays its prefill.")
@click.option("--dtype", type=click.Choice(DTYPES), default="bf16", show_default=True)
@json_option
def coe(expert_model, experts, device, devices, batch, osl, isl, requests, seed, routing, host_links, router_model,
        dtype, as_json):
    """Serve a routed stream over many expert models cached in HBM: switch time, hit rate, tokens/s."""
    if batch is None:
        raise ConfigError(None, "--concurrency", None, "a whole number >= 1 (requests in flight together)")
    model = load_workload_arg(expert_model)
    dev = load_device_arg(device)
    router = load_workload_arg(router_model) if router_model else None
    with flag_names(batch="--concurrency", experts="--experts", requests="--requests", isl="--isl", osl="--osl",
                    devices="--devices", **{"host-links": "--host-links", "routing.skew": "--routing"}):
        r = simulate_coe(model, dev, experts=experts, batch=batch, osl=osl, isl=isl, requests=requests,
                         devices=devices, seed=seed, routing=parse_routing(routing), host_links=host_links,
                         precision=make_precision(dtype, None), router_model=router)
    data = r.to_json()
    if as_json:
        print_json(data)
        return
    table = Table(title=f"Composition of Experts: {experts} x {model.name} on {dev.name} ({r.devices} devices), "
                        f"batch {batch}, ISL {isl} / OSL {osl}, {requests} requests ({data['routing']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = (
        ("expert size", si(r.expert_bytes, "B")),
        ("switch path", f"{r.switch.source} -> hbm, {r.switch.links} x {r.switch.link_name} "
                        f"({si(r.switch.link_bandwidth, 'B/s')} each)"),
        ("switch time (one expert)", si(r.switch_time_s, "s")),
        ("experts cached in HBM", str(r.cache_slots)),
        ("runs / switches / hit rate", f"{r.trace.accesses} / {r.switches} / {r.trace.hit_rate:.1%}"),
        ("switching total", f"{si(r.switch_time_total_s, 's')} ({data['switch_share']:.1%} of the time)"),
        ("switching per request", si(data["switch_time_per_request_s"], "s")),
        ("prefill + decode", si(r.compute_time_s, "s")),
        ("router", si(r.router_time_s, "s")),
        ("total", si(r.total_time_s, "s")),
        ("output tokens/s", f"{r.output_tokens_per_s:,.0f}"),
    )
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def memory_map_table(mm) -> Table:
    """A rich table of an RDU memory map (``archmodel.devices.rdu.MemoryMap``), for `moearch model --memory-map`."""
    table = Table(title=f"memory map of one {mm.device} socket (x{mm.devices} devices, each the same)")
    for col in ("tier", "tensor", "instances", "bytes", "used / capacity"):
        table.add_column(col, justify="left" if col in ("tier", "tensor") else "right")
    for tier in mm.tiers:
        share = f"{si(tier.used, 'B')} / {si(tier.capacity, 'B')} ({tier.used / tier.capacity:.0%})" \
            if tier.capacity else "absent"
        table.add_row(tier.name, "", "", "", share)
        for e in tier.entries:
            table.add_row("", e.name, f"{e.instances:g}", si(e.bytes, "B"), "")
    for e in mm.overflow:
        table.add_row("overflow", e.name, f"{e.instances:g}", si(e.bytes, "B"), "does not fit")
    return table
