"""On-chip buffers of the MoE kernel that are written and read in transposed orders.

:class:`LaneBanks` stores a byte matrix as ``banks`` memories (``amaranth.lib.memory``), each
word holding ``lanes`` bytes with one write enable per byte. It serves two buffers:

* ``x`` (tokens): bank ``l`` holds the hidden indices ``i`` with ``i % W == l``; the word at
  address ``i // W`` holds ``x[t, i]`` in lane ``t`` (all ``T`` tokens). Loading a token-stream
  word (``W`` hidden indices of one token) writes lane ``t`` of every bank at one address (one
  cycle); a GEMM reads hidden index ``kk`` (bank ``kk % W``) and gathers any ``R`` tokens.
* ``up_q`` / ``h`` (expert intermediates): bank ``c`` holds the FFN indices ``n`` with
  ``n % C == c``; the word at address ``m * ceil(f / C) + n // C`` holds the ``R`` rows of row
  tile ``m`` in its lanes. A PE-array row (``C`` columns of one token) writes lane ``r`` of
  every bank at one address; the down projection reads index ``kk`` of a row tile (bank
  ``kk % C``: the ``R``-lane A operand); the gated drain reads a row back across all banks.

Read ports are synchronous (data one cycle after the address) and hold their data while their
``en`` is low, which is what the kernel's one-deep read pipelines rely on.
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .hwutil import eq, select

__all__ = ["LaneBanks"]


class LaneBanks(wiring.Component):
    """``banks`` memories of ``depth`` words of ``lanes`` bytes.

    Write (all banks at once): ``w_addr``, ``w_lane``, ``w_data`` (one byte per bank), ``w_en``.
    Word read: ``r_addr``, ``r_bank``, ``r_en`` -> ``r_data`` (the ``lanes`` bytes of that bank's
    word, one cycle later). Cross read (optional): ``c_addr``, ``c_lane``, ``c_en`` -> ``c_data``
    (lane ``c_lane`` of every bank's word at ``c_addr``, one cycle later).
    """

    def __init__(self, banks: int, depth: int, lanes: int, *, cross_read: bool = False) -> None:
        if banks < 1 or depth < 1 or lanes < 1:
            raise ValueError(f"LaneBanks needs banks, depth, lanes >= 1, got {banks}, {depth}, {lanes}")
        self.banks, self.depth, self.lanes, self.cross_read = banks, depth, lanes, cross_read
        members = {
            "w_addr": In(range(max(2, depth))),
            "w_lane": In(range(max(2, lanes))),
            "w_data": In(data.ArrayLayout(unsigned(8), banks)),
            "w_en": In(1),
            "r_addr": In(range(max(2, depth))),
            "r_bank": In(range(max(2, banks))),
            "r_en": In(1),
            "r_data": Out(data.ArrayLayout(unsigned(8), lanes)),
        }
        if cross_read:
            members.update({
                "c_addr": In(range(max(2, depth))),
                "c_lane": In(range(max(2, lanes))),
                "c_en": In(1),
                "c_data": Out(data.ArrayLayout(unsigned(8), banks)),
            })
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        layout = data.ArrayLayout(unsigned(8), self.lanes)
        r_bank = Signal.like(self.r_bank)
        c_lane = Signal.like(self.c_lane) if self.cross_read else None
        with m.If(self.r_en):
            m.d.sync += r_bank.eq(self.r_bank)
        if self.cross_read:
            with m.If(self.c_en):
                m.d.sync += c_lane.eq(self.c_lane)
        words = []
        for b in range(self.banks):
            mem = Memory(shape=layout, depth=max(2, self.depth), init=[])
            m.submodules[f"bank{b}"] = mem
            wp = mem.write_port(granularity=1)
            m.d.comb += wp.addr.eq(self.w_addr)
            for lane in range(self.lanes):
                m.d.comb += [wp.data[lane].eq(self.w_data[b]),
                             wp.en[lane].eq(self.w_en & eq(self.w_lane, lane))]
            rp = mem.read_port(domain="sync")
            m.d.comb += [rp.addr.eq(self.r_addr), rp.en.eq(self.r_en)]
            words.append(rp.data)
            if self.cross_read:
                cp = mem.read_port(domain="sync")
                m.d.comb += [cp.addr.eq(self.c_addr), cp.en.eq(self.c_en),
                             self.c_data[b].eq(select([cp.data[i] for i in range(self.lanes)], c_lane))]
        m.d.comb += self.r_data.eq(select([w.as_value() for w in words], r_bank))
        return m
