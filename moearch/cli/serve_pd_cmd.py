"""`moearch serve-pd`: prefill/decode-disaggregated serving.

Separate device pools serve the two phases: TTFT comes from the prefill pool, TPOT and throughput
from the decode pool. MoE layers are expert-parallel over every device of a pool with data-parallel
attention (one sequence group per device). On NPU supernodes (CloudMatrix384-style) one prefill of
the pool's batch and one decode batch are timed (``archmodel.devices.npu.serve_disaggregated``);
``--redundant``/``--shared-dies`` place one expert per die. On any other device kind ``--concurrency``
closed-loop clients are served (``archmodel.serving.disagg``): prefill queueing, the KV transfer,
the decode batch they sustain, and which pool binds.
"""
from __future__ import annotations

import click
from rich.table import Table

from accelerators.errors import ConfigError
from archmodel.devices.npu import ExpertLayout, Pool, Speculation, serve_disaggregated
from archmodel.formatting import si
from archmodel.parallel import Parallelism
from archmodel.serving.disagg import PhasePool, simulate_disaggregated
from moearch.cli.common import (
    check_positions,
    console,
    device_option,
    flag_names,
    json_option,
    positions_option,
    load_device_arg,
    load_workload_arg,
    make_precision,
    print_json,
    renamed,
    whole_number,
    workload_option,
)


def pool_parallelism(devices: int, is_moe: bool) -> Parallelism:
    """Expert-parallel MoE with data-parallel attention over ``devices`` packages (dense: data-parallel)."""
    return Parallelism(tp=1, ep=devices if is_moe else 1, dp=devices)


@click.command("serve-pd")
@workload_option
@device_option
@click.option("--isl", type=int, required=True, help="Input (prompt) tokens per request.")
@click.option("--osl", type=int, required=True, help="Output tokens per request.")
@click.option("--prefill-devices", type=int, required=True, help="Packages in the prefill pool.")
@click.option("--prefill-sequences", "prefill_batch", type=int, default=1, show_default=True,
              help="Sequences per package in one prefill.")
@renamed("--prefill-batch", "--prefill-sequences", "prefill_batch", type=int)
@click.option("--decode-devices", type=int, required=True, help="Packages in the decode pool.")
@click.option("--decode-sequences", "decode_batch", type=int, default=None,
              help="Sequences in flight per package while decoding. Required.")
@renamed("--decode-batch", "--decode-sequences", "decode_batch", type=int)
@click.option("--redundant", type=int, default=None, help="One expert per die: redundant expert copies (decode pool).")
@click.option("--shared-dies", type=int, default=0, show_default=True, help="Dies holding the shared expert (with --redundant).")
@click.option("--mtp", "mtp_acceptance", type=float, default=None,
              help="Multi-token prediction with one draft token accepted with this probability (e.g. 0.7).")
@click.option("--concurrency", type=int, default=None,
              help="Closed-loop clients (not NPU; default: --decode-sequences x --decode-devices).")
@click.option("--dtype", type=click.Choice(["bf16", "fp16", "fp8", "int8", "int4", "nvfp4", "mxfp4"]), default="int8",
              show_default=True)
