"""``moearch codegen``: generate an InTAR-style MoE layer kernel (HLS C++, Verilog, manifest)."""
from __future__ import annotations

import json
import time
from typing import Any

import click

from accelerators.errors import ConfigError
from archmodel.workloads import load_workload
from codegen.plan import build_plan
from codegen.spec import ACTIVATIONS, STREAM_BYTES, STYLES, KernelSpec, parse_pe, parse_shape, spec_from_layer
from codegen.writer import check_output_dir, write_kernel
from moearch.cli.common import flag_names, renamed

__all__ = ["codegen", "spec_from_options"]

#: PE arrays above this size print a note that the Verilog takes long (Yosys time grows with the PEs:
#: about 3.5 s for 8x8 and 6 s for 16x16 on one core)
LARGE_ARRAY = 1024
#: KernelSpec / writer field -> the flag that sets it (keys of --shape, e.g. top_k, keep their own names)
FLAGS = {"tokens": "--tokens", "pe": "--pe", "shape": "--shape", "layer": "--layer", "scale": "--scale",
         "gated": "--gated", "device": "--device", "activation": "--activation", "stream_bytes": "--stream-bytes",
         "style": "--style", "name": "--name", "out": "--out"}
_HF_ACTIVATIONS = {"silu": "silu", "swish": "silu", "relu": "relu", "gelu": "gelu", "gelu_new": "gelu",
                   "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu"}


def spec_from_options(*, shape: str | None, layer: str | None, scale: int | None, tokens: int, device: str,
                      pe: str | None, gated: bool | None, activation: str | None, stream_bytes: int,
                      style: str, name: str) -> KernelSpec:
    """The validated :class:`KernelSpec` of the command's options (ConfigError naming the option).

    Gated (SwiGLU-style) unless ``gated`` is False: with ``layer``, the model's own setting.
    """
    rows, cols = parse_pe(pe) if pe is not None else (None, None)
    common: dict[str, Any] = {"device": device, "pe_rows": rows, "pe_cols": cols, "stream_bytes": stream_bytes, "style": style,
              "name": name}
    if (shape is None) == (layer is None):
        raise ConfigError(None, "shape", shape if shape is not None else layer,
                          "exactly one of --shape d=..,f=..,experts=..,top_k=.. and --layer MODEL")
    if shape is not None:
        if scale not in (None, 1):
            raise ConfigError(None, "scale", scale, "only with --layer (it divides a real model's d and f)")
        sizes: dict[str, Any] = dict(parse_shape(shape))
        spec = KernelSpec(tokens=tokens, gated=gated is not False, activation=activation or "silu", **sizes, **common)
    else:
        assert layer is not None
        model = load_workload(layer)
        if activation is None:
            act = _HF_ACTIVATIONS.get(model.hidden_act)
            if act is None:
                raise ConfigError(None, "activation", model.hidden_act,
                                  f"the model's hidden_act has no table; pass --activation ({', '.join(ACTIVATIONS)})")
            activation = act
        spec = spec_from_layer(layer, scale=1 if scale is None else scale, tokens=tokens, activation=activation,
                               **common)
        if gated is not None and gated != spec.gated:
            raise ConfigError(None, "gated", gated, f"the layer's own setting ({spec.gated}) with --layer {layer}")
    return spec.validate()


@click.command("codegen")
@click.option("--shape", default=None, help="Layer shape: d=64,f=128,experts=8,top_k=2 (or use --layer).")
@click.option("--layer", default=None, help="Take the MoE layer of a model (see `moearch workloads`).")
@click.option("--scale", type=int, default=None, help="With --layer: divide d and f by N for simulation.")
@click.option("--tokens", "-t", type=int, required=True, help="Tokens per kernel call (T).")
@click.option("--device", "-d", default="alveo-u280", show_default=True, help="FPGA device (catalog name or YAML).")
@click.option("--pe", default=None, help="PE array RxC, e.g. 8x8 (default: the largest that fits the part).")
@click.option("--gated/--no-gated", default=None,
              help="Gate projection (SwiGLU-style). Default: gated with --shape (as in Mixtral, and as "
                   "`moearch fpga`), the model's own with --layer.")
@click.option("--activation", type=click.Choice(ACTIVATIONS), default=None,
              help="Activation table (default silu; with --layer the model's).")
