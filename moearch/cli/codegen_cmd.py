"""``moearch codegen``: generate an InTAR-style MoE layer kernel (HLS C++, Verilog, manifest).

A click wrapper around :func:`codegen.generate.generate_kernel`; it prints the summary."""
from __future__ import annotations

import json
import time

import click

from accelerators.errors import ConfigError
from codegen.generate import CODEGEN_OPTIONS, generate_kernel, spec_from_options
from moearch.cli.common import flag_names, renamed

__all__ = ["codegen"]

#: KernelSpec / writer field -> the flag that sets it (keys of --shape, e.g. top_k, keep their own names)
FLAGS = {"tokens": "--tokens", "pe": "--pe", "shape": "--shape", "layer": "--layer", "scale": "--scale",
         "gated": "--gated", "device": "--device", "activation": "--activation", "stream_bytes": "--stream-bytes",
         "style": "--style", "name": "--name", "out": "--out"}


@click.command("codegen", params=list(CODEGEN_OPTIONS))
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Output directory (replaced as a whole if moearch codegen wrote it). Required.")
@renamed("-o", "--out", "out", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
def codegen(shape, layer, scale, tokens, device, pe, gated, activation, stream_bytes, style, name, no_rtl, out,
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
        result = generate_kernel(spec, out, rtl=not no_rtl, notify=lambda note: click.echo(note, err=True))
    plan = result.plan
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
