"""Streaming top-k over E router logits per token, lowest expert index winning ties.

Spec: ``docs/kernel-arithmetic.md`` 1.2; golden model: ``verification.golden.topk``.

Timing contract: the input carries one int32 logit per beat, experts in index order 0..E-1 (the
component counts beats; every E beats are one token). Each beat is inserted into a sorted k-entry
register list; a newcomer goes before an entry only if strictly greater, so among equal logits the
earlier (lower) index stays ahead. When the token's last logit transfers at cycle c, the list moves
to the output register and ``o.valid`` is high from cycle c + 1: ``index`` (k expert indices in
rank order) and ``logit`` (their logits). The next token's first logit may transfer at c + 1, so a
token costs E cycles. ``i.ready`` is low only for a last logit while the previous result is still
unconsumed (combinational on ``o.ready``).
"""
from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

__all__ = ["TopK", "topk_output_layout", "index_bits"]

LOGIT_BITS = 32


def index_bits(num_experts: int) -> int:
    return max(1, ceil_log2(num_experts))


def topk_output_layout(num_experts: int, k: int) -> data.StructLayout:
    return data.StructLayout({
        "index": data.ArrayLayout(unsigned(index_bits(num_experts)), k),
        "logit": data.ArrayLayout(signed(LOGIT_BITS), k),
    })


class TopK(wiring.Component):
    """Top-k of E logits streamed one per cycle; see the module docstring for the timing."""

    def __init__(self, num_experts: int, k: int) -> None:
        if not 1 <= k <= num_experts:
            raise ValueError(f"TopK needs 1 <= k <= num_experts, got k={k}, E={num_experts}")
        self.num_experts, self.k = num_experts, k
        super().__init__({
            "i": In(stream.Signature(signed(LOGIT_BITS))),
            "o": Out(stream.Signature(topk_output_layout(num_experts, k))),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        e, k = self.num_experts, self.k
        layout = topk_output_layout(e, k)
        count = Signal(unsigned(index_bits(e)))  # expert index of the next logit
        held = Signal(layout)  # sorted list of the current token
        result = Signal(layout)
        result_valid = Signal()
        inserted = Signal(layout)  # held with the incoming logit inserted
        last = Signal()
        m.d.comb += last.eq(count == e - 1)

        v = self.i.payload
        before = []  # the newcomer goes at or before position j
        for j in range(k):
            # count <= E - 1: position j >= E - 1 is never occupied yet (and a constant
            # comparison would trip Verilator's CMPCONST under -Wall)
            occupied = count > j if j < e - 1 else Const(0, 1)
            flag = Signal(name=f"before_{j}")
            m.d.comb += flag.eq(~occupied | (v > held.logit[j]))
            before.append(flag)
        for j in range(k):
            take_new = before[j] if j == 0 else before[j] & ~before[j - 1]
            if j == 0:
                shifted_logit, shifted_index = held.logit[j], held.index[j]
            else:
                shifted_logit = Mux(before[j - 1], held.logit[j - 1], held.logit[j])
                shifted_index = Mux(before[j - 1], held.index[j - 1], held.index[j])
            m.d.comb += [
                inserted.logit[j].eq(Mux(take_new, v, shifted_logit)),
                inserted.index[j].eq(Mux(take_new, count, shifted_index)),
            ]

        m.d.comb += [
            self.i.ready.eq(~last | ~result_valid | self.o.ready),
            self.o.valid.eq(result_valid),
            self.o.payload.eq(result),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += result_valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            with m.If(last):
                m.d.sync += [count.eq(0), result.eq(inserted), result_valid.eq(1)]
            with m.Else():
                m.d.sync += [count.eq(count + 1), held.eq(inserted)]
        return m