@click.option("--stream-bytes", type=click.Choice([str(w) for w in STREAM_BYTES]), default="16", show_default=True,
              help="Token stream word width in bytes.")
@click.option("--style", type=click.Choice(STYLES), default="intar", show_default=True,
              help="Execution style the schedule may use.")
@click.option("--name", default="moe_kernel", show_default=True, help="Top function / module name.")
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Output directory (replaced as a whole if moearch codegen wrote it). Required.")
@renamed("-o", "--out", "out", type=click.Path(file_okay=False))
@click.option("--no-rtl", is_flag=True, help="Skip the Verilog (rtl/).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
def codegen(shape, layer, scale, tokens, device, pe, gated, activation, stream_bytes, style, name, out, no_rtl,
            as_json) -> None:
    """Generate an InTAR-style MoE layer kernel: HLS C++ with a C-simulation test bench, Verilog,
    manifest.json and a README, into OUT."""

    t0 = time.perf_counter()
    if out is None:
        raise ConfigError(None, "--out", None, "an output directory (--out DIR)")
    with flag_names(**FLAGS):
        spec = spec_from_options(shape=shape, layer=layer, scale=scale, tokens=tokens, device=device, pe=pe,
                                 gated=gated, activation=activation, stream_bytes=int(stream_bytes), style=style,
                                 name=name)
        check_output_dir(out)
    plan = build_plan(spec)
    if not no_rtl and plan.rows * plan.cols > LARGE_ARRAY:
        click.echo(f"note: the Verilog of a {plan.rows}x{plan.cols} PE array takes long to generate (minutes); "
                   f"--no-rtl skips it, --pe picks a smaller array", err=True)
    result = write_kernel(plan, out, rtl=not no_rtl)
    elapsed = time.perf_counter() - t0
    m = result.manifest
    if as_json:
        click.echo(json.dumps({"out": str(result.out_dir), "files": list(result.files), "kernel": plan.name,
                               "shape": m["shape"], "source_layer": m["source_layer"],
                               "array": [plan.rows, plan.cols], "device": plan.device,
                               "variants": m["predicted"]["cycles_per_variant"],
                               "predicted_cycles": m["predicted"]["cycles"], "resources": m["predicted"]["resources"],
                               "rtl": m["rtl"], "sources_sha256": m["sources_sha256"], "seconds": elapsed},
                              indent=2, default=float))
        return
    s = m["shape"]
    click.echo(f"moearch codegen: {plan.name} -> {result.out_dir}")
    click.echo(f"  shape      T={s['tokens']} d={s['hidden']} f={s['ffn']} E={s['experts']} top-{s['top_k']} "
               f"{'gated' if s['gated'] else 'not gated'}, activation {plan.activation}")
    if m["source_layer"]:
        sl = m["source_layer"]
        click.echo(f"  layer      {sl['note']} (d={sl['hidden']}, f={sl['ffn']})")
    click.echo(f"  array      {plan.rows}x{plan.cols} PEs on {plan.device} at {plan.clock_hz / 1e6:.0f} MHz; "
               f"token stream {plan.stream_bytes} B/word")
    front = "; ".join(f"{'+'.join(st.tasks)} {st.mode}" for st in plan.front)
    variants = ", ".join(f"{v.name} {v.variant.min_tokens}..{v.variant.max_tokens}" for v in plan.variants)
    click.echo(f"  schedule   front: {front}; expert variants by token count: {variants}")
    res = m["predicted"]["resources"]
    click.echo(f"  predicted  {m['predicted']['cycles']} cycles ({m['predicted']['latency_s'] * 1e6:.3g} us) "
               f"for balanced routing; {res['dsp']} DSP, {res['lut']} LUT, {res['ff']} FF, {res['bram']} BRAM36, "
               f"{res['uram']} URAM")
    hls_n = sum(1 for f in result.files if f.startswith("hls/"))
    click.echo(f"  wrote      hls/ ({hls_n} files), manifest.json, README.md in {elapsed:.2f} s")
    if result.rtl_available:
        click.echo(f"  rtl        {', '.join(m['rtl']['files'])}")
    else:
        click.echo(f"  rtl        {result.rtl_message}")
