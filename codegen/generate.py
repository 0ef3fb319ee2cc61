"""Generate a kernel from Python: what ``moearch codegen`` does between parsing its flags and
printing its summary.

* :func:`generate_kernel` ``(spec, out_dir, *, rtl=True, notify=None) -> WriteResult``: validate
  the :class:`~codegen.spec.KernelSpec`, refuse a foreign ``out_dir`` before anything is written,
  build the plan (schedule, variants, predictions) and write ``hls/``, ``rtl/``, ``manifest.json``
  and the README (:func:`codegen.writer.write_kernel`; the manifest is ``result.manifest``).
* :data:`CODEGEN_OPTIONS`: the command's kernel options as click parameters, defined once for the
  command and for :func:`spec_from_args`, which turns a ``moearch codegen`` argument list (without
  ``--out``) into ``(spec, rtl)``, so that callers that hold such a list (the pytest plugin's
  ``moearch_kernel`` fixture, the verification suite) generate without invoking the CLI.
* :func:`spec_from_options`: the validated spec of the options' values (ConfigError naming the option).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from accelerators.errors import ConfigError
from archmodel.workloads import load_workload

from .plan import build_plan
from .spec import ACTIVATIONS, STREAM_BYTES, STYLES, KernelSpec, parse_pe, parse_shape, spec_from_layer
from .writer import WriteResult, check_output_dir, write_kernel

__all__ = ["CODEGEN_OPTIONS", "LARGE_ARRAY", "generate_kernel", "spec_from_args", "spec_from_options"]

#: PE arrays above this size get a note that the Verilog takes long (Yosys time grows with the PEs:
#: about 3.5 s for 8x8 and 6 s for 16x16 on one core)
LARGE_ARRAY = 1024
_HF_ACTIVATIONS = {"silu": "silu", "swish": "silu", "relu": "relu", "gelu": "gelu", "gelu_new": "gelu",
                   "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu"}

CODEGEN_OPTIONS: tuple[click.Option, ...] = (
    click.Option(["--shape"], default=None, help="Layer shape: d=64,f=128,experts=8,top_k=2 (or use --layer)."),
    click.Option(["--layer"], default=None, help="Take the MoE layer of a model (see `moearch workloads`)."),
    click.Option(["--scale"], type=int, default=None, help="With --layer: divide d and f by N for simulation."),
    click.Option(["--tokens", "-t"], type=int, required=True, help="Tokens per kernel call (T)."),
    click.Option(["--device", "-d"], default="alveo-u280", show_default=True,
                 help="FPGA device (catalog name or YAML)."),
    click.Option(["--pe"], default=None, help="PE array RxC, e.g. 8x8 (default: the largest that fits the part)."),
    click.Option(["--gated/--no-gated"], default=None,
                 help="Gate projection (SwiGLU-style). Default: gated with --shape (as in Mixtral, and as "
                      "`moearch fpga`), the model's own with --layer."),
    click.Option(["--activation"], type=click.Choice(ACTIVATIONS), default=None,
                 help="Activation table (default silu; with --layer the model's)."),
    click.Option(["--stream-bytes"], type=click.Choice([str(w) for w in STREAM_BYTES]), default="16",
                 show_default=True, help="Token stream word width in bytes."),
    click.Option(["--style"], type=click.Choice(STYLES), default="intar", show_default=True,
                 help="Execution style the schedule may use."),
    click.Option(["--name"], default="moe_kernel", show_default=True, help="Top function / module name."),
    click.Option(["--no-rtl"], is_flag=True, help="Skip the Verilog (rtl/)."),
)


def spec_from_options(*, shape: str | None, layer: str | None, scale: int | None, tokens: int, device: str,
                      pe: str | None, gated: bool | None, activation: str | None, stream_bytes: int,
                      style: str, name: str) -> KernelSpec:
    """The validated :class:`KernelSpec` of the command's options (ConfigError naming the option).

    Gated (SwiGLU-style) unless ``gated`` is False: with ``layer``, the model's own setting."""
    rows, cols = parse_pe(pe) if pe is not None else (None, None)
    common: dict[str, Any] = {"device": device, "pe_rows": rows, "pe_cols": cols, "stream_bytes": stream_bytes,
                              "style": style, "name": name}
    if (shape is None) == (layer is None):
        raise ConfigError(None, "shape", shape if shape is not None else layer,
                          "exactly one of --shape d=..,f=..,experts=..,top_k=.. and --layer MODEL")
    if shape is not None:
        if scale not in (None, 1):
            raise ConfigError(None, "scale", scale, "only with --layer (it divides a real model's d and f)")
        sizes: dict[str, Any] = parse_shape(shape)
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


def spec_from_args(args: Sequence[str]) -> tuple[KernelSpec, bool]:
    """``(spec, rtl)`` of a ``moearch codegen`` argument list without ``--out`` (ConfigError for
    arguments the command would refuse)."""
    command = click.Command("codegen", params=list(CODEGEN_OPTIONS))
    try:
        ctx = command.make_context("codegen", list(args))
    except click.UsageError as exc:
        raise ConfigError(None, "codegen arguments", " ".join(args), exc.format_message()) from None
    o = dict(ctx.params)
    rtl = not o.pop("no_rtl")
    return spec_from_options(**{**o, "stream_bytes": int(o["stream_bytes"])}), rtl


def generate_kernel(spec: KernelSpec, out_dir: str | Path, *, rtl: bool = True,
                    notify: Callable[[str], None] | None = None) -> WriteResult:
    """Generate the kernel of ``spec`` into ``out_dir`` (replaced as a whole if codegen wrote it).

    ``notify`` receives notes meant for a person (a large array's Verilog takes minutes)."""
    spec = spec.validate()
    check_output_dir(out_dir)
    plan = build_plan(spec)
    if rtl and notify is not None and plan.rows * plan.cols > LARGE_ARRAY:
        notify(f"note: the Verilog of a {plan.rows}x{plan.cols} PE array takes long to generate (minutes); "
               f"--no-rtl skips it, --pe picks a smaller array")
    return write_kernel(plan, out_dir, rtl=rtl)