@positions_option
@json_option
def serve_pd(workload, device, isl, osl, prefill_devices, prefill_batch, decode_devices, decode_batch, redundant,
             shared_dies, mtp_acceptance, concurrency, dtype, beyond_positions, as_json):
    """Prefill/decode-disaggregated serving: TTFT from the prefill pool, TPOT from the decode pool."""
    model, dev = load_workload_arg(workload), load_device_arg(device)
    check_positions(model, isl + osl, "--isl + --osl", beyond_positions)
    if dev.kind != "npu":
        _serve_pd_closed_loop(model, dev, isl, osl, prefill_devices, decode_devices, decode_batch, concurrency,
                              dtype, as_json, npu_only={"--redundant": redundant, "--mtp": mtp_acceptance})
        return
    if concurrency is not None:
        raise ConfigError(None, "--concurrency", concurrency, "no value on an NPU device (it times one decode batch)")
    if decode_batch is None:
        raise ConfigError(None, "--decode-sequences", None, "a whole number >= 1 (sequences per decode package)")
    for flag, value in (("--prefill-devices", prefill_devices), ("--decode-devices", decode_devices),
                        ("--prefill-sequences", prefill_batch), ("--decode-sequences", decode_batch)):
        whole_number(flag, value)
    names = {"prefill.batch": "--prefill-sequences", "decode.batch": "--decode-sequences", "isl": "--isl",
             "osl": "--osl", "layout.redundant": "--redundant", "layout.shared_dies": "--shared-dies",
             "mtp.acceptance": "--mtp"}
    with flag_names(**names):
        layout = ExpertLayout(redundant, shared_dies) if redundant is not None else None
        result = serve_disaggregated(
            model, dev, isl=isl, osl=osl,
            prefill=Pool(pool_parallelism(prefill_devices, model.is_moe), prefill_batch),
            decode=Pool(pool_parallelism(decode_devices, model.is_moe), decode_batch, layout),
            precision=make_precision(dtype, None),
            mtp=Speculation(1, mtp_acceptance) if mtp_acceptance is not None else None)
    data = result.to_json() | {"workload": model.name, "device": dev.name}
    if as_json:
        print_json(data)
        return
    table = Table(title=f"{model.name} on {dev.name}: prefill {prefill_devices} x batch {prefill_batch}, "
                        f"decode {decode_devices} x batch {decode_batch}, ISL {isl} / OSL {osl}, {dtype}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in (("TTFT", si(result.ttft_s, "s")), ("prefill tokens/s/device", f"{result.prefill_tokens_per_s_per_device:,.0f}"),
                       ("TPOT", si(result.tpot_s, "s")), ("decode tokens/s/device", f"{result.decode_tokens_per_s_per_device:,.0f}"),
                       ("output tokens/s (deployment)", f"{result.output_tokens_per_s:,.0f}"),
                       ("energy/token", si(result.energy_j_per_token, "J")),
                       ("bottleneck (prefill / decode)", f"{result.prefill_bottleneck} / {result.decode_bottleneck}")):
        table.add_row(key, value)
    console.print(table)


def _serve_pd_closed_loop(model, dev, isl, osl, prefill_devices, decode_devices, decode_batch, concurrency, dtype,
                          as_json, npu_only) -> None:
    """serve-pd on a GPU-like device: ``concurrency`` clients on the two pools (archmodel.serving.disagg)."""
    for flag, value in npu_only.items():
        if value is not None:
            raise ConfigError(None, flag, value, f"no value on a {dev.kind} device (NPU supernodes only)")
    for flag, value in (("--prefill-devices", prefill_devices), ("--decode-devices", decode_devices)):
        whole_number(flag, value)
    if decode_batch is not None:
        whole_number("--decode-sequences", decode_batch)
    if concurrency is None:
        if decode_batch is None:
            raise ConfigError(None, "--concurrency", None, "a whole number >= 1, or --decode-sequences to derive it")
        concurrency = decode_batch * decode_devices
    whole_number("--concurrency", concurrency)
    with flag_names(isl="--isl", osl="--osl", concurrency="--concurrency"):
        run = simulate_disaggregated(
            model, dev, isl=isl, osl=osl, concurrency=concurrency, precision=make_precision(dtype, None),
            prefill=PhasePool(1, pool_parallelism(prefill_devices, model.is_moe)),
            decode=PhasePool(1, pool_parallelism(decode_devices, model.is_moe), decode_batch))
    if as_json:
        print_json(run.to_json() | {"workload": model.name, "device": dev.name})
        return
    table = Table(title=f"{model.name} on {dev.name}: prefill {prefill_devices}, decode {decode_devices} devices, "
                        f"{concurrency} clients, ISL {isl} / OSL {osl}, {dtype}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in (("TTFT", si(run.ttft_s, "s")), ("  prefill", si(run.prefill_s, "s")),
                       ("  queue", si(run.queue_s, "s")), ("  KV transfer", si(run.transfer_s, "s")),
                       ("TPOT", si(run.tpot_s, "s")), ("decode sequences per device", f"{run.decode_batch:,.1f}"),
                       ("output tokens/s", f"{run.output_tokens_per_s:,.0f}"),
                       ("prefill utilisation", f"{run.prefill_utilisation:.0%}"), ("bound", run.bound)):
        table.add_row(key, value)
    console.print(table)
