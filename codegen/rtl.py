"""The RTL emitter: the plan's kernel as Verilog (Amaranth ``MoEKernel`` converted by Yosys).

:func:`emit_verilog` writes ``<out_dir>/<plan.name>.v`` (no source locations, no absolute
paths; written to a temporary name and renamed) and runs no tool. :func:`rtl_description`
returns what a manifest needs to drive the module: ports, the weight-request encoding, the
parameter-block layout and the schedule ROM rows.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from accelerators.errors import ConfigError

from .hdl.export import to_verilog
from .hdl.interface import (MULT_BITS, SHIFT_BITS, STAGE_BITS, TENSOR_BITS, KernelGeometry,
                            Tensor, port_table)
from .hdl.schedule_rom import SUPPORTED_FRONTS, SUPPORTED_VARIANTS, UnsupportedSchedule, build_program
from .hdl.top import MoEKernel

__all__ = ["emit_verilog", "rtl_description", "verilog_text"]


def _kernel(plan: Any) -> MoEKernel:
    try:
        build_program(plan.schedule)  # validate before an Elaboratable exists
    except UnsupportedSchedule as exc:
        raise ConfigError(None, "schedule", str(exc),
                          f"expert variants {', '.join(SUPPORTED_VARIANTS)} and front modes "
                          f"{', '.join(SUPPORTED_FRONTS)} (what the RTL implements)") from None
    return MoEKernel(plan)


def verilog_text(plan: Any) -> str:
    """The Verilog of ``plan``'s kernel, top module ``plan.name``."""
    return to_verilog(_kernel(plan), name=plan.name)


def emit_verilog(plan: Any, out_dir: str | Path) -> list[Path]:
    """Write the kernel's Verilog into ``out_dir`` (created if needed); return the written paths."""
    text = verilog_text(plan)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{plan.name}.v"
    fd, tmp = tempfile.mkstemp(prefix=f".{plan.name}.", suffix=".v.tmp", dir=out)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return [target]


def _df_description(g: KernelGeometry) -> dict[str, Any]:
    lay = g.df
    assert lay is not None
    return {
        "col_split": list(lay.split), "lanes_a": [0, lay.lanes_a], "lanes_d": [lay.lanes_a, g.cols],
        "tiles_a": lay.tiles_a, "tiles_up": lay.tiles_up, "tiles_d": lay.tiles_d,
        "words": {"df_up": lay.words(Tensor.DF_UP), "df": lay.words(Tensor.DF),
                  "df_down": lay.words(Tensor.DF_DOWN)},
        "requests": "per expert with B = ceil(count / rows) row blocks: df_up, df x (B - 1), df_down",
    }


def rtl_description(plan: Any) -> dict[str, Any]:
    """JSON-ready description of the Verilog module's interface and schedule ROM."""
    try:
        program = build_program(plan.schedule)
    except UnsupportedSchedule as exc:
        raise ConfigError(None, "schedule", str(exc), "what the RTL implements") from None
    g: KernelGeometry = program.geom
    fields = []
    pos = 0
    for name, width in (("tensor", TENSOR_BITS), ("expert", g.expert_bits), ("tile", g.tile_bits),
                        ("cols", g.cols_bits)):
        fields.append({"name": name, "lsb": pos, "bits": width})
        pos += width
    per_expert = ["up", "gate", "hidden", "down"] if g.gated else ["up", "down"]
    return {
        "top": plan.name,
        "ports": port_table(g),
        "stage_bits": STAGE_BITS,
        "weight_request": {
            "bits": g.request_bits, "fields": fields,
            "tensors": {t.name.lower(): int(t) for t in Tensor},
            "response": "K words per (tensor, expert, tile, cols): word kk lane c = W[kk, tile*cols + c]; "
                        "df_up / df / df_down: one phase of a dataflow expert, interleaved words "
                        "(codegen/hdl/interface.py)",
        },
        "dataflow_expert": _df_description(g) if program.has_df else None,
        "wdata_bits": g.wdata_bits,
        "param_block": {
            "words": g.param_words,
            "order": ["gate_weight"] + [f"e<i>.{r}" for r in per_expert],
            "word": {"mult": [0, MULT_BITS], "shift": [MULT_BITS, SHIFT_BITS]},
        },
        "front": program.front,
        "rom": [{"row": i, "name": r.name, "task": r.task.name.lower(), "mode": r.mode,
                 "variant": r.variant, "last": r.last, "k": r.k, "col_tiles": r.col_tiles,
                 "n": r.n, "m": r.m, "src": r.src.name.lower(), "dst": r.dst.name.lower()}
                for i, r in enumerate(program.rows)],
        "variant_ranges": [{"min_tokens": v.min_tokens, "max_tokens": v.max_tokens,
                            "row": v.row, "variant": v.name} for v in program.ranges],
        "switch_cycles": program.switch_cycles,
    }
