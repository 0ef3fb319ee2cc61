"""`moearch serve`: one workload served on one device type, in-flight (the default) or as one static batch."""
from __future__ import annotations

import click
from rich.table import Table

from accelerators.errors import ConfigError
from archmodel.formatting import si
from archmodel.serve import serve
from archmodel.serving import PRESETS, engine_capacity, engine_preset, simulate
from moearch.cli.common import (
    check_positions,
    MODEL_FLAGS,
    console,
    device_option,
    flag_names,
    json_option,
    positions_option,
    load_device_arg,
    load_workload_arg,
    make_parallel,
    make_precision,
    parallel_options,
    parse_concurrency,
    parse_routing,
    precision_options,
    print_json,
    renamed,
    workload_option,
)

#: the engine-limit flags of `serve` -> the EnginePreset field each sets
LIMIT_FLAGS = {"max_batch_size": "--max-batch-size", "max_num_tokens": "--max-num-tokens",
               "kv_block_tokens": "--kv-block-tokens", "memory_fraction": "--memory-fraction",
               "chunked_prefill": "--chunked-prefill"}


def _engine_options(f):
    for option in reversed([
        click.option("--schedule", type=click.Choice(["inflight", "static"]), default="inflight", show_default=True,
                     help="inflight: requests scheduled step by step as the engine does (in-flight batching, "
                          "chunked prefill, paged KV); static: one batch prefilled at once and decoded in lock step."),
        click.option("--engine", type=click.Choice(list(PRESETS)), default="trtllm", show_default=True,
                     help="Engine whose documented default limits the in-flight schedule uses (archmodel/serving/engines.py)."),
        click.option("--max-batch-size", type=int, default=None, help="Requests in flight at once (engine default)."),
        click.option("--max-num-tokens", type=int, default=None, help="Tokens one forward step takes (engine default)."),
        click.option("--kv-block-tokens", type=int, default=None, help="Tokens per paged KV block (engine default)."),
        click.option("--memory-fraction", type=float, default=None,
                     help="The engine's memory share for the KV cache (engine default; archmodel/serving/engines.py)."),
        click.option("--chunked-prefill/--no-chunked-prefill", default=None,
                     help="Split long prompts over steps (engine default)."),
        click.option("--rate", type=float, default=None,
                     help="Open loop: Poisson arrivals per second on all devices (instead of --concurrency)."),
        click.option("--requests", type=int, default=None,
                     help="Requests simulated (default: ten per client, at least 100; open loop 200)."),
    ]):
        f = option(f)
    return f


@click.command("serve")
@workload_option
@device_option
@parallel_options
@click.option("--isl", type=int, required=True, help="Input (prompt) tokens per request.")
@click.option("--osl", type=int, required=True, help="Output tokens per request.")
@click.option("--concurrency", "batch", default="auto", show_default=True,
              help="Clients with a request in flight on all devices (closed loop), or 'auto': as many as the "
                   "engine holds at once (its KV blocks or --max-batch-size; static: the most whose KV cache fits).")
@renamed("--batch", "--concurrency", "batch")
@_engine_options
@precision_options
@positions_option
@json_option
@flag_names(**MODEL_FLAGS, **LIMIT_FLAGS, batch="--concurrency", concurrency="--concurrency", rate="--rate",
            requests="--requests", engine="--engine", schedule="--schedule")
