"""`moearch fpga`: one multi-task kernel on an FPGA in an InTAR execution style."""
from __future__ import annotations

import click
from rich.table import Table

from accelerators.errors import ConfigError
from archmodel.formatting import si
from archmodel.fpga.budget import make_budget
from archmodel.fpga.styles import partial_reconfiguration, run_style
from archmodel.fpga.tasks import MoELayer, build_kernel, uniform_counts
from codegen.schedule import schedule_moe_layer
from codegen.spec import parse_pe
from moearch.cli.common import console, deprecated, flag_names, json_option, print_json, renamed

#: library parameter -> the flag that sets it, for error messages
FLAGS = {"device": "--device", "pe": "--pe", "rows": "--pe", "cols": "--pe", "rows x cols": "--pe", "macs_per_dsp": "--macs-per-dsp",
         "hbm_channels": "--hbm-channels", "bram36": "--bram36", "uram": "--uram", "switch_cycles": "--switch-cycles",
         "seq": "--seq", "heads": "--heads", "hidden": "--hidden", "ffn": "--ffn", "batch": "--tokens",
         "tokens": "--tokens", "dims": "--dims", "experts": "--experts", "top_k": "--top-k",
         "tokens_per_expert": "--tokens-per-expert", "tokens-per-expert": "--tokens-per-expert",
         "stream_bytes": "--stream-bytes"}

KERNEL_CHOICES = ("self-attention", "gated-ffn", "mlp", "moe")
STYLE_CHOICES = ("intar", "dataflow", "sequential")


