"""The PE array's drain (:class:`Drain`): sink counters, row routing, requantise / activation /
gate path into ``h``, the down rows to the ``y`` writer."""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..geometry import KernelGeometry, ceil_div
from ..hwutil import eq, wrap_inc
from ..pe_array import pe_output_layout
from .links import STAGE_END, df_tap_signature, max_requests, params_signature, unit_stream
from .ywriter import down_rows_signature

__all__ = ['Drain']



class Drain(wiring.Component):
    """The drain of the sequential GEMMs: the PE array's rows (``pe``) to the logits buffer
    (write port ``logits``, sequential front), the serializer (``ser``, dataflow front) or the
    requantiser ``rq1`` (``rq1_i`` / ``rq1_o``, with the running expert's ``q``); ``rq1`` to
    ``up_q`` (``upq``, gated up), the activation LUT (``lut_i`` / ``lut_o``: plain up, gate) or
    the ``y`` writer (``seq_rows``, down); gate: LUT ``* up_q`` -> ``rq2`` (``rq2_i`` /
    ``rq2_o``) -> ``h`` (write side ``h``). The sink counters count the rows of the GEMM's
    last drain step; ``gemm_end``: its last row. With a dataflow expert the LUT and ``rq2`` are
    shared with the dataflow drains through ``df`` (:func:`~.links.df_tap_signature`).
    ``pe_out_fire``: a PE output beat."""

    def __init__(self, geom: KernelGeometry, stage: wiring.Signature, *, units: Any,
                 seq_front: bool, has_df: bool, logits: wiring.Signature | None,
                 h: wiring.Signature | None, upq: wiring.Signature | None) -> None:
        self.geom, self.seq_front, self.has_df = geom, seq_front, has_df
        R, C = geom.rows, geom.cols
        members: dict[str, Any] = {
            "stage": In(stage), "pe": In(stream.Signature(pe_output_layout(R, C))),
            "rq1_i": Out(unit_stream(units.rq1, "i")), "rq1_o": In(unit_stream(units.rq1, "o")),
            "lut_i": Out(unit_stream(units.lut, "i")), "lut_o": In(unit_stream(units.lut, "o")),
            "q": In(params_signature(geom)),
            "seq_rows": Out(down_rows_signature(geom, max_requests(geom, has_df) * C, ready=True)),
            "gemm_end": Out(STAGE_END), "pe_out_fire": Out(1)}
        if geom.gated:
            members.update(rq2_i=Out(unit_stream(units.rq2, "i")),
                           rq2_o=In(unit_stream(units.rq2, "o")))
        if seq_front:
            assert logits is not None
            members["logits"] = In(logits)
        else:
            members["ser"] = Out(unit_stream(units.ser, "i"))
        if h is not None:
            members["h"] = In(h)
        if upq is not None:
            members["upq"] = In(upq)
        if has_df:
            members["df"] = Out(df_tap_signature(geom))
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        sink = self._counters(m)
        self._path(m, sink)
        return m

    def _counters(self, m: Module) -> dict[str, Any]:
        """Drain counters (the sink) and the routing of the PE array's rows."""
        g, stage = self.geom, self.stage
        C, E, R, T = g.cols, g.experts, g.rows, g.tokens
        rtt, nte, ntd = ceil_div(T, R), ceil_div(E, C), ceil_div(g.hidden, C)
        max_reqs = max_requests(g, self.has_df)
        load, rt, mrows, n_tiles = stage.load, stage.rt, stage.mrows, stage.col_tiles
        is_down, is_gate, is_exp = stage.is_down, stage.is_gate, stage.is_exp
        pe_o, rq1_i, q = self.pe, self.rq1_i, self.q
        # the "sink" is the last stage of the running GEMM's drain: a row written there
        sink_fire = Signal()
        sn = Signal(range(max(2, max_reqs)))
        sm = Signal(range(max(2, rtt)))
        sr = Signal(range(max(2, R)))
        si = Signal(range(rtt * R + 1))   # sm * R + sr
        so = Signal(range(max_reqs * C + 1))  # sn * C
        sm_nxt = Signal.like(sm)
        sink_last = (sn == n_tiles - 1) & (sm == rt - 1) & (eq(sr, R - 1))
        m.d.comb += self.gemm_end.done.eq(sink_fire & sink_last)
        m.d.comb += sm_nxt.eq(sm)
        with m.If(load):
            m.d.comb += sm_nxt.eq(0)
        with m.Elif(sink_fire & (eq(sr, R - 1))):
            m.d.comb += sm_nxt.eq(Mux(sm == rt - 1, 0, sm + 1))
        m.d.sync += sm.eq(sm_nxt)
        with m.If(sink_fire):
            m.d.sync += [sr.eq(wrap_inc(sr, R)), si.eq(si + 1)]
            with m.If((eq(sr, R - 1)) & (sm == rt - 1)):
                m.d.sync += [sn.eq(sn + 1), so.eq(so + C), si.eq(0)]
        with m.If(load):
            m.d.sync += [sn.eq(0), sr.eq(0), si.eq(0), so.eq(0)]
        row_ok = si < mrows

        pe_out_fire = self.pe_out_fire
        m.d.comb += pe_out_fire.eq(pe_o.valid & pe_o.ready)
        # PE output routing
        q_up, q_down = q.q_up, q.q_down
        if g.gated:
            q_gate = q.q_gate
            mult = Mux(is_down, q_down[:16], Mux(is_gate, q_gate[:16], q_up[:16]))
            shift = Mux(is_down, q_down[16:], Mux(is_gate, q_gate[16:], q_up[16:]))
        else:
            mult = Mux(is_down, q_down[:16], q_up[:16])
            shift = Mux(is_down, q_down[16:], q_up[16:])
        m.d.comb += [rq1_i.payload.acc.eq(pe_o.payload.data), rq1_i.payload.mult.eq(mult),
                     rq1_i.payload.shift.eq(shift)]
        with m.If(is_exp):
            m.d.comb += [rq1_i.valid.eq(pe_o.valid), pe_o.ready.eq(rq1_i.ready)]
        with m.Else():
            m.d.comb += pe_o.ready.eq(1)
        if not self.seq_front:
            ser = self.ser
            with m.If(stage.is_front):
                m.d.comb += [ser.valid.eq(pe_o.valid & row_ok),
                             pe_o.ready.eq(Mux(row_ok, ser.ready, 1))]
            for e in range(E):
                m.d.comb += ser.payload[e].eq(pe_o.payload.data[e])
        else:
            l_wr = self.logits
            m.d.comb += [l_wr.addr.eq(si * nte + sn), l_wr.data.eq(pe_o.payload.data),
                         l_wr.en.eq(stage.is_router & pe_out_fire & row_ok)]
        # down rows -> y writer
        sq, rq1_o = self.seq_rows, self.rq1_o
        m.d.comb += [sq.valid.eq(rq1_o.valid & row_ok), sq.data.eq(rq1_o.payload),
                     sq.blk_nxt.eq(sm_nxt), sq.lane.eq(sr), sq.col.eq(so),
                     sq.last_tile.eq(eq(sn, ntd - 1))]
        return {"sink_fire": sink_fire, "sn": sn, "sm": sm, "sr": sr}

    def _path(self, m: Module, sink: dict[str, Any]) -> None:
        """Requantise / activation / gate path: rq1 -> up_q, LUT, ``* up_q`` -> RQhid -> ``h``."""
        g, stage, has_df = self.geom, self.stage, self.has_df
        C, R, ntf = g.cols, g.rows, ceil_div(g.ffn, g.cols)
        sink_fire, sn, sm, sr = sink["sink_fire"], sink["sn"], sink["sm"], sink["sr"]
        load, rt = stage.load, stage.rt
        is_df, is_down, is_up, is_gate = stage.is_df, stage.is_down, stage.is_up, stage.is_gate
        rq1_o, lut_i, lut_o = self.rq1_o, self.lut_i, self.lut_o
        has_seq, upq = hasattr(self, "h"), getattr(self, "upq", None)
        # rq1 output routing: up (gated) -> up_q; up (plain) / gate -> LUT; down -> y writer
        lut_path = (is_up & (not g.gated)) | is_gate
        m.d.comb += [lut_i.valid.eq(rq1_o.valid & lut_path), lut_i.payload.eq(rq1_o.payload)]
        if has_df:
            # dataflow expert: the LUT takes the gate group's rows (gated) or the up group's
            # (plain); its input is the requantiser's lanes side by side in either mode
            tap = self.df
            with m.If(is_df):
                m.d.comb += lut_i.valid.eq(tap.lut_valid)
            m.d.comb += [tap.lut_fire.eq(lut_i.valid & lut_i.ready),
                         tap.lut_ready.eq(lut_i.ready)]
        rq1_o_fire = rq1_o.valid & rq1_o.ready
        with m.If(lut_path):
            m.d.comb += rq1_o.ready.eq(lut_i.ready)
        with m.Elif(is_down):
            m.d.comb += rq1_o.ready.eq(self.seq_rows.ready)
        with m.Else():
            m.d.comb += rq1_o.ready.eq(1)

        hrow = Signal(data.ArrayLayout(unsigned(8), C))
        if g.gated:
            rq2_i, rq2_o, q_hid = self.rq2_i, self.rq2_o, self.q.q_hid
            # gate drain: LUT -> product with up_q (one register) -> Requantizer RQhid -> h
            mn = Signal.like(sn)
            mm = Signal.like(sm)
            mr = Signal.like(sr)
            lut_in_fire = lut_i.valid & lut_i.ready
            with m.If(lut_in_fire & is_gate):
                m.d.sync += mr.eq(wrap_inc(mr, R))
                with m.If(eq(mr, R - 1)):
                    m.d.sync += mm.eq(Mux(mm == rt - 1, 0, mm + 1))
                    with m.If(mm == rt - 1):
                        m.d.sync += mn.eq(mn + 1)
            with m.If(load):
                m.d.sync += [mn.eq(0), mm.eq(0), mr.eq(0)]
            # the up_q operand of the product, lane by lane (sequential: the up_q row of the
            # gate tile; dataflow: the up_q window of the gate group's columns, lanes cu..cA-1)
            upq_op = Signal(data.ArrayLayout(unsigned(8), C))
            if upq is not None:
                m.d.comb += [upq.c_addr.eq(mm * ntf + mn), upq.c_lane.eq(mr),
                             upq.c_en.eq(lut_i.ready)]
                m.d.comb += upq_op.eq(upq.c_data)
            if has_df:
                assert g.df is not None
                with m.If(is_df):
                    m.d.comb += upq_op.eq(0)
                    for c in range(g.df.cg):
                        m.d.comb += upq_op[g.df.cu + c].eq(self.df.upq_window[c])
            pv2 = Signal()
            prod = Signal(data.ArrayLayout(signed(16), C))
            en2 = ~pv2 | rq2_i.ready
            m.d.comb += lut_o.ready.eq(Mux(is_gate | is_df, en2, 1))
            with m.If(en2):
                m.d.sync += pv2.eq(lut_o.valid & (is_gate | is_df))
                for c in range(C):
                    m.d.sync += prod[c].eq(lut_o.payload[c] * upq_op[c].as_signed())
            m.d.comb += [rq2_i.valid.eq(pv2), rq2_i.payload.mult.eq(q_hid[:16]),
                         rq2_i.payload.shift.eq(q_hid[16:]), rq2_o.ready.eq(1)]
            for c in range(C):
                m.d.comb += rq2_i.payload.acc[c].eq(prod[c])
            # up (gated) -> up_q
            if upq is not None:
                m.d.comb += [upq.w_addr.eq(sm * ntf + sn), upq.w_lane.eq(sr),
                             upq.w_en.eq(is_up & rq1_o_fire)]
                for c in range(C):
                    m.d.comb += upq.w_data[c].eq(rq1_o.payload[c])
            m.d.comb += hrow.eq(rq2_o.payload)
            h_valid = rq2_o.valid
            h_write = is_gate & rq2_o.valid
            with m.If(is_up):
                m.d.comb += sink_fire.eq(rq1_o_fire)
            with m.Elif(is_gate):
                m.d.comb += sink_fire.eq(rq2_o.valid)
        else:
            m.d.comb += lut_o.ready.eq(1)
            m.d.comb += hrow.eq(lut_o.payload)
            h_valid = lut_o.valid
            h_write = is_up & lut_o.valid
            with m.If(is_up):
                m.d.comb += sink_fire.eq(lut_o.valid)
        with m.If(stage.is_router | stage.is_front):
            m.d.comb += sink_fire.eq(self.pe_out_fire)
        with m.If(is_down):
            m.d.comb += sink_fire.eq(rq1_o_fire)
        if has_seq:
            hbuf = self.h
            m.d.comb += [hbuf.w_addr.eq(sm * ntf + sn), hbuf.w_lane.eq(sr),
                         hbuf.w_en.eq(h_write)]
            for c in range(C):
                m.d.comb += hbuf.w_data[c].eq(hrow[c])
        if has_df:
            m.d.comb += [self.df.h_valid.eq(h_valid), self.df.h_data.eq(hrow)]
