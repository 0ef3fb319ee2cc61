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

:class:`WindowBanks` is the dataflow expert's ``up_q`` buffer: written like ``LaneBanks`` (one
up tile of ``banks = cu`` columns, one row a cycle), read as a window of ``window = cg``
consecutive columns of one row (a gate tile's columns, which need not be aligned to ``cu``),
with a per-bank address and a rotation; the read is transparent for a write in the same cycle.
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .hwutil import eq, select

__all__ = ["LaneBanks", "WindowBanks"]


def _lane_written_bank(m: Module, banks: "LaneBanks | WindowBanks", b: int):
    """Bank ``b`` of ``banks`` as submodule ``bank<b>``: ``depth`` words of ``lanes`` bytes with a
    write port that puts ``w_data[b]`` into lane ``w_lane`` of word ``w_addr`` when ``w_en``.
    Returns the memory and its write port."""
    mem = Memory(shape=data.ArrayLayout(unsigned(8), banks.lanes), depth=max(2, banks.depth), init=[])
    m.submodules[f"bank{b}"] = mem
    wp = mem.write_port(granularity=1)
    m.d.comb += wp.addr.eq(banks.w_addr)
    for lane in range(banks.lanes):
        m.d.comb += [wp.data[lane].eq(banks.w_data[b]), wp.en[lane].eq(banks.w_en & eq(banks.w_lane, lane))]
    return mem, wp


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
        r_bank = Signal.like(self.r_bank)
        c_lane = Signal.like(self.c_lane) if self.cross_read else None
        with m.If(self.r_en):
            m.d.sync += r_bank.eq(self.r_bank)
        if c_lane is not None:
            with m.If(self.c_en):
                m.d.sync += c_lane.eq(self.c_lane)
        words = []
        for b in range(self.banks):
            mem, _ = _lane_written_bank(m, self, b)
            rp = mem.read_port(domain="sync")
            m.d.comb += [rp.addr.eq(self.r_addr), rp.en.eq(self.r_en)]
            words.append(rp.data)
            if self.cross_read:
                cp = mem.read_port(domain="sync")
                m.d.comb += [cp.addr.eq(self.c_addr), cp.en.eq(self.c_en),
                             self.c_data[b].eq(select([cp.data[i] for i in range(self.lanes)], c_lane))]
        m.d.comb += self.r_data.eq(select([w.as_value() for w in words], r_bank))
        return m


class WindowBanks(wiring.Component):
    """``banks`` memories of ``depth`` words of ``lanes`` bytes, with a window read.

    Write (all banks at once): ``w_addr``, ``w_lane``, ``w_data`` (one byte per bank), ``w_en``;
    column ``n`` of a row block lives in bank ``n % banks`` at ``base + n // banks``.
    Window read of columns ``n0 .. n0 + window - 1`` of lane ``r_lane``: ``r_addr = base + n0 //
    banks``, ``r_rot = n0 % banks``, ``r_en``; one cycle later ``r_data[c]`` is column ``n0 + c``
    (bank ``(r_rot + c) % banks`` read at ``r_addr + 1`` when that bank is below ``r_rot``).
    A write in the same cycle as the read is seen by it (transparent read).
    """

    def __init__(self, banks: int, depth: int, lanes: int, window: int) -> None:
        if banks < 1 or depth < 1 or lanes < 1 or not 1 <= window <= banks:
            raise ValueError(f"WindowBanks needs banks, depth, lanes >= 1 and 1 <= window <= banks, "
                             f"got {banks}, {depth}, {lanes}, {window}")
        self.banks, self.depth, self.lanes, self.window = banks, depth, lanes, window
        super().__init__({
            "w_addr": In(range(max(2, depth))),
            "w_lane": In(range(max(2, lanes))),
            "w_data": In(data.ArrayLayout(unsigned(8), banks)),
            "w_en": In(1),
            "r_addr": In(range(max(2, depth))),
            "r_rot": In(range(max(2, banks))),
            "r_lane": In(range(max(2, lanes))),
            "r_en": In(1),
            "r_data": Out(data.ArrayLayout(unsigned(8), window)),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        rot = Signal.like(self.r_rot)
        lane = Signal.like(self.r_lane)
        with m.If(self.r_en):
            m.d.sync += [rot.eq(self.r_rot), lane.eq(self.r_lane)]
        picked = []
        for b in range(self.banks):
            mem, wp = _lane_written_bank(m, self, b)
            rp = mem.read_port(domain="sync", transparent_for=(wp,))
            addr = Signal(range(max(2, self.depth)), name=f"r_addr_{b}")
            if b < self.banks - 1:  # r_rot <= banks - 1: the last bank is never below it
                m.d.comb += addr.eq(self.r_addr + (self.r_rot > b))
            else:
                m.d.comb += addr.eq(self.r_addr)
            m.d.comb += [rp.addr.eq(addr), rp.en.eq(self.r_en)]
            byte = Signal(8, name=f"r_byte_{b}")
            m.d.comb += byte.eq(select([rp.data[i] for i in range(self.lanes)], lane))
            picked.append(byte)
        for c in range(self.window):
            # bank (rot + c) % banks, as a multiplexer over rot
            options = [picked[(r + c) % self.banks] for r in range(self.banks)]
            m.d.comb += self.r_data[c].eq(select(options, rot))
        return m
