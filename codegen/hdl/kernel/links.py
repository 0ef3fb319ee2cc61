"""The signatures that join the parts of ``MoEKernel`` (``wiring.connect`` in ``MoEKernel.elaborate``).

* :func:`stage_signature`: the stage bus the :class:`~.stages.Sequencer` drives and every part
  reads: ``run``, ``load`` (the loop-bound load cycle), ``layer_init`` (``load`` of row 0),
  ``sw1`` (the ROM-read cycle), ``row``, ``expert``, ``count`` (the expert's tokens), the ROM
  row's ``col_tiles`` and ``k``, one decode flag per stage task (``is_load`` ...), and the
  running GEMM's (or dataflow expert's) row tiles ``rt`` and rows ``mrows``, registered at
  ``load`` from the tally.
* :data:`STAGE_END`: one ``done`` bit, a part's end condition of the running stage.
* :func:`tally_signature`: the dispatcher's per-expert ``counts``, ``lanes`` (next free row
  of the expert's last row tile) and ``tiles`` (complete row tiles).
* :func:`params_signature`: the running expert's requantiser words (``q_up`` ... ``q_down``).
* :func:`max_requests`: the most weight requests of one stage (bounds the tile counters).
* :func:`gather_signature`: the dataflow feeder's use of the GEMM feeder's ``x`` gather (the
  ``x`` buffer and dispatch list read ports are the GEMM feeder's).
* :func:`df_tap_signature`: what the dataflow drains need of the drain path (LUT and ``h``
  rows) and give it (the LUT source's ``valid``, the ``up_q`` window).
* :class:`BankPort`: some members of a buffer (its write or read side) as an interface.
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..geometry import PARAM_WORD_BITS, KernelGeometry, ceil_div
from ..schedule_rom import Program, rom_layout

__all__ = ["BANK_READ", "BANK_WRITE", "STAGE_END", "TASK_FLAGS", "BankPort", "count_bits",
           "df_tap_signature", "gather_signature", "max_requests", "params_signature", "stage_signature",
           "tally_signature", "unit_stream"]

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
        "rt": Out(range(ceil_div(g.tokens, g.rows) + 1)), "mrows": Out(range(g.tokens + 1)),
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


def max_requests(geom: KernelGeometry, has_df: bool) -> int:
    """The most weight requests of one stage: column tiles of a GEMM, ``B + 1`` phases of a
    dataflow expert (at least 2)."""
    C, rtt = geom.cols, ceil_div(geom.tokens, geom.rows)
    return max(2, ceil_div(geom.experts, C), ceil_div(geom.ffn, C), ceil_div(geom.hidden, C),
               rtt + 1 if has_df else 0)


def params_signature(geom: KernelGeometry) -> wiring.Signature:
    """The running expert's requantiser words (driver side): ``q_up``, ``q_down`` and, gated,
    ``q_gate`` and ``q_hid`` (``mult`` in the low 16 bits, ``shift`` above)."""
    names = ("q_up", "q_gate", "q_hid", "q_down") if geom.gated else ("q_up", "q_down")
    return wiring.Signature({name: Out(PARAM_WORD_BITS) for name in names})


def gather_signature(geom: KernelGeometry) -> wiring.Signature:
    """The dataflow feeder's ``x`` gather (driver side: the dataflow feeder): the ``x`` word
    ``x_hi`` / bank ``x_lo``, the read enable ``en``, the row block ``blk`` (dispatch list word)
    and, one cycle after ``en``, the gathered ``rows`` (one byte per PE row)."""
    rtt = ceil_div(geom.tokens, geom.rows)
    return wiring.Signature({
        "x_hi": Out(range(max(2, geom.words_per_token))),
        "x_lo": Out(range(max(2, geom.stream_bytes))), "en": Out(1), "blk": Out(range(rtt + 1)),
        "rows": In(data.ArrayLayout(unsigned(8), geom.rows))})


def df_tap_signature(geom: KernelGeometry) -> wiring.Signature:
    """The drain path's side of the dataflow drains (driver side: the drain): the LUT input's
    beat ``lut_fire`` and ``lut_ready``, the ``h`` rows (``h_valid``, ``h_data``: ``C`` lanes);
    in: ``lut_valid`` (the LUT source group's valid) and, gated, the ``up_q`` window
    ``upq_window`` (the gate group's ``cg`` lanes)."""
    members: dict[str, Any] = {
        "lut_fire": Out(1), "lut_ready": Out(1), "h_valid": Out(1),
        "h_data": Out(data.ArrayLayout(unsigned(8), geom.cols)), "lut_valid": In(1)}
    if geom.gated:
        assert geom.df is not None
        members["upq_window"] = In(data.ArrayLayout(unsigned(8), geom.df.cg))
    return wiring.Signature(members)


def unit_stream(unit: Any, name: str) -> wiring.Signature:
    """The stream signature of ``unit``'s member ``name`` (driver side): a part's ``Out`` of it
    connects to the unit's input stream, its ``In`` to the unit's output stream."""
    member = unit.signature.members[name]
    sig: wiring.Signature = member.signature
    return sig.flip() if member.flow == In else sig


class BankPort:
    """The members ``names`` of ``banks`` (a :class:`~codegen.hdl.buffers.LaneBanks` or
    :class:`~codegen.hdl.buffers.WindowBanks`: e.g. its write side) as an interface of their own,
    for ``wiring.connect`` to a part that uses only that side."""

    def __init__(self, banks: Any, *names: str) -> None:
        members = banks.signature.members
        self.signature = wiring.Signature({n: members[n] for n in names})
        for n in names:
            setattr(self, n, getattr(banks, n))


#: the write side and the word read side of a buffer (:class:`BankPort` names)
BANK_WRITE = ("w_addr", "w_lane", "w_data", "w_en")
BANK_READ = ("r_addr", "r_bank", "r_en", "r_data")
