"""The router's back end: :class:`TopKFeed` (top-k) and :class:`GateDispatch` (the gate
normaliser with the per-expert dispatcher)."""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..gate_normalizer import GateNormalizer
from ..geometry import PARAM_WORD_BITS, KernelGeometry, ceil_div
from ..hwutil import eq, select, wrap_inc
from ..tables import exp_table
from ..topk import TopK, topk_output_layout
from .links import STAGE_END, tally_signature

__all__ = ['TopKFeed', 'GateDispatch']


class TopKFeed(wiring.Component):
    """Top-k (:class:`~codegen.hdl.topk.TopK`, submodule ``topk``) of every token's logits.

    Sequential front (``logits`` and ``sel`` given: the read port of the ``logits`` buffer and
    the write port of ``sel``): during the ``topk`` stage one logit a cycle from ``logits``
    into TopK, its results to ``sel``; ``tk_end`` is the stage's end. Dataflow front: the
    serializer's stream ``ser`` into TopK, whose results leave on ``o`` (to the gate
    normaliser). ``in_fire`` / ``out_valid``: TopK's input beat and output valid."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *,
                 logits: wiring.Signature | None = None, sel: wiring.Signature | None = None) -> None:
        self.geom = geom
        self.seq_front = logits is not None
        members: dict[str, Any] = {"stage": In(stage), "tk_end": Out(STAGE_END),
                                   "in_fire": Out(1), "out_valid": Out(1)}
        if logits is not None and sel is not None:
            members.update(logits=In(logits), sel=In(sel))
        else:
            members["ser"] = In(stream.Signature(signed(32)))
            members["o"] = Out(stream.Signature(topk_output_layout(geom.experts, geom.top_k)))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        g, st = self.geom, self.stage
        T, E, C = g.tokens, g.experts, g.cols
        nte = ceil_div(E, C)
        run, load, is_topk = st.run, st.load, st.is_topk
        m.submodules.topk = topk = TopK(E, g.top_k)
        tk_done = self.tk_end.done
        if self.seq_front:
            l_rd, s_wr = self.logits, self.sel
            tt = Signal(range(T + 1))
            te = Signal(range(max(2, E)))
            tl = Signal(range(max(2, C)))
            taddr = Signal(range(T * nte + 1))
            tfeed = Signal()
            tpv = Signal()
            tp_lane = Signal.like(tl)
            t_rd_en = ~tpv | (topk.i.valid & topk.i.ready)
            t_issue = run & is_topk & tfeed & t_rd_en
            with m.If(t_issue):
                m.d.sync += [tpv.eq(1), tp_lane.eq(tl)]
                with m.If(eq(te, E - 1)):
                    m.d.sync += [te.eq(0), tl.eq(0), taddr.eq(taddr + 1), tt.eq(tt + 1)]
                    with m.If(eq(tt, T - 1)):
                        m.d.sync += tfeed.eq(0)
                with m.Else():
                    m.d.sync += [te.eq(te + 1), tl.eq(wrap_inc(tl, C))]
                    with m.If(eq(tl, C - 1)):
                        m.d.sync += taddr.eq(taddr + 1)
            with m.Elif(t_rd_en):
                m.d.sync += tpv.eq(0)
            with m.If(load):
                m.d.sync += [tt.eq(0), te.eq(0), tl.eq(0), taddr.eq(0), tfeed.eq(is_topk),
                             tpv.eq(0)]
            m.d.comb += [l_rd.addr.eq(taddr), l_rd.en.eq(t_rd_en),
                         topk.i.valid.eq(tpv & run & is_topk),
                         topk.i.payload.eq(select([l_rd.data[i] for i in range(C)], tp_lane))]
            so_t = Signal(range(T + 1))
            tk_out_fire = topk.o.valid & topk.o.ready
            m.d.comb += [s_wr.addr.eq(so_t), s_wr.data.eq(topk.o.payload),
                         s_wr.en.eq(is_topk & tk_out_fire)]
            with m.If(is_topk & tk_out_fire):
                m.d.sync += so_t.eq(so_t + 1)
            with m.If(load):
                m.d.sync += so_t.eq(0)
            m.d.comb += tk_done.eq(is_topk & tk_out_fire & (eq(so_t, T - 1)))
            with m.If(is_topk):
                m.d.comb += topk.o.ready.eq(1)
        else:
            wiring.connect(m, wiring.flipped(self.ser), topk.i)
            wiring.connect(m, topk.o, wiring.flipped(self.o))
        m.d.comb += [self.in_fire.eq(topk.i.valid & topk.i.ready),
                     self.out_valid.eq(topk.o.valid)]
        return m


class GateDispatch(wiring.Component):
    """The gate normaliser (:class:`~codegen.hdl.gate_normalizer.GateNormalizer`, submodule
    ``gn``, gate requantiser ``rqg``) and the dispatcher.

    Input: the ``sel`` buffer's read port (sequential front, ``gate_norm`` stage) or the top-k
    stream ``topk`` (dataflow front, ``front`` stage). Gates go to the ``gates`` write port; at
    every accepted token the dispatcher writes the token into the lists of its ``k`` experts
    (``dispatch`` write port) and counts it (``tally``). ``gates_end``: every gate written
    (from this cycle on); ``disp_end``: every token dispatched. ``in_fire``, ``out_fire``,
    ``busy``: the normaliser's beats and the dispatcher's writes."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *,
                 gates: wiring.Signature, dispatch: wiring.Signature,
                 sel: wiring.Signature | None = None) -> None:
        self.geom = geom
        self.seq_front = sel is not None
        members: dict[str, Any] = {
            "stage": In(stage), "rqg": In(PARAM_WORD_BITS), "gates": In(gates),
            "dispatch": In(dispatch), "tally": Out(tally_signature(geom)),
            "gates_end": Out(STAGE_END), "disp_end": Out(STAGE_END),
            "in_fire": Out(1), "out_fire": Out(1), "busy": Out(1)}
        if sel is not None:
            members["sel"] = In(sel)
        else:
            members["topk"] = In(stream.Signature(topk_output_layout(geom.experts, geom.top_k)))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        g, st = self.geom, self.stage
        T, E, R, k = g.tokens, g.experts, g.rows, g.top_k
        rtt = ceil_div(T, R)
        tbits = max(1, (T - 1).bit_length())
        run, load, layer_init = st.run, st.load, st.layer_init
        is_gn, is_front = st.is_gn, st.is_front
        counts, lanes, tiles = self.tally.counts, self.tally.lanes, self.tally.tiles
        d_wr, g_wr = self.dispatch, self.gates
        m.submodules.gn = gn = GateNormalizer(E, k, exp_table())
        d_busy = Signal()
        dj = Signal(range(max(2, k)))
        d_idx = Signal(data.ArrayLayout(unsigned(g.expert_bits), k))
        d_t = Signal(tbits)
        gn_t = Signal(range(T + 1))   # tokens accepted by the normaliser
        go_t = Signal(range(T + 1))   # gate results written
        gates_done = Signal()
        gn_fire = gn.i.valid & gn.i.ready
        gn_src_valid = Signal()
        m.d.comb += [gn.gate_mult.eq(self.rqg[:16]), gn.gate_shift.eq(self.rqg[16:]),
                     gn.i.valid.eq(gn_src_valid & ~d_busy & run & (is_gn | is_front)),
                     self.in_fire.eq(gn_fire), self.busy.eq(d_busy)]
        if self.seq_front:
            s_rd = self.sel
            gpv = Signal()
            gt = Signal(range(T + 1))
            g_rd_en = ~gpv | gn_fire
            g_issue = run & is_gn & (gt < T) & g_rd_en
            with m.If(g_issue):
                m.d.sync += [gpv.eq(1), gt.eq(gt + 1)]
            with m.Elif(g_rd_en):
                m.d.sync += gpv.eq(0)
            with m.If(load):
                m.d.sync += [gt.eq(0), gpv.eq(0)]
            m.d.comb += [s_rd.addr.eq(gt), s_rd.en.eq(g_rd_en), gn_src_valid.eq(gpv),
                         gn.i.payload.eq(s_rd.data)]
        else:
            topk = self.topk
            m.d.comb += [gn_src_valid.eq(topk.valid), gn.i.payload.eq(topk.payload),
                         topk.ready.eq(gn.i.ready & ~d_busy & run & is_front)]
        gn_out_fire = gn.o.valid & gn.o.ready
        m.d.comb += [gn.o.ready.eq(1), self.out_fire.eq(gn_out_fire),
                     g_wr.addr.eq(go_t), g_wr.data.eq(gn.o.payload.weight), g_wr.en.eq(gn_out_fire)]
        with m.If(gn_out_fire):
            m.d.sync += go_t.eq(go_t + 1)
            with m.If(eq(go_t, T - 1)):
                m.d.sync += gates_done.eq(1)
        m.d.comb += self.gates_end.done.eq(gates_done | (gn_out_fire & (eq(go_t, T - 1))))
        # dispatcher: k list writes per accepted token
        d_e = Signal(g.expert_bits)
        m.d.comb += d_e.eq(select([d_idx[i] for i in range(k)], dj))
        cur_lane = select([lanes[i] for i in range(E)], d_e)
        cur_tile = select([tiles[i] for i in range(E)], d_e)
        m.d.comb += [d_wr.addr.eq(d_e * rtt + cur_tile)]
        for r in range(R):
            m.d.comb += [d_wr.data[r].token.eq(d_t), d_wr.data[r].rank.eq(dj),
                         d_wr.en[r].eq(d_busy & (eq(cur_lane, r)))]
        with m.If(gn_fire):
            m.d.sync += [d_busy.eq(1), dj.eq(0), d_idx.eq(gn.i.payload.index), d_t.eq(gn_t),
                         gn_t.eq(gn_t + 1)]
        with m.If(d_busy):
            m.d.sync += dj.eq(dj + 1)
            with m.If(eq(dj, k - 1)):
                m.d.sync += d_busy.eq(0)
            for e in range(E):
                with m.If(eq(d_e, e)):
                    m.d.sync += [counts[e].eq(counts[e] + 1),
                                 lanes[e].eq(wrap_inc(lanes[e], R))]
                    with m.If(eq(lanes[e], R - 1)):
                        m.d.sync += tiles[e].eq(tiles[e] + 1)
        d_busy_nxt = Mux(gn_fire, 1, Mux(d_busy & (eq(dj, k - 1)), 0, d_busy))
        m.d.comb += self.disp_end.done.eq((eq((gn_t + gn_fire), T)) & ~d_busy_nxt)
        with m.If(layer_init):
            m.d.sync += [counts.eq(0), lanes.eq(0), tiles.eq(0), gn_t.eq(0), go_t.eq(0),
                         gates_done.eq(0), d_busy.eq(0)]
        return m
