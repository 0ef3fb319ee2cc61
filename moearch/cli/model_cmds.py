"""`moearch model`, `opb` and `roofline`: one workload on one device (`serve`: :mod:`moearch.cli.serve_cmd`)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from archmodel.crossover import crossover_batches
from archmodel.devices.gpu import BOUND_NAMES
from archmodel.devices.rdu import memory_map as rdu_memory_map
from archmodel.formatting import si
from archmodel.plots import roofline_plot
from archmodel.step import model_step
from moearch.cli.coe_cmd import memory_map_table
from moearch.cli.common import (
    MODEL_FLAGS,
    atomic_write,
    console,
    device_option,
    flag_names,
    json_option,
    load_device_arg,
    load_workload_arg,
    make_parallel,
    make_precision,
    parallel_options,
    parse_routing,
    precision_options,
    print_json,
    renamed,
    whole_number,
    workload_option,
)


def _step_from_options(workload, device, devices, tp, ep, pp, dtype, kv_dtype, routing, phase, batch, isl, context):
    model = load_workload_arg(workload)
    dev = load_device_arg(device)
    parallel = make_parallel(dev, devices, tp, ep, pp)
    precision = make_precision(dtype, kv_dtype)
    if phase == "prefill":
        s, c = (isl or 2048), 0
    else:
        s, c = 1, (context if context is not None else (isl or 2048))
    whole_number("--sequences", batch)
    step = model_step(model, dev, b=batch, s=s, c=c, precision=precision, parallel=parallel,
                      routing=parse_routing(routing))
    return model, dev, parallel, precision, step


def step_json(step) -> dict:
    costs, times = step.costs, step.times
    flat = lambda a: a.reshape(len(costs.names), -1)[:, 0]  # noqa: E731
    flops, nbytes, opb, t = flat(costs.flops), flat(costs.bytes), flat(costs.op_per_byte), flat(times.time)
    bound = flat(times.bound)
    ops = [{"name": n, "kind": costs.kinds[i], "group": costs.groups[i], "count": float(costs.count[i]),
            "flops": float(flops[i]), "bytes": float(nbytes[i]), "op_per_byte": float(opb[i]),
            "comm_bytes": float(flat(costs.comm)[i]), "time_s": float(t[i]),
            "bound": BOUND_NAMES[int(bound[i])], "unit": times.units[i], "tier": times.tiers[i]}
           for i, n in enumerate(costs.names)]
    return {"latency_s": float(step.latency), "bottleneck": step.bottleneck(), "weight_tier": step.weight_tier,
            "ops": ops}


@click.command("model")
@workload_option
@device_option
@parallel_options
@click.option("--phase", type=click.Choice(["prefill", "decode"]), default="decode", show_default=True)
@click.option("--sequences", "batch", type=int, default=1, show_default=True,
              help="Sequences in the step, per tensor-parallel group.")
@renamed("--batch", "--sequences", "batch", type=int)
@click.option("--isl", type=int, default=None, help="Prompt tokens (prefill; decode context when --context is absent).")
@click.option("--context", type=int, default=None, help="Tokens already cached (decode).")
@precision_options
@click.option("--memory-map", is_flag=True, help="RDU devices: print which tensors each memory tier holds.")
@json_option
@flag_names(**MODEL_FLAGS)
def model(workload, device, devices, tp, ep, pp, phase, batch, isl, context, dtype, kv_dtype, routing, memory_map,
          as_json):
    """One forward step: per-operator FLOPs, bytes, Op/B, time, bound, unit and tier."""
    m, dev, parallel, precision, step = _step_from_options(workload, device, devices, tp, ep, pp, dtype, kv_dtype,
                                                           routing, phase, batch, isl, context)
    data = step_json(step)
    data.update({"workload": m.name, "device": dev.name, "phase": phase, "batch": batch,
                 "parallel": {"tp": parallel.tp, "ep": parallel.ep, "pp": parallel.pp, "dp": parallel.dp}})
    if memory_map:
        s, c = (isl or 2048, 0) if phase == "prefill" else (1, context if context is not None else (isl or 2048))
        mm = rdu_memory_map(m, dev, b=batch, s=s, c=c, precision=precision, parallel=parallel,
                            routing=parse_routing(routing))
        data["memory_map"] = mm.to_json()
    if as_json:
        print_json(data)
        return
    table = Table(title=f"{m.name} on {dev.name} — {phase}, batch {batch}, {precision.weights}, "
                        f"tp{parallel.tp} ep{parallel.ep} pp{parallel.pp}: {data['latency_s'] * 1e3:.3f} ms/step, "
                        f"{data['bottleneck']}-bound")
    for col in ("operator", "x", "FLOPs", "bytes", "Op/B", "time", "share", "bound", "unit", "tier"):
        table.add_column(col, justify="left" if col in ("operator", "bound", "unit", "tier") else "right")
    total = data["latency_s"]
    for op in data["ops"]:
        share = op["count"] * op["time_s"] / total if total else 0
        moved = op["comm_bytes"] if op["unit"] == "link" else op["bytes"]
        table.add_row(op["name"], f"{op['count']:g}", si(op["flops"]), si(moved, "B"), f"{op['op_per_byte']:.2f}",
                      si(op["time_s"], "s"), f"{share:.1%}", op["bound"], op["unit"], op["tier"])
    console.print(table)
    if memory_map:
        console.print(memory_map_table(mm))


@click.command("opb")
@workload_option
@device_option
@parallel_options
@click.option("--context", type=int, default=2048, show_default=True, help="Decode context for the crossover search.")
@precision_options
@json_option
@flag_names(**MODEL_FLAGS)
def opb(workload, device, devices, tp, ep, pp, context, dtype, kv_dtype, routing, as_json):
    """Each operator's Op/B formula and the decode batch at which it crosses the device's ridge point."""
    m, dev = load_workload_arg(workload), load_device_arg(device)
    parallel = make_parallel(dev, devices, tp, ep, pp)
    precision = make_precision(dtype, kv_dtype)
    rows = crossover_batches(m, dev, precision, parallel, context)
    if as_json:
        print_json(rows)
        return
    ridge = rows[0]["ridge_op_per_byte"] if rows else 0
    table = Table(title=f"{m.name} on {dev.name}: Op/B per operator (decode, context {context}); ridge {ridge:.0f} Op/B")
    for col in ("operator", "Op/B formula", "Op/B @ b=1", "crossover batch"):
        table.add_column(col, overflow="fold")
    for r in rows:
        cross = r["crossover_batch"]
        table.add_row(r["name"], r["formula"], f"{r['op_per_byte_b1']:.3g}",
                      "never (<= 65536)" if cross is None else f"{cross:,.0f}")
    console.print(table)


@click.command("roofline")
@workload_option
@device_option
@parallel_options
@click.option("--phase", type=click.Choice(["prefill", "decode"]), default="decode", show_default=True)
@click.option("--sequences", "batch", type=int, default=32, show_default=True,
              help="Sequences in the step, per tensor-parallel group.")
@renamed("--batch", "--sequences", "batch", type=int)
@click.option("--isl", type=int, default=None, help="Prompt tokens (prefill; decode context when --context is absent).")
@click.option("--context", type=int, default=None, help="Tokens already cached (decode).")
@precision_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PNG file to write.")
@flag_names(**MODEL_FLAGS)
def roofline(workload, device, devices, tp, ep, pp, phase, batch, isl, context, dtype, kv_dtype, routing, output):
    """Plot the step's operators on the device's roofline, labelled."""
    m, dev, parallel, precision, step = _step_from_options(workload, device, devices, tp, ep, pp, dtype, kv_dtype,
                                                           routing, phase, batch, isl, context)
    title = f"{m.name} on {dev.name}: {phase}, batch {batch}, {precision.weights}, tp{parallel.tp} ep{parallel.ep}"
    atomic_write(output, lambda p: roofline_plot(step, dev, precision, p, title))
    click.echo(f"wrote {output}")
