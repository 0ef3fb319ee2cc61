"""The signatures that join the parts of ``MoEKernel`` (``wiring.connect`` in ``MoEKernel.elaborate``).

* :func:`stage_signature`: the stage bus the :class:`~.stages.Sequencer` drives and every part
  reads: ``run``, ``load`` (the loop-bound load cycle), ``layer_init`` (``load`` of row 0),
  ``sw1`` (the ROM-read cycle), ``row``, ``expert``, ``count`` (the expert's tokens), the ROM
  row's ``col_tiles`` and ``k``, and one decode flag per stage task (``is_load`` ...).
* :data:`STAGE_END`: one ``done`` bit, a part's end condition of the running stage.
* :func:`tally_signature`: the dispatcher's per-expert ``counts``, ``lanes`` (next free row
  of the expert's last row tile) and ``tiles`` (complete row tiles).
"""
from __future__ import annotations

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from ..geometry import KernelGeometry, ceil_div
from ..schedule_rom import Program, rom_layout

__all__ = ["STAGE_END", "TASK_FLAGS", "count_bits", "stage_signature", "tally_signature"]

#: the stage-task decode flags of the stage bus
TASK_FLAGS = ("is_load", "is_router", "is_front", "is_topk", "is_gn", "is_up", "is_gate",
              "is_down", "is_comb", "is_df", "is_exp", "is_gemm")

#: a part's end condition of the running stage
STAGE_END = wiring.Signature({"done": Out(1)})


def count_bits(geom: KernelGeometry) -> int:
    """Bits of a per-expert token count (``0 .. T``)."""
    return max(1, geom.tokens.bit_length())


def stage_signature(prog: Program) -> wiring.Signature:
    """The stage bus of ``prog`` (driver side)."""
    g = prog.geom
    lay = rom_layout(g, prog.has_df)
    members = {
        "run": Out(1), "load": Out(1), "layer_init": Out(1), "sw1": Out(1),
        "row": Out(range(max(2, len(prog.rows)))), "expert": Out(g.expert_bits),
        "count": Out(count_bits(g)), "col_tiles": Out(lay["col_tiles"].shape),
        "k": Out(lay["k"].shape),
    }
    members.update({name: Out(1) for name in TASK_FLAGS})
    return wiring.Signature(members)


def tally_signature(geom: KernelGeometry) -> wiring.Signature:
    """The dispatcher's per-expert tally (driver side)."""
    E, R = geom.experts, geom.rows
    rtt = ceil_div(geom.tokens, R)
    return wiring.Signature({
        "counts": Out(data.ArrayLayout(unsigned(count_bits(geom)), E)),
        "lanes": Out(data.ArrayLayout(unsigned(max(1, (R - 1).bit_length())), E)),
        "tiles": Out(data.ArrayLayout(unsigned(max(1, rtt.bit_length())), E)),
    })
