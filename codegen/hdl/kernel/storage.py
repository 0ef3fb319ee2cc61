"""The kernel's components and on-chip buffers (table in :mod:`codegen.hdl.top`)."""
from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data
from amaranth.lib.memory import Memory

from ..buffers import LaneBanks, WindowBanks
from ..lookup_table import LookupTable
from ..pe_array import PEArray
from ..requantizer import Requantizer
from ..serializer import Serializer
from ..split import SplitPEArray, SplitRequantizer
from ..topk import topk_output_layout
from .scope import KernelScope, ceil_div

__all__ = ['add_units', 'add_buffers']


def add_units(scope: KernelScope) -> None:
    """The datapath components the drains share: PE array, requantisers, LUT, serializer."""
    C, E, R = scope.take('C', 'E', 'R')
    g, has_df, is_df = scope.take('g', 'has_df', 'is_df')
    kernel, m, seq_front = scope.take('kernel', 'm', 'seq_front')
    # ---------------------------------------------------------------- components
    if has_df:
        lay = g.df
        assert lay is not None
        cu, cg, cd, cA, wH = lay.cu, lay.cg, lay.cd, lay.lanes_a, lay.width_h
        nA, nU, nD = lay.tiles_a, lay.tiles_up, lay.tiles_d
        # one array, two column groups: A (up, gate) and D (down); split while is_df
        m.submodules.pe = pe = SplitPEArray(R, (cA, cd))
        m.submodules.rq1 = rq1 = SplitRequantizer((cu, cg, cd) if g.gated else (cu, cd))
        m.d.comb += [pe.split.eq(is_df), rq1.split.eq(is_df)]
    else:
        m.submodules.pe = pe = PEArray(R, C)
        m.submodules.rq1 = rq1 = Requantizer(C)
    m.submodules.act = lut = LookupTable(kernel.act_table, signed(8), lanes=C, index_signed=True)
    m.d.comb += kernel.pe_busy.eq(pe.busy)
    if g.gated:
        m.submodules.rq2 = rq2 = Requantizer(C)
    if not seq_front:
        m.submodules.ser = ser = Serializer(E, signed(32))

    scope.publish(locals(), 'cA', 'cd', 'cg', 'cu', 'lay', 'lut', 'nA', 'nD',
                'nU', 'pe', 'rq1', 'rq2', 'ser', 'wH')


def add_buffers(scope: KernelScope) -> None:
    """The on-chip buffers and memories (table in ``codegen.hdl.top``)."""
    C, E, R, T = scope.take('C', 'E', 'R', 'T')
    W, cd, cg, cu = scope.take('W', 'cd', 'cg', 'cu')
    d, f, g, has_df = scope.take('d', 'f', 'g', 'has_df')
    has_seq, jbits, k, m = scope.take('has_seq', 'jbits', 'k', 'm')
    nA, nD, nU = scope.take('nA', 'nD', 'nU')
    ntd, nte, ntf, rtt = scope.take('ntd', 'nte', 'ntf', 'rtt')
    seq_front, tbits, wH, wpt = scope.take('seq_front', 'tbits', 'wH', 'wpt')
    # ---------------------------------------------------------------- buffers
    m.submodules.xbuf = xbuf = LaneBanks(W, wpt, T)
    if has_seq:
        m.submodules.hbuf = hbuf = LaneBanks(C, rtt * ntf, R)
        if g.gated:
            m.submodules.upqbuf = upq = LaneBanks(C, rtt * ntf, R, cross_read=True)
    if has_df:
        # two row blocks of h (A tile t of slot s at s * nA + t, its wH columns in the banks)
        # and, gated, of up_q (up tile t at s * nU + t; read back as gate-tile windows)
        m.submodules.hdf = hdf = LaneBanks(wH, 2 * nA, R)
        if g.gated:
            m.submodules.upqdf = upqdf = WindowBanks(cu, 2 * nU + 1, R, cg)
    entry = data.StructLayout({"token": unsigned(tbits), "rank": unsigned(jbits)})
    m.submodules.dispatch = dmem = Memory(shape=data.ArrayLayout(entry, R), depth=max(2, E * rtt),
                                          init=[])
    d_wr = dmem.write_port(granularity=1)
    d_rd1 = dmem.read_port(domain="sync")  # expert A gather (feeder)
    d_rd2 = dmem.read_port(domain="sync")  # down drain: token and rank of each row
    m.submodules.gates = gmem = Memory(shape=data.ArrayLayout(unsigned(16), k), depth=max(2, T), init=[])
    g_wr, g_rd = gmem.write_port(), gmem.read_port(domain="sync")
    # y: word a = slot * ceil(d/W) + w lives in bank a % nb at a // nb, nb (a power of two)
    # covering the most words one PE row touches, so every row is written in one cycle
    last_valid = d - (ntd - 1) * C
    spans = [((n * C) % W + (last_valid if n == ntd - 1 else C) - 1) // W + 1
             for n in range(ntd)]
    if has_df:  # down rows of the dataflow expert: cd columns at n * cd
        last_valid_df = d - (nD - 1) * cd
        spans += [((n * cd) % W + (last_valid_df if n == nD - 1 else cd) - 1) // W + 1
                  for n in range(nD)]
    lg = max(0, (max(spans) - 1).bit_length())
    nb = 1 << lg
    y_ports = []
    for b in range(nb):
        ymem = Memory(shape=data.ArrayLayout(unsigned(8), W),
                      depth=max(2, ceil_div(T * k * wpt, nb)), init=[])
        m.submodules[f"ybuf{b}"] = ymem
        y_ports.append((ymem.write_port(granularity=1), ymem.read_port(domain="sync")))
    kmax = max(d, f)
    if rtt > 1:
        m.submodules.wtile = wmem = Memory(shape=unsigned(8 * C), depth=max(2, kmax), init=[])
        wt_wr = wmem.write_port()
        wt_rd = wmem.read_port(domain="sync", transparent_for=(wt_wr,))
    if seq_front:
        m.submodules.logits = lmem = Memory(shape=data.ArrayLayout(signed(32), C),
                                            depth=max(2, T * nte), init=[])
        l_wr, l_rd = lmem.write_port(), lmem.read_port(domain="sync")
        m.submodules.sel = smem = Memory(shape=topk_output_layout(E, k), depth=max(2, T), init=[])
        s_wr, s_rd = smem.write_port(), smem.read_port(domain="sync")

    scope.publish(locals(), 'd_rd1', 'd_rd2', 'd_wr', 'entry', 'g_rd', 'g_wr', 'hbuf', 'hdf', 'kmax', 'l_rd',
                'l_wr', 'last_valid', 'last_valid_df', 'lg', 'nb', 's_rd', 's_wr', 'spans',
                'upq', 'upqdf', 'wt_rd', 'wt_wr', 'xbuf', 'y_ports')