def serve_cmd(workload, device, devices, tp, ep, pp, isl, osl, batch, schedule, engine, max_batch_size, max_num_tokens,
              kv_block_tokens, memory_fraction, chunked_prefill, rate, requests, dtype, kv_dtype, routing, beyond_positions,
              as_json):
    """Serving estimate of an ISL/OSL workload: TTFT, TPOT and output tokens/s.

    By default the requests are scheduled as ENGINE schedules them (in-flight batching within its
    limits; each limit is a flag); --schedule static prefills one batch at once and decodes it in
    lock step (an upper bound no engine reaches at large batches)."""
    m, dev = load_workload_arg(workload), load_device_arg(device)
    check_positions(m, isl + osl, "--isl + --osl", beyond_positions)
    parallel = make_parallel(dev, devices, tp, ep, pp)
    precision = make_precision(dtype, kv_dtype)
    batch = parse_concurrency(batch)
    routing_ = parse_routing(routing)
    limits = {"max_batch_size": max_batch_size, "max_num_tokens": max_num_tokens, "kv_block_tokens": kv_block_tokens,
              "memory_fraction": memory_fraction, "chunked_prefill": chunked_prefill}
    if schedule == "static":
        given = [(LIMIT_FLAGS[k], v) for k, v in limits.items() if v is not None] + \
                [(f, v) for f, v in (("--rate", rate), ("--requests", requests)) if v is not None]
        if given:
            raise ConfigError(None, given[0][0], given[0][1], "no engine limit with --schedule static (they shape "
                              "the in-flight schedule only)")
        r = serve(m, dev, isl=isl, osl=osl, batch=batch, precision=precision, parallel=parallel, routing=routing_)
        _print_static(r.to_json() | {"schedule": "static", "workload": m.name, "device": dev.name}, r, m, dev,
                      isl, osl, dtype, as_json)
        return
    preset = engine_preset(engine).with_limits(**limits)
    capacity = engine_capacity(m, dev, precision, parallel, preset, isl, osl)
    if rate is not None and batch != "auto":
        raise ConfigError(None, "--rate", rate, "either --rate (open loop) or --concurrency (closed loop), not both")
    concurrency = None if rate is not None else (capacity.requests * parallel.dp if batch == "auto" else batch)
    result = simulate(m, dev, isl=isl, osl=osl, engine=preset, concurrency=concurrency, rate=rate,
                      requests=requests, precision=precision, parallel=parallel, routing=routing_)
    data = result.to_json() | {
        "schedule": "inflight", "workload": m.name, "device": dev.name, "engine_limits": preset.to_json(),
        "capacity": capacity.to_json(),
        "concurrency_limit": capacity.limit if batch == "auto" and rate is None else None}
    if as_json:
        print_json(data)
        return
    _print_inflight(data, m, dev, isl, osl, dtype)


def _print_static(data, r, m, dev, isl, osl, dtype, as_json) -> None:
    if as_json:
        print_json(data)
        return
    table = Table(title=f"{m.name} on {r.devices} x {dev.name}, ISL {isl} / OSL {osl}, {dtype}, static batch")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in (("batch", str(r.batch)), ("TTFT", si(r.ttft_s, "s")), ("TPOT", si(r.tpot_s, "s")),
                       ("output tokens/s", f"{r.output_tokens_per_s:,.0f}"),
                       ("output tokens/s/device", f"{r.output_tokens_per_s_per_device:,.0f}"),
                       ("bottleneck", r.bottleneck), ("weights/device", si(r.memory.weights_bytes, "B")),
                       ("KV cache/device", si(r.memory.kv_bytes, "B")), ("capacity/device", si(r.memory.capacity_bytes, "B")),
                       ("weights in", r.weight_tier)):
        table.add_row(key, value)
    console.print(table)


def _print_inflight(data, m, dev, isl, osl, dtype) -> None:
    table = Table(title=f"{m.name} on {data['devices']} x {dev.name}, ISL {isl} / OSL {osl}, {dtype}, "
                        f"{data['engine']} in-flight")
    table.add_column("metric")
    table.add_column("value", justify="right")
    load = f"{data['rate']:g} requests/s" if data["rate"] is not None else str(data["concurrency"])
    if data["concurrency_limit"]:
        load += f" (auto: {data['concurrency_limit']})"
    for key, value in (("concurrency" if data["rate"] is None else "arrival rate", load),
                       ("TTFT", si(data["ttft_s"], "s")), ("TPOT", si(data["tpot_s"], "s")),
                       ("output tokens/s", f"{data['output_tokens_per_s']:,.0f}"),
                       ("output tokens/s/device", f"{data['output_tokens_per_s_per_device']:,.0f}"),
                       ("mean batch", f"{data['mean_batch']:.1f}"), ("bound by", data["bound"]),
                       ("KV blocks/device", f"{data['kv_blocks']:,}"), ("requests simulated", str(data["requests"]))):
        table.add_row(key, value)
    console.print(table)
