"""The kernel's units and on-chip buffers (table in :mod:`codegen.hdl.top`): :func:`add_units`
and :func:`add_buffers` add them as submodules of the kernel's module and return them
(:class:`Units`, :class:`Buffers`) for ``MoEKernel.elaborate`` to connect to the parts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory

from ..buffers import LaneBanks, WindowBanks
from ..geometry import ceil_div
from ..lookup_table import LookupTable
from ..pe_array import PEArray
from ..requantizer import Requantizer
from ..schedule_rom import Program
from ..serializer import Serializer
from ..split import SplitPEArray, SplitRequantizer
from ..topk import topk_output_layout

__all__ = ['Buffers', 'Units', 'add_buffers', 'add_units']


@dataclass(frozen=True)
class Units:
    """The datapath units the parts share: the PE array ``pe`` (split into column groups A / D
    with a dataflow expert), the drain requantiser ``rq1`` (groups up, (gate,) down), the
    activation LUT ``lut``, the hidden requantiser ``rq2`` (gated) and the logit serializer
    ``ser`` (dataflow front)."""
    pe: PEArray | SplitPEArray
    rq1: Requantizer | SplitRequantizer
    lut: LookupTable
    rq2: Requantizer | None
    ser: Serializer | None


@dataclass(frozen=True)
class Buffers:
    """The buffers and memory ports (``None`` where the program has no use for them); ``spans``
    and ``lg``: the y words each drained row touches and ``log2`` of the y banks; ``entry``: a
    dispatch list entry."""
    xbuf: LaneBanks
    hbuf: LaneBanks | None
    upq: LaneBanks | None
    hdf: LaneBanks | None
    upqdf: WindowBanks | None
    d_wr: Any
    d_rd1: Any
    d_rd2: Any
    g_wr: Any
    g_rd: Any
    y_ports: list[tuple[Any, Any]]
    wt_wr: Any
    wt_rd: Any
    l_wr: Any
    l_rd: Any
    s_wr: Any
    s_rd: Any
    spans: list[int]
    lg: int
    entry: data.StructLayout


def add_units(m: Module, prog: Program, act_table: Any, is_df: Any) -> Units:
    """The datapath units as submodules ``pe``, ``rq1``, ``act``, ``rq2``, ``ser`` of ``m``; the
    split units are split while ``is_df``."""
    g = prog.geom
    C, E, R = g.cols, g.experts, g.rows
    pe: PEArray | SplitPEArray
    rq1: Requantizer | SplitRequantizer
    if prog.has_df:
        lay = g.df
        assert lay is not None
        # one array, two column groups: A (up, gate) and D (down); split while is_df
        m.submodules.pe = pe = SplitPEArray(R, (lay.lanes_a, lay.cd))
        m.submodules.rq1 = rq1 = SplitRequantizer((lay.cu, lay.cg, lay.cd) if g.gated
                                                  else (lay.cu, lay.cd))
        m.d.comb += [pe.split.eq(is_df), rq1.split.eq(is_df)]
    else:
        m.submodules.pe = pe = PEArray(R, C)
        m.submodules.rq1 = rq1 = Requantizer(C)
    m.submodules.act = lut = LookupTable(act_table, signed(8), lanes=C, index_signed=True)
    rq2 = ser = None
    if g.gated:
        m.submodules.rq2 = rq2 = Requantizer(C)
    if prog.front != "sequential":
        m.submodules.ser = ser = Serializer(E, signed(32))
    return Units(pe=pe, rq1=rq1, lut=lut, rq2=rq2, ser=ser)


def _y_spans(prog: Program) -> list[int]:
    """The y words each drained row touches: sequential down tiles (``C`` columns at ``n * C``)
    and the dataflow down tiles (``cd`` columns at ``n * cd``)."""
    g = prog.geom
    C, W, d = g.cols, g.stream_bytes, g.hidden
    ntd = ceil_div(d, C)
    last = d - (ntd - 1) * C
    spans = [((n * C) % W + (last if n == ntd - 1 else C) - 1) // W + 1 for n in range(ntd)]
    if prog.has_df:
        assert g.df is not None
        cd, nD = g.df.cd, g.df.tiles_d
        last = d - (nD - 1) * cd
        spans += [((n * cd) % W + (last if n == nD - 1 else cd) - 1) // W + 1
                  for n in range(nD)]
    return spans


def add_buffers(m: Module, prog: Program) -> Buffers:
    """The on-chip buffers and memories (table in ``codegen.hdl.top``) as submodules of ``m``."""
    g = prog.geom
    C, E, R, T, W, k = g.cols, g.experts, g.rows, g.tokens, g.stream_bytes, g.top_k
    d, f, wpt = g.hidden, g.ffn, g.words_per_token
    ntf, nte, rtt = ceil_div(f, C), ceil_div(E, C), ceil_div(T, R)
    tbits, jbits = max(1, (T - 1).bit_length()), max(1, (k - 1).bit_length())
    m.submodules.xbuf = xbuf = LaneBanks(W, wpt, T)
    hbuf = upq = hdf = upqdf = None
    if prog.has_seq:
        m.submodules.hbuf = hbuf = LaneBanks(C, rtt * ntf, R)
        if g.gated:
            m.submodules.upqbuf = upq = LaneBanks(C, rtt * ntf, R, cross_read=True)
    if prog.has_df:
        lay = g.df
        assert lay is not None
        # two row blocks of h (A tile t of slot s at s * nA + t, its wH columns in the banks)
        # and, gated, of up_q (up tile t at s * nU + t; read back as gate-tile windows)
        m.submodules.hdf = hdf = LaneBanks(lay.width_h, 2 * lay.tiles_a, R)
        if g.gated:
            m.submodules.upqdf = upqdf = WindowBanks(lay.cu, 2 * lay.tiles_up + 1, R, lay.cg)
    entry = data.StructLayout({"token": unsigned(tbits), "rank": unsigned(jbits)})
    m.submodules.dispatch = dmem = Memory(shape=data.ArrayLayout(entry, R), depth=max(2, E * rtt),
                                          init=[])
    d_wr = dmem.write_port(granularity=1)
    d_rd1 = dmem.read_port(domain="sync")  # expert A gather (feeder)
    d_rd2 = dmem.read_port(domain="sync")  # down drain: token and rank of each row
    m.submodules.gates = gmem = Memory(shape=data.ArrayLayout(unsigned(16), k), depth=max(2, T), init=[])
    g_wr, g_rd = gmem.write_port(), gmem.read_port(domain="sync")
    # y: word a = slot * ceil(d/W) + w lives in bank a % 2**lg at a // 2**lg, 2**lg covering
    # the most words one PE row touches, so every row is written in one cycle
    spans = _y_spans(prog)
    lg = max(0, (max(spans) - 1).bit_length())
    y_ports = []
    for b in range(1 << lg):
        ymem = Memory(shape=data.ArrayLayout(unsigned(8), W),
                      depth=max(2, ceil_div(T * k * wpt, 1 << lg)), init=[])
        m.submodules[f"ybuf{b}"] = ymem
        y_ports.append((ymem.write_port(granularity=1), ymem.read_port(domain="sync")))
    wt_wr = wt_rd = l_wr = l_rd = s_wr = s_rd = None
    if rtt > 1:
        m.submodules.wtile = wmem = Memory(shape=unsigned(8 * C), depth=max(2, max(d, f)), init=[])
        wt_wr = wmem.write_port()
        wt_rd = wmem.read_port(domain="sync", transparent_for=(wt_wr,))
    if prog.front == "sequential":
        m.submodules.logits = lmem = Memory(shape=data.ArrayLayout(signed(32), C),
                                            depth=max(2, T * nte), init=[])
        l_wr, l_rd = lmem.write_port(), lmem.read_port(domain="sync")
        m.submodules.sel = smem = Memory(shape=topk_output_layout(E, k), depth=max(2, T), init=[])
        s_wr, s_rd = smem.write_port(), smem.read_port(domain="sync")
    return Buffers(xbuf=xbuf, hbuf=hbuf, upq=upq, hdf=hdf, upqdf=upqdf, d_wr=d_wr, d_rd1=d_rd1,
                   d_rd2=d_rd2, g_wr=g_wr, g_rd=g_rd, y_ports=y_ports, wt_wr=wt_wr, wt_rd=wt_rd,
                   l_wr=l_wr, l_rd=l_rd, s_wr=s_wr, s_rd=s_rd, spans=spans, lg=lg, entry=entry)