def _ints(text: str | None, field: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(None, field, text, "comma-separated whole numbers, e.g. 1024,4096,1024") from None


def _array(pe: str | None, rows: int | None, cols: int | None) -> tuple[int | None, int | None]:
    """PE rows and columns of ``--pe RxC`` or of the deprecated ``--rows``/``--cols`` (None: the default)."""
    if rows is None and cols is None:
        return parse_pe(pe) if pe is not None else (None, None)
    old = " ".join(flag for flag, value in (("--rows", rows), ("--cols", cols)) if value is not None)
    if pe is not None:
        raise ConfigError(None, old.split()[0], rows if rows is not None else cols,
                          "--pe RxC alone (--rows/--cols are its deprecated spelling)")
    if rows is None or cols is None:
        raise ConfigError(None, old, rows if rows is not None else cols, "--pe RxC (or both --rows and --cols)")
    deprecated(old, "--pe RxC")
    return rows, cols


def _budget(device, pe, rows, cols, macs_per_dsp, hbm_channels, bram36, uram, switch_cycles):
    rows, cols = _array(pe, rows, cols)
    return make_budget(device, rows, cols, macs_per_dsp=macs_per_dsp, hbm_channels=hbm_channels, bram36=bram36,
                       uram=uram, switch_cycles=switch_cycles)


def _run(kernel, style, budget, o):
    """(result dict, stage rows) for one style."""
    if kernel == "moe":
        shape = MoELayer(o["tokens"] or 64, o["hidden"] or 1024, o["ffn"] or 2816, o["experts"] or 8,
                         o["top_k"] or 2, o["gated"])
        counts = _ints(o["tokens_per_expert"], "tokens-per-expert") or uniform_counts(shape)
        r = schedule_moe_layer(shape, counts, budget, style=style, stream_bytes=o["stream_bytes"])
        return r.as_dict(), r
    if kernel == "self-attention":
        chain = build_kernel(kernel, seq=o["seq"], hidden=o["hidden"], heads=o["heads"])
    elif kernel == "gated-ffn":
        chain = build_kernel(kernel, batch=o["tokens"], hidden=o["hidden"], ffn=o["ffn"])
    else:
        chain = build_kernel(kernel, batch=o["tokens"], dims=_ints(o["dims"], "dims"))
    r = run_style(chain, budget, style)
    data = r.as_dict()
    pr = partial_reconfiguration(r)
    data["partial_reconfiguration"] = {"region_fraction": pr.region_fraction, "bitstream_bytes": pr.bitstream_bytes,
                                       "icap_bytes_per_s": pr.icap_bytes_per_s,
                                       "seconds_per_switch": pr.seconds_per_switch, "switches": pr.switches,
                                       "latency_s": pr.total_s}
    return data, r


@click.command("fpga")
@click.option("--kernel", "-k", type=click.Choice(KERNEL_CHOICES), required=True, help="Built-in multi-task kernel.")
@click.option("--device", "-d", default="alveo-u280", show_default=True, help="FPGA device (catalog name or YAML).")
@click.option("--style", "-s", type=click.Choice(STYLE_CHOICES), default="intar", show_default=True,
              help="Execution style.")
@click.option("--compare", is_flag=True, help="Print all three styles side by side.")
@click.option("--pe", default=None, help="PE array RxC, e.g. 16x16 (default: the largest array the DSPs allow).")
@click.option("--rows", type=int, default=None, hidden=True, help="Deprecated: --pe RxC.")
@click.option("--cols", type=int, default=None, hidden=True, help="Deprecated: --pe RxC.")
@click.option("--macs-per-dsp", type=int, default=1, show_default=True,
              help="int8 MACs packed per DSP (1: what Yosys synthesises from the RTL).")
@click.option("--hbm-channels", type=int, default=None, help="HBM pseudo-channels used (default all).")
@click.option("--bram36", type=int, default=None, help="BRAM36 blocks granted (default all).")
@click.option("--uram", type=int, default=None, help="URAM blocks granted (default all).")
@click.option("--switch-cycles", type=int, default=2, show_default=True, help="In-circuit mode switch cycles.")
@click.option("--seq", type=int, default=None, help="self-attention: sequence length (default 256).")
@click.option("--heads", type=int, default=None, help="self-attention: heads (default 1).")
@click.option("--hidden", type=int, default=None, help="Hidden size (attention 1024, gated-ffn 4096, moe 1024).")
@click.option("--ffn", type=int, default=None, help="FFN size (gated-ffn 11008, moe 2816).")
@click.option("--tokens", "-t", type=int, default=None,
              help="gated-ffn, mlp, moe: tokens in one kernel call (default gated-ffn 32, mlp 256, moe 64).")
@renamed("--batch", "--tokens", "tokens", type=int)
@click.option("--dims", default=None, help="mlp: layer widths, e.g. 1024,4096,4096,1024 (the default).")
@click.option("--experts", type=int, default=None, help="moe: experts (default 8).")
@click.option("--top-k", type=int, default=None, help="moe: experts per token (default 2).")
@click.option("--gated/--no-gated", default=True, show_default=True,
              help="moe: SwiGLU-style gate projection (on, as in Mixtral; the same default as `moearch codegen`).")
@click.option("--tokens-per-expert", default=None, help="moe: comma-separated counts (default: balanced).")
@click.option("--stream-bytes", type=int, default=16, show_default=True, help="moe: token stream word bytes.")
@json_option
def fpga(kernel, device, style, compare, pe, rows, cols, macs_per_dsp, hbm_channels, bram36, uram, switch_cycles,
         seq, heads, hidden, ffn, tokens, dims, experts, top_k, gated, tokens_per_expert, stream_bytes, as_json):
    """A multi-task kernel on an FPGA: cycles, latency, stages and resources per execution style."""
    with flag_names(**FLAGS):
        budget = _budget(device, pe, rows, cols, macs_per_dsp, hbm_channels, bram36, uram, switch_cycles)
        opts = dict(seq=seq, heads=heads, hidden=hidden, ffn=ffn, dims=dims, tokens=tokens, experts=experts,
                    top_k=top_k, gated=gated, tokens_per_expert=tokens_per_expert, stream_bytes=stream_bytes)
        styles = STYLE_CHOICES if compare else (style,)
        results = {s: _run(kernel, s, budget, opts)[0] for s in styles}
    if as_json:
        print_json(results if compare else results[style])
        return
    if compare:
        table = Table(title=f"{kernel} on {budget.device}, {budget.rows}x{budget.cols} PE array, "
                            f"{si(budget.clock_hz, 'Hz')}")
        for col in ("style", "cycles", "latency", "stages", "DSP", "LUT", "FF", "BRAM36", "vs InTAR"):
            table.add_column(col, justify="left" if col == "style" else "right")
        base = results["intar"]["cycles"]
        for s, d in results.items():
            res = d["resources"]
            table.add_row(s, f"{d['cycles']:,}", si(d["latency_s"], "s"), str(len(d["stages"])), f"{res['dsp']:,}",
                          f"{res['lut']:,}", f"{res['ff']:,}", f"{res['bram']:g}", f"{d['cycles'] / base:.2f}x")
        console.print(table)
        return
    d = results[style]
    table = Table(title=f"{kernel} on {budget.device} ({style}): {d['cycles']:,} cycles = {si(d['latency_s'], 's')}; "
                        f"DSP {d['resources']['dsp']:,}, LUT {d['resources']['lut']:,}, FF {d['resources']['ff']:,}, "
                        f"BRAM36 {d['resources']['bram']:g}")
    for col in ("stage", "mode", "group", "start", "end", "cycles"):
        table.add_column(col, justify="left" if col in ("stage", "mode") else "right")
    for st in d["stages"]:
        table.add_row(st["task"], st["mode"], str(st["group"]), f"{st['start']:,}", f"{st['end']:,}", f"{st['cycles']:,}")
    console.print(table)
