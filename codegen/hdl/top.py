"""``MoEKernel(plan)``: the Amaranth top level of the generated InTAR-style MoE kernel.

Interface: :mod:`codegen.hdl.interface` (ports, weight-request encoding, parameter block).
Arithmetic: ``docs/kernel-arithmetic.md``; the result is bit-exact with
``verification.golden.moe_layer``. Schedule: :mod:`codegen.hdl.schedule_rom` (ROM rows) and
:mod:`codegen.hdl.controller` (sequencer). The datapath is one ``R x C``
:class:`~codegen.hdl.pe_array.PEArray` shared by the router and every expert GEMM, the
components of ``codegen/hdl`` and the on-chip buffers below (``lib.memory``, synchronous reads):

========== ================================ ============================================
buffer      shape                            written by / read by
========== ================================ ============================================
x           W banks x ceil(d/W) x T bytes    load / router and up/gate A operand (gather)
params      E x (2|4) requantisers, + RQg    parameter block / the expert's drains
wtile       max(d, f) x C bytes              first row tile of a GEMM / later row tiles
logits      T*ceil(E/C) x C int32            router (sequential front) / top-k
sel         T x top-k result                 top-k (sequential front) / gate_norm
gates       T x k Q1.15                      gate_norm / combine
dispatch    E*ceil(T/R) x R (token, rank)    gate_norm / expert A gather and y slots
up_q, h     C banks x ceil(T/R)*ceil(f/C)    up, gate drains / gate drain, down A operand
            x R bytes                        (sequential variants only)
h (df)      wH banks x 2*nA x R bytes        df: A drain (two row blocks) / D A operand
up_q (df)   cu banks x 2*nU+1 x R bytes      df: up lanes' drain / gate lanes' drain (window)
y           T*k*ceil(d/W) x W bytes, banked  down drain (slot t*k + rank) / combine
            by word address (one row a cycle)
========== ================================ ============================================

Stages (one ROM row each; the controller separates them by the schedule's switch cycles):

* ``load`` (sequential front): requests the parameter block (first cycle) and reads the ``T``
  tokens; ends when both are in.
* ``router``: ``Y = x @ Wr``, column tiles outer, row tiles inner; tile ``n`` is requested in
  the stage's first cycles, streamed into the array for row tile 0 and kept in ``wtile`` for
  the others. Rows go to ``logits``.
* ``topk``: one logit a cycle from ``logits`` into :class:`TopK`, results to ``sel``.
* ``gate_norm``: ``sel`` into :class:`GateNormalizer` (gates to ``gates``); at every accepted
  token the dispatcher appends the token to the lists of its ``k`` experts (``k`` writes
  during the normaliser's 20-cycle interval) and counts tokens per expert.
* ``front`` (dataflow front, one stage): load, router (row tile ``m`` starts when its tokens are
  in), a :class:`Serializer` of each logit row into TopK, TopK into the GateNormalizer, all
  concurrently; requests: router tile, then the parameter block (RQg is its first word).
* per expert with ``c > 0`` tokens, the variant block for ``c`` (``seq-stream``/``seq-tiled``;
  both run on the same engine, the second with more than one row tile): ``up`` (A gathered from
  ``x`` by the expert's token list; drain: Requantizer RQup -> ``up_q``, or -> activation LUT ->
  ``h`` when not gated), ``gate`` (drain: RQgate -> LUT -> ``* up_q`` (one registered multiply)
  -> Requantizer RQhid -> ``h``), ``down`` (A from ``h``; drain: RQdown -> ``y`` slots).
* ``expert_df`` (the ``df`` variant, one stage): the array and the drain requantiser are split
  into column groups (:mod:`codegen.hdl.split`) while the stage runs: A = ``cu`` up + ``cg``
  gate columns, sharing the ``x`` operand, and D = ``cd`` down columns, reading ``h``. The
  stage requests one ``DF_UP``/``DF``/``DF_DOWN`` response per phase (``B + 1`` phases for
  ``B`` row blocks; :mod:`~codegen.hdl.interface`); each word feeds both groups in the same
  cycle (lockstep). Phase ``p`` runs A on row block ``p`` and D on block ``p - 1``. Drains:
  up lanes -> RQup -> ``up_q (df)`` (gated; plain: -> LUT -> ``h (df)``), gate lanes -> RQgate
  -> LUT -> ``* up_q`` window -> RQhid -> ``h (df)``, D -> RQdown -> ``y``. A D beat waits
  until the ``h`` tile of its column is written; ``h`` and ``up_q`` hold two row blocks.
* ``combine``: ``y`` slots and gates into the :class:`Combiner`, whose output is ``y_out``.

Every GEMM runs the PE contract back to back (``max(K, R)`` cycles a tile), so a stage takes
``1 + gemm_cycles + post`` cycles with a weight memory that answers a request in the next
cycle and keeps ``wdata`` valid, as ``archmodel.fpga.schedule`` predicts; an ``expert_df``
stage takes the cycles of ``archmodel.fpga.schedule._df_timing`` (one word a cycle, waits as
described there).
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Mux, Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory

from .buffers import LaneBanks, WindowBanks
from .combiner import Combiner
from .controller import Controller
from .gate_normalizer import GateNormalizer
from .hwutil import eq, select, wrap_inc
from .interface import PARAM_WORD_BITS, KernelGeometry, Tensor, kernel_signature
from .lookup_table import LookupTable
from .pe_array import PEArray
from .requantizer import Requantizer
from .schedule_rom import Program, StageTask, build_program
from .serializer import Serializer
from .split import SplitPEArray, SplitRequantizer
from .tables import activation_table, exp_table
from .topk import TopK, topk_output_layout

__all__ = ["MoEKernel", "PROBES"]

#: internal one-bit events a test bench may watch (``MoEKernel.probes``)
PROBES = ("x_fire", "w_fire", "req_fire", "param_fire", "pe_in_fire", "pe_out_fire",
          "topk_in_fire", "topk_out_valid", "gn_in_fire", "gn_out_fire", "disp_busy", "y_fire",
          "df_a_beat", "df_d_beat", "df_upq_row", "df_h_row", "df_y_row")


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _schedule_and_activation(plan: Any, activation: str | None) -> tuple[Any, str]:
    if hasattr(plan, "schedule"):
        return plan.schedule, activation or plan.activation
    if activation is None:
        raise ValueError("MoEKernel(schedule) needs activation=")
    return plan, activation


class MoEKernel(wiring.Component):
    """The kernel a ``codegen.plan.KernelPlan`` describes (or a ``ScheduleResult`` plus
    ``activation``). Raises :class:`~codegen.hdl.schedule_rom.UnsupportedSchedule` if the plan's
    schedule selects something the RTL does not implement."""

    def __init__(self, plan: Any, *, activation: str | None = None) -> None:
        schedule, act = _schedule_and_activation(plan, activation)
        self.schedule = schedule
        self.program: Program = build_program(schedule)
        self.geom: KernelGeometry = self.program.geom
        self.activation = act
        self.act_table = activation_table(act)
        super().__init__(kernel_signature(self.geom))
        self.probes = {name: Signal(name=f"probe_{name}") for name in PROBES}

    # ------------------------------------------------------------------------------------------
    def elaborate(self, platform: object) -> Module:  # noqa: C901 - one datapath, one place
        m = Module()
        g, prog = self.geom, self.program
        T, d, f, E, k = g.tokens, g.hidden, g.ffn, g.experts, g.top_k
        R, C, W = g.rows, g.cols, g.stream_bytes
        wpt = g.words_per_token
        nte, ntf = _ceil(E, C), _ceil(f, C)
        ntd = _ceil(d, C)
        rtt = _ceil(T, R)
        nq, P = g.requants_per_expert, g.param_words
        seq_front = prog.front == "sequential"
        has_df, has_seq = prog.has_df, prog.has_seq
        tbits = max(1, (T - 1).bit_length())
        jbits = max(1, (k - 1).bit_length())
        cbits = max(1, T.bit_length())
        probes = self.probes

        m.submodules.ctrl = ctrl = Controller(prog)
        fields = ctrl.fields
        task = fields.task
        run, load = ctrl.run, ctrl.load

        def is_(t: StageTask) -> Any:
            return eq(task, int(t))

        is_load, is_router, is_front = is_(StageTask.LOAD), is_(StageTask.ROUTER), is_(StageTask.FRONT)
        is_topk, is_gn = is_(StageTask.TOPK), is_(StageTask.GATE_NORM)
        is_up, is_gate, is_down = is_(StageTask.UP), is_(StageTask.GATE), is_(StageTask.DOWN)
        is_comb = is_(StageTask.COMBINE)
        is_df = is_(StageTask.DF) if has_df else Const(0, 1)
        is_exp = is_up | is_gate | is_down
        is_gemm = is_router | is_front | is_exp
        layer_init = load & (eq(ctrl.row, 0))
        done = Signal()
        m.d.comb += [ctrl.done.eq(done), self.stage.eq(ctrl.row), self.stage_valid.eq(run),
                     self.expert.eq(ctrl.expert)]

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
        m.submodules.act = lut = LookupTable(self.act_table, signed(8), lanes=C, index_signed=True)
        m.submodules.topk = topk = TopK(E, k)
        m.submodules.gn = gn = GateNormalizer(E, k, exp_table())
        m.submodules.comb = comb = Combiner(W)
        m.d.comb += self.pe_busy.eq(pe.busy)
        if g.gated:
            m.submodules.rq2 = rq2 = Requantizer(C)
        if not seq_front:
            m.submodules.ser = ser = Serializer(E, signed(32))

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
        m.submodules.params = pmem = Memory(shape=data.ArrayLayout(unsigned(PARAM_WORD_BITS), nq),
                                            depth=max(2, E), init=[])
        p_wr = pmem.write_port(granularity=1)
        p_rd = pmem.read_port(domain="sync")
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
                          depth=max(2, _ceil(T * k * wpt, nb)), init=[])
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

        # ---------------------------------------------------------------- per-layer routing state
        counts = Signal(data.ArrayLayout(unsigned(cbits), E))
        lanes = Signal(data.ArrayLayout(unsigned(max(1, (R - 1).bit_length())), E))
        tiles = Signal(data.ArrayLayout(unsigned(max(1, rtt.bit_length())), E))
        m.d.comb += ctrl.counts.eq(counts)

        # ---------------------------------------------------------------- load (x_in -> x)
        xw = Signal(range(max(2, wpt)))
        xt = Signal(range(T + 1))  # tokens completely loaded
        x_done = Signal()
        ld_active = run & (is_load | is_front)
        x_fire = Signal()
        m.d.comb += [self.x_in.ready.eq(ld_active & ~x_done),
                     x_fire.eq(self.x_in.valid & self.x_in.ready), probes["x_fire"].eq(x_fire),
                     xbuf.w_addr.eq(xw), xbuf.w_lane.eq(xt), xbuf.w_en.eq(x_fire)]
        for lane in range(W):
            m.d.comb += xbuf.w_data[lane].eq(self.x_in.payload[8 * lane:8 * lane + 8])
        x_token_end = x_fire & (eq(xw, wpt - 1))
        x_done_nxt = x_done | (x_token_end & (eq(xt, T - 1)))
        with m.If(x_fire):
            m.d.sync += xw.eq(wrap_inc(xw, wpt))
            with m.If(x_token_end):
                m.d.sync += xt.eq(xt + 1)
                with m.If(eq(xt, T - 1)):
                    m.d.sync += x_done.eq(1)
        with m.If(layer_init):
            m.d.sync += [xw.eq(0), xt.eq(0), x_done.eq(0)]

        # ---------------------------------------------------------------- weight requests
        max_reqs = max(2, nte, ntf, ntd, rtt + 1 if has_df else 0)
        req_i = Signal(range(max_reqs + 1))
        req_total = Signal(range(max_reqs + 1))
        m.d.comb += req_total.eq(Mux(is_load, 1, Mux(is_front, 2, Mux(is_router | is_exp,
                                                                          fields.col_tiles, 0))))
        rt = Signal(range(rtt + 1))     # row tiles (blocks) of the running GEMM / df expert
        if has_df:
            with m.If(is_df):  # one request per phase: B + 1
                m.d.comb += req_total.eq(rt + 1)
        req = self.wreq.payload
        tensor = Signal(3)
        with m.If(is_load | (is_front & (req_i != 0))):
            m.d.comb += tensor.eq(int(Tensor.PARAMS))
        with m.Elif(is_router | is_front):
            m.d.comb += tensor.eq(int(Tensor.ROUTER))
        with m.Elif(is_up):
            m.d.comb += tensor.eq(int(Tensor.UP))
        with m.Elif(is_gate):
            m.d.comb += tensor.eq(int(Tensor.GATE))
        with m.Else():
            m.d.comb += tensor.eq(int(Tensor.DOWN))
        if has_df:
            with m.If(is_df):
                m.d.comb += tensor.eq(Mux(eq(req_i, 0), int(Tensor.DF_UP),
                                          Mux(req_i == rt, int(Tensor.DF_DOWN), int(Tensor.DF))))
        is_params_req = eq(tensor, int(Tensor.PARAMS))
        m.d.comb += [
            self.wreq.valid.eq(run & (req_i < req_total)),
            req.tensor.eq(tensor),
            req.expert.eq(Mux(is_exp | is_df, ctrl.expert, 0)),
            req.tile.eq(Mux(is_router | is_exp, req_i, 0)),
            req.cols.eq(Mux(is_params_req, 0, C)),
            probes["req_fire"].eq(self.wreq.valid & self.wreq.ready),
        ]
        with m.If(self.wreq.valid & self.wreq.ready):
            m.d.sync += req_i.eq(req_i + 1)
        with m.If(load):
            m.d.sync += req_i.eq(0)

        # ---------------------------------------------------------------- parameter block
        pw = Signal(range(P + 1))
        pe_idx = Signal(range(max(2, E)))
        pq = Signal(range(max(2, nq)))
        rqg = Signal(PARAM_WORD_BITS)
        router_w_done = Signal()
        pl_own = Signal()
        p_fire = Signal()
        feeder_w_ready = Signal()
        df_w_ready = Signal()
        m.d.comb += [
            pl_own.eq(run & (is_load | (is_front & router_w_done)) & (pw < P)),
            self.wdata.ready.eq(Mux(pl_own, 1, Mux(is_df, df_w_ready, feeder_w_ready))),
            p_fire.eq(pl_own & self.wdata.valid),
            probes["param_fire"].eq(p_fire),
            probes["w_fire"].eq(self.wdata.valid & self.wdata.ready),
        ]
        p_done_nxt = (eq(pw, P)) | (p_fire & (eq(pw, P - 1)))
        word = self.wdata.payload[:PARAM_WORD_BITS]
        m.d.comb += p_wr.addr.eq(pe_idx)
        for q in range(nq):
            m.d.comb += [p_wr.data[q].eq(word),
                         p_wr.en[q].eq(p_fire & (pw != 0) & (eq(pq, q)))]
        with m.If(p_fire):
            m.d.sync += pw.eq(pw + 1)
            with m.If(eq(pw, 0)):
                m.d.sync += rqg.eq(word)
            with m.Else():
                m.d.sync += pq.eq(wrap_inc(pq, nq))
                with m.If(eq(pq, nq - 1)):
                    m.d.sync += pe_idx.eq(pe_idx + 1)
        with m.If(layer_init):
            m.d.sync += [pw.eq(0), pe_idx.eq(0), pq.eq(0)]
        m.d.comb += [p_rd.addr.eq(ctrl.expert), p_rd.en.eq(ctrl.sw1)]
        q_up = p_rd.data[0]
        q_gate = p_rd.data[1] if g.gated else None
        q_hid = p_rd.data[2] if g.gated else None
        q_down = p_rd.data[nq - 1]

        # ---------------------------------------------------------------- GEMM feeder
        n_tiles = fields.col_tiles
        kk_n = fields.k
        mrows = Signal(range(T + 1))    # M of the running GEMM
        with m.If(load):
            m.d.sync += [rt.eq(Mux(is_exp | is_df, select([tiles[i] for i in range(E)], ctrl.expert) + select([lanes[i] for i in range(E)], ctrl.expert).any(), rtt)),
                         mrows.eq(Mux(is_exp | is_df, ctrl.count, T))]
        feeding = Signal()
        fn = Signal(range(max(2, max_reqs)))
        fm = Signal(range(max(2, rtt)))
        fk = Signal(range(max(2, kmax)))
        fmr = Signal(range(rtt * R + 1))  # fm * R
        xk_lo = Signal(range(max(2, W)))
        xk_hi = Signal(range(max(2, wpt)))
        hk_lo = Signal(range(max(2, C)))
        hk_hi = Signal(range(max(2, ntf)))
        pv = Signal()
        p_last, p_stream, p_n = Signal(), Signal(), Signal.like(fn)
        p_kk = Signal.like(fk)
        p_mr = Signal.like(fmr)
        fire = Signal()
        rd_en = Signal()
        gate_ok = Signal()
        need = Signal(range(rtt * R + R + 1))
        m.d.comb += need.eq(fmr + R)
        m.d.comb += gate_ok.eq(~is_front | (xt >= Mux(need > T, T, need)))
        issue = Signal()
        m.d.comb += [rd_en.eq(~pv | fire), issue.eq(run & is_gemm & feeding & gate_ok & rd_en)]
        k_end = fk == kk_n - 1
        m_end = fm == rt - 1
        with m.If(issue):
            m.d.sync += [pv.eq(1), p_last.eq(k_end), p_stream.eq(eq(fm, 0)), p_kk.eq(fk),
                         p_mr.eq(fmr), p_n.eq(fn)]
            with m.If(k_end):
                m.d.sync += [fk.eq(0), xk_lo.eq(0), xk_hi.eq(0), hk_lo.eq(0), hk_hi.eq(0)]
                with m.If(m_end):
                    m.d.sync += [fm.eq(0), fmr.eq(0), fn.eq(fn + 1)]
                    with m.If(fn == n_tiles - 1):
                        m.d.sync += feeding.eq(0)
                with m.Else():
                    m.d.sync += [fm.eq(fm + 1), fmr.eq(fmr + R)]
            with m.Else():
                m.d.sync += fk.eq(fk + 1)
                m.d.sync += [xk_lo.eq(wrap_inc(xk_lo, W)),
                             hk_lo.eq(wrap_inc(hk_lo, C))]
                with m.If(eq(xk_lo, W - 1)):
                    m.d.sync += xk_hi.eq(xk_hi + 1)
                with m.If(eq(hk_lo, C - 1)):
                    m.d.sync += hk_hi.eq(hk_hi + 1)
        with m.Elif(rd_en):
            m.d.sync += pv.eq(0)
        with m.If(load):
            m.d.sync += [feeding.eq(is_gemm), fn.eq(0), fm.eq(0), fk.eq(0), fmr.eq(0),
                         xk_lo.eq(0), xk_hi.eq(0), hk_lo.eq(0), hk_hi.eq(0), pv.eq(0),
                         router_w_done.eq(0)]
        # the dataflow expert's feeder (below) shares the x and dispatch read ports
        df_x_hi, df_x_lo = Signal.like(xk_hi), Signal.like(xk_lo)
        df_rd_en = Signal()
        df_fp = Signal(range(rtt + 1))  # phase = row block of sub-array A
        m.d.comb += [
            xbuf.r_addr.eq(Mux(is_df, df_x_hi, xk_hi)), xbuf.r_bank.eq(Mux(is_df, df_x_lo, xk_lo)),
            xbuf.r_en.eq(Mux(is_df, df_rd_en, rd_en)),
            d_rd1.addr.eq(ctrl.expert * rtt + Mux(is_df, df_fp, fm)),
            d_rd1.en.eq(Mux(is_df, df_rd_en, rd_en)),
        ]
        if has_seq:
            m.d.comb += [hbuf.r_addr.eq(fm * ntf + hk_hi), hbuf.r_bank.eq(hk_lo),
                         hbuf.r_en.eq(rd_en)]
        if rtt > 1:
            m.d.comb += [wt_rd.addr.eq(fk), wt_rd.en.eq(rd_en),
                         wt_wr.addr.eq(p_kk), wt_wr.data.eq(self.wdata.payload[:8 * C]),
                         wt_wr.en.eq(fire & p_stream)]
            b_tile = wt_rd.data
        else:
            b_tile = Const(0, 8 * C)
        b_ok = Mux(p_stream, self.wdata.valid, 1)
        m.d.comb += [
            pe.i.valid.eq(run & is_gemm & pv & b_ok),
            fire.eq(pe.i.valid & pe.i.ready),
            feeder_w_ready.eq(run & is_gemm & pv & p_stream & pe.i.ready),
            pe.i.payload.b.eq(Mux(p_stream, self.wdata.payload[:8 * C], b_tile)),
            pe.i.payload.last.eq(p_last),
            probes["pe_in_fire"].eq(fire),
        ]
        with m.If(fire & p_stream & p_last & (p_n == n_tiles - 1)):
            m.d.sync += router_w_done.eq(1)
        x_rows = []  # the gathered x operand of each PE row
        for r in range(R):
            tok = Signal(range(max(2, rtt * R)), name=f"a_tok_{r}")
            m.d.comb += tok.eq(Mux(is_exp | is_df, d_rd1.data[r].token, p_mr + r))
            xa = Signal(8, name=f"a_x_{r}")
            m.d.comb += xa.eq(select([xbuf.r_data[i] for i in range(T)] + [0] * (2 ** len(tok) - T), tok))
            x_rows.append(xa)
            if has_seq:
                m.d.comb += pe.i.payload.a[r].eq(Mux(is_down, hbuf.r_data[r], xa))
            else:
                m.d.comb += pe.i.payload.a[r].eq(xa)

        # ---------------------------------------------------------------- drain counters
        # the "sink" is the last stage of the running GEMM's drain: a row written there
        sink_fire = Signal()
        sn = Signal.like(fn)
        sm = Signal.like(fm)
        sr = Signal(range(max(2, R)))
        si = Signal(range(rtt * R + 1))   # sm * R + sr
        so = Signal(range(max_reqs * C + 1))  # sn * C
        sm_nxt = Signal.like(sm)
        sink_last = (sn == n_tiles - 1) & (sm == rt - 1) & (eq(sr, R - 1))
        gemm_done = sink_fire & sink_last
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

        pe_out_fire = pe.o.valid & pe.o.ready
        m.d.comb += probes["pe_out_fire"].eq(pe_out_fire)
        # PE output routing
        m.d.comb += [rq1.i.payload.acc.eq(pe.o.payload.data),
                     rq1.i.payload.mult.eq(Mux(is_down, q_down[:16], Mux(is_gate, q_gate[:16], q_up[:16])) if g.gated
                                           else Mux(is_down, q_down[:16], q_up[:16])),
                     rq1.i.payload.shift.eq(Mux(is_down, q_down[16:], Mux(is_gate, q_gate[16:], q_up[16:])) if g.gated
                                            else Mux(is_down, q_down[16:], q_up[16:]))]
        with m.If(is_exp):
            m.d.comb += [rq1.i.valid.eq(pe.o.valid), pe.o.ready.eq(rq1.i.ready)]
        with m.Else():
            m.d.comb += pe.o.ready.eq(1)
        if not seq_front:
            with m.If(is_front):
                m.d.comb += [ser.i.valid.eq(pe.o.valid & row_ok),
                             pe.o.ready.eq(Mux(row_ok, ser.i.ready, 1))]
        if not seq_front:
            for e in range(E):
                m.d.comb += ser.i.payload[e].eq(pe.o.payload.data[e])
        if seq_front:
            m.d.comb += [l_wr.addr.eq(si * nte + sn), l_wr.data.eq(pe.o.payload.data),
                         l_wr.en.eq(is_router & pe_out_fire & row_ok)]

        # rq1 output routing: up (gated) -> up_q; up (plain) / gate -> LUT; down -> y writer
        lut_path = (is_up & (not g.gated)) | is_gate
        m.d.comb += [lut.i.valid.eq(rq1.o.valid & lut_path), lut.i.payload.eq(rq1.o.payload)]
        if has_df:
            # dataflow expert: the LUT takes the gate group's rows (gated) or the up group's
            # (plain); its input is the requantiser's lanes side by side in either mode
            df_lut_src = rq1.group_out(1 if g.gated else 0)
            with m.If(is_df):
                m.d.comb += lut.i.valid.eq(df_lut_src.valid)
        rq1_o_fire = rq1.o.valid & rq1.o.ready
        y_ready = Signal()
        with m.If(lut_path):
            m.d.comb += rq1.o.ready.eq(lut.i.ready)
        with m.Elif(is_down):
            m.d.comb += rq1.o.ready.eq(y_ready)
        with m.Else():
            m.d.comb += rq1.o.ready.eq(1)

        hrow = Signal(data.ArrayLayout(unsigned(8), C))
        if g.gated:
            # gate drain: LUT -> product with up_q (one register) -> Requantizer RQhid -> h
            mn = Signal.like(sn)
            mm = Signal.like(sm)
            mr = Signal.like(sr)
            lut_in_fire = lut.i.valid & lut.i.ready
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
            if has_seq:
                m.d.comb += [upq.c_addr.eq(mm * ntf + mn), upq.c_lane.eq(mr),
                             upq.c_en.eq(lut.i.ready)]
                m.d.comb += upq_op.eq(upq.c_data)
            if has_df:
                with m.If(is_df):
                    m.d.comb += upq_op.eq(0)
                    for c in range(cg):
                        m.d.comb += upq_op[cu + c].eq(upqdf.r_data[c])
            pv2 = Signal()
            prod = Signal(data.ArrayLayout(signed(16), C))
            en2 = ~pv2 | rq2.i.ready
            m.d.comb += lut.o.ready.eq(Mux(is_gate | is_df, en2, 1))
            with m.If(en2):
                m.d.sync += pv2.eq(lut.o.valid & (is_gate | is_df))
                for c in range(C):
                    m.d.sync += prod[c].eq(lut.o.payload[c] * upq_op[c].as_signed())
            m.d.comb += [rq2.i.valid.eq(pv2), rq2.i.payload.mult.eq(q_hid[:16]),
                         rq2.i.payload.shift.eq(q_hid[16:]), rq2.o.ready.eq(1)]
            for c in range(C):
                m.d.comb += rq2.i.payload.acc[c].eq(prod[c])
            # up (gated) -> up_q
            if has_seq:
                m.d.comb += [upq.w_addr.eq(sm * ntf + sn), upq.w_lane.eq(sr),
                             upq.w_en.eq(is_up & rq1_o_fire)]
                for c in range(C):
                    m.d.comb += upq.w_data[c].eq(rq1.o.payload[c])
            m.d.comb += hrow.eq(rq2.o.payload)
            h_write = is_gate & rq2.o.valid
            with m.If(is_up):
                m.d.comb += sink_fire.eq(rq1_o_fire)
            with m.Elif(is_gate):
                m.d.comb += sink_fire.eq(rq2.o.valid)
        else:
            m.d.comb += lut.o.ready.eq(1)
            m.d.comb += hrow.eq(lut.o.payload)
            h_write = is_up & lut.o.valid
            with m.If(is_up):
                m.d.comb += sink_fire.eq(lut.o.valid)
        with m.If(is_router | is_front):
            m.d.comb += sink_fire.eq(pe_out_fire)
        with m.If(is_down):
            m.d.comb += sink_fire.eq(rq1_o_fire)
        if has_seq:
            m.d.comb += [hbuf.w_addr.eq(sm * ntf + sn), hbuf.w_lane.eq(sr),
                         hbuf.w_en.eq(h_write)]
            for c in range(C):
                m.d.comb += hbuf.w_data[c].eq(hrow[c])

        # ---------------------------------------------------------------- dataflow expert (df)
        # Phase p = 0 .. B of an expert with B row blocks: sub-array A (up, gate) on block p
        # (p < B), sub-array D (down) on block p - 1 (p >= 1), both fed from one weight word a
        # cycle (interface.py, DF_UP / DF / DF_DOWN). Drains: A's up lanes -> RQup -> up_q
        # (gated) or -> LUT -> h (plain); A's gate lanes -> RQgate -> LUT -> * up_q -> RQhid ->
        # h; D -> RQdown -> y. h and up_q hold two row blocks (slot = block % 2); a D beat waits
        # until the h tile of its column is written.
        df_done = Signal()
        df_y_valid = Signal()
        df_y_lane = Signal(range(max(2, R)))
        df_y_blk_nxt = Signal(range(rtt + 1))
        df_y_off = Signal(range((nD * cd if has_df else 0) + 1))
        df_y_last_tile = Signal()
        df_y_data = Signal(data.ArrayLayout(signed(8), C))
        if has_df:
            LA, LD = lay.words_a, lay.words_d
            LM = max(LA, LD)
            run_df = run & is_df
            # ---- feeder
            fj = Signal(range(LM + 1))               # slot (word) within the phase
            a_kk = Signal(range(max(2, d)))          # A: K index (x column)
            d_kk = Signal(range(max(2, f)))          # D: K index (h column)
            dh_lo = Signal(range(max(2, wH)))        # d_kk % wH (h bank)
            dh_hi = Signal(range(max(2, nA)))        # d_kk // wH (h tile)
            d_sl = Signal()                          # h slot of D's block
            d_base = Signal(range(rtt * nA + 1))     # h tiles of the blocks before D's
            h_tiles = Signal(range(rtt * nA + 1))    # h tiles completely written (this expert)
            dfeed, dpv = Signal(), Signal()
            p_a, p_d, p_alast, p_dlast = Signal(), Signal(), Signal(), Signal()
            plen = Signal(range(LM + 1))
            m.d.comb += plen.eq(Mux(eq(df_fp, 0), LA, Mux(df_fp == rt, LD, LM)))
            a_act = Signal()
            d_act = Signal()
            m.d.comb += [a_act.eq((df_fp < rt) & (fj < LA)), d_act.eq(~eq(df_fp, 0) & (fj < LD))]
            h_ok = ~d_act | (h_tiles > d_base + dh_hi)
            iA, iD = pe.group_in(0), pe.group_in(1)
            pa_ok = ~p_a | iA.ready
            pd_ok = ~p_d | iD.ready
            wvalid = self.wdata.valid
            dfire = run_df & dpv & wvalid & pa_ok & pd_ok
            m.d.comb += df_rd_en.eq(~dpv | dfire)

            def advance_k(kk, depth, lo, hi, width):
                """Next K step of a phase: ``kk`` counts to ``depth``; (``hi``, ``lo``) is its
                position in a buffer of ``width``-wide words, all back to 0 after the last."""
                with m.If(eq(kk, depth - 1)):
                    m.d.sync += [kk.eq(0), lo.eq(0), hi.eq(0)]
                with m.Else():
                    m.d.sync += [kk.eq(kk + 1), lo.eq(wrap_inc(lo, width))]
                    with m.If(eq(lo, width - 1)):
                        m.d.sync += hi.eq(hi + 1)

            issue_df = run_df & dfeed & df_rd_en & h_ok
            with m.If(issue_df):
                m.d.sync += [dpv.eq(1), p_a.eq(a_act), p_d.eq(d_act),
                             p_alast.eq(eq(a_kk, d - 1)), p_dlast.eq(eq(d_kk, f - 1))]
                with m.If(fj == plen - 1):  # the phase's last word
                    m.d.sync += [fj.eq(0), df_fp.eq(df_fp + 1), a_kk.eq(0), d_kk.eq(0),
                                 df_x_lo.eq(0), df_x_hi.eq(0), dh_lo.eq(0), dh_hi.eq(0)]
                    with m.If(~eq(df_fp, 0)):
                        m.d.sync += [d_base.eq(d_base + nA), d_sl.eq(~d_sl)]
                    with m.If(df_fp == rt):
                        m.d.sync += dfeed.eq(0)
                with m.Else():
                    m.d.sync += fj.eq(fj + 1)
                    advance_k(a_kk, d, df_x_lo, df_x_hi, W)
                    advance_k(d_kk, f, dh_lo, dh_hi, wH)
            with m.Elif(df_rd_en):
                m.d.sync += dpv.eq(0)
            with m.If(load):
                m.d.sync += [dfeed.eq(is_df), dpv.eq(0), fj.eq(0), df_fp.eq(0), a_kk.eq(0),
                             d_kk.eq(0), df_x_lo.eq(0), df_x_hi.eq(0), dh_lo.eq(0), dh_hi.eq(0),
                             d_sl.eq(0), d_base.eq(0)]
            m.d.comb += [hdf.r_addr.eq(Mux(d_sl, nA, 0) + dh_hi), hdf.r_bank.eq(dh_lo),
                         hdf.r_en.eq(df_rd_en)]
            # ---- beats: one word feeds both sub-arrays (lockstep)
            m.d.comb += [
                iA.valid.eq(run_df & dpv & p_a & wvalid & pd_ok),
                iD.valid.eq(run_df & dpv & p_d & wvalid & pa_ok),
                iA.payload.last.eq(p_alast), iD.payload.last.eq(p_dlast),
                df_w_ready.eq(run_df & dpv & pa_ok & pd_ok),
                probes["df_a_beat"].eq(iA.valid & iA.ready),
                probes["df_d_beat"].eq(iD.valid & iD.ready),
            ]
            for r in range(R):
                m.d.comb += [iA.payload.a[r].eq(x_rows[r]), iD.payload.a[r].eq(hdf.r_data[r])]
            for c in range(cA):
                m.d.comb += iA.payload.b[c].eq(self.wdata.payload[8 * c:8 * c + 8])
            for c in range(cd):
                m.d.comb += iD.payload.b[c].eq(self.wdata.payload[8 * (cA + c):8 * (cA + c) + 8])
            # ---- drains into the requantiser groups
            oA, oD = pe.group_out(0), pe.group_out(1)
            r_up, r_dn = rq1.group_in(0), rq1.group_in(2 if g.gated else 1)
            o_up, o_dn = rq1.group_out(0), rq1.group_out(2 if g.gated else 1)
            m.d.comb += [r_up.payload.mult.eq(q_up[:16]),
                         r_up.payload.shift.eq(q_up[16:]),
                         r_dn.valid.eq(oD.valid), r_dn.payload.mult.eq(q_down[:16]),
                         r_dn.payload.shift.eq(q_down[16:]), oD.ready.eq(r_dn.ready),
                         o_dn.ready.eq(1)]
            for c in range(cu):
                m.d.comb += r_up.payload.acc[c].eq(oA.payload.data[c])
            for c in range(cd):
                m.d.comb += r_dn.payload.acc[c].eq(oD.payload.data[c])
            if g.gated:
                r_gt, o_gt = rq1.group_in(1), rq1.group_out(1)
                # A's rows enter both requantiser groups in the same cycle
                m.d.comb += [r_up.valid.eq(oA.valid & r_gt.ready),
                             r_gt.valid.eq(oA.valid & r_up.ready),
                             r_gt.payload.mult.eq(q_gate[:16]), r_gt.payload.shift.eq(q_gate[16:]),
                             oA.ready.eq(r_up.ready & r_gt.ready),
                             o_up.ready.eq(1), o_gt.ready.eq(lut.i.ready)]
                for c in range(cg):
                    m.d.comb += r_gt.payload.acc[c].eq(oA.payload.data[cu + c])
                # up rows -> up_q (A tiles beyond the up tiles carry zero weights: not written)
                ur = Signal(range(max(2, R)))
                ut = Signal(range(max(2, nA)))
                usl = Signal()
                up_row = o_up.valid & (Const(1, 1) if nU >= nA else ut < nU)
                m.d.comb += [upqdf.w_addr.eq(Mux(usl, nU, 0) + ut), upqdf.w_lane.eq(ur),
                             upqdf.w_en.eq(up_row), probes["df_upq_row"].eq(up_row)]
                for c in range(cu):
                    m.d.comb += upqdf.w_data[c].eq(o_up.payload[c])
                with m.If(o_up.valid):
                    m.d.sync += ur.eq(wrap_inc(ur, R))
                    with m.If(eq(ur, R - 1)):
                        m.d.sync += ut.eq(wrap_inc(ut, nA))
                        with m.If(eq(ut, nA - 1)):
                            m.d.sync += usl.eq(~usl)
                # gate rows entering the LUT read the up_q window of their columns
                gr = Signal(range(max(2, R)))
                gt = Signal(range(max(2, nA)))
                gq = Signal(range(max(2, nU + 1)))   # (gt * cg) // cu
                g0 = Signal(range(max(2, cu)))       # (gt * cg) % cu
                gsl = Signal()
                with m.If(is_df & lut.i.valid & lut.i.ready):
                    m.d.sync += gr.eq(wrap_inc(gr, R))
                    with m.If(eq(gr, R - 1)):
                        with m.If(eq(gt, nA - 1)):
                            m.d.sync += [gt.eq(0), gq.eq(0), g0.eq(0), gsl.eq(~gsl)]
                        with m.Else():
                            m.d.sync += gt.eq(gt + 1)
                            with m.If(g0 + cg >= cu):
                                m.d.sync += [g0.eq(g0 + cg - cu), gq.eq(gq + 1)]
                            with m.Else():
                                m.d.sync += g0.eq(g0 + cg)
                m.d.comb += [upqdf.r_addr.eq(Mux(gsl, nU, 0) + gq), upqdf.r_rot.eq(g0),
                             upqdf.r_lane.eq(gr), upqdf.r_en.eq(lut.i.ready)]
                with m.If(load):
                    m.d.sync += [ur.eq(0), ut.eq(0), usl.eq(0), gr.eq(0), gt.eq(0), gq.eq(0),
                                 g0.eq(0), gsl.eq(0)]
                h_src, h_lane0, h_valid = rq2.o.payload, cu, rq2.o.valid
            else:
                m.d.comb += [r_up.valid.eq(oA.valid), oA.ready.eq(r_up.ready),
                             o_up.ready.eq(lut.i.ready)]
                h_src, h_lane0, h_valid = lut.o.payload, 0, lut.o.valid
            # ---- h rows (two row blocks)
            hr = Signal(range(max(2, R)))
            ht = Signal(range(max(2, nA)))
            hsl = Signal()
            h_row = is_df & h_valid
            m.d.comb += [hdf.w_addr.eq(Mux(hsl, nA, 0) + ht), hdf.w_lane.eq(hr),
                         hdf.w_en.eq(h_row), probes["df_h_row"].eq(h_row)]
            for c in range(wH):
                m.d.comb += hdf.w_data[c].eq(h_src[h_lane0 + c])
            with m.If(h_row):
                m.d.sync += hr.eq(wrap_inc(hr, R))
                with m.If(eq(hr, R - 1)):
                    m.d.sync += [h_tiles.eq(h_tiles + 1), ht.eq(wrap_inc(ht, nA))]
                    with m.If(eq(ht, nA - 1)):
                        m.d.sync += hsl.eq(~hsl)
            with m.If(load):
                m.d.sync += [hr.eq(0), ht.eq(0), hsl.eq(0), h_tiles.eq(0)]
            # ---- down rows -> y slots
            yt = Signal(range(max(2, nD)))
            yb = Signal(range(rtt + 1))
            yb_r = Signal(range(rtt * R + 1))  # yb * R
            y_row_end = o_dn.valid & eq(df_y_lane, R - 1)
            y_blk_end = y_row_end & eq(yt, nD - 1)
            m.d.comb += [df_y_valid.eq(o_dn.valid & (yb_r + df_y_lane < mrows)),
                         df_y_last_tile.eq(eq(yt, nD - 1)),
                         df_y_blk_nxt.eq(Mux(load, 0, yb + y_blk_end)),
                         df_done.eq(y_blk_end & (yb == rt - 1)),
                         probes["df_y_row"].eq(df_y_valid)]
            for c in range(cd):
                m.d.comb += df_y_data[c].eq(o_dn.payload[c])
            with m.If(o_dn.valid):
                m.d.sync += df_y_lane.eq(wrap_inc(df_y_lane, R))
                with m.If(y_row_end):
                    with m.If(eq(yt, nD - 1)):
                        m.d.sync += [yt.eq(0), df_y_off.eq(0), yb.eq(yb + 1), yb_r.eq(yb_r + R)]
                    with m.Else():
                        m.d.sync += [yt.eq(yt + 1), df_y_off.eq(df_y_off + cd)]
            with m.If(load):
                m.d.sync += [df_y_lane.eq(0), yt.eq(0), yb.eq(0), yb_r.eq(0), df_y_off.eq(0)]

        # ---------------------------------------------------------------- y writer (down drain)
        # sequential down rows (C lanes at column so) or dataflow D rows (cd lanes at df_y_off)
        if has_df:
            y_blk_nxt = Mux(is_df, df_y_blk_nxt, sm_nxt)
            y_lane = Mux(is_df, df_y_lane, sr)
            y_col = Mux(is_df, df_y_off, so)
            y_data = Mux(is_df, df_y_data.as_value(), rq1.o.payload.as_value())
            y_en = Mux(is_df, df_y_valid, is_down & rq1.o.valid & row_ok)
        else:
            y_blk_nxt, y_lane, y_col = sm_nxt, sr, so
            y_data = rq1.o.payload.as_value()
            y_en = is_down & rq1.o.valid & row_ok
        m.d.comb += [d_rd2.addr.eq(ctrl.expert * rtt + y_blk_nxt), d_rd2.en.eq(1)]
        ent = entry(select([d_rd2.data[i].as_value() for i in range(R)], y_lane))
        slot = Signal(range(T * k + 1))
        m.d.comb += slot.eq(ent.token * k + ent.rank)
        lw = max(0, (W - 1).bit_length())
        w0 = y_col >> lw
        off = y_col & (W - 1) if W > 1 else Const(0, 1)
        nvalid_mask = Mux(eq(sn, ntd - 1), (1 << last_valid) - 1, (1 << C) - 1)
        if has_df:
            nvalid_mask = Mux(is_df, Mux(df_y_last_tile, (1 << last_valid_df) - 1, (1 << cd) - 1),
                              nvalid_mask)
        nwords = max(spans) + 1
        window = Signal(8 * W * nwords)
        wmask = Signal(W * nwords)
        m.d.comb += [window.eq(y_data << (off * 8)),
                     wmask.eq(nvalid_mask << off),
                     y_ready.eq(1)]
        a0 = Signal(range(T * k * wpt + 1))  # the row's first y word
        m.d.comb += a0.eq(slot * wpt + w0)
        for b, (y_wr, _) in enumerate(y_ports):
            jb = Signal(max(1, lg), name=f"y_word_{b}")  # which word of the row bank b takes
            if lg:
                m.d.comb += jb.eq(b - a0[:lg])
            else:
                m.d.comb += jb.eq(0)
            m.d.comb += [y_wr.addr.eq((a0 + jb) >> lg),
                         y_wr.data.eq(select([window.word_select(i, 8 * W)
                                              for i in range(nwords)], jb))]
            # banks beyond the row's words (jb >= nwords) write nothing
            masks = [wmask.word_select(i, W) for i in range(min(nwords, nb))]
            bank_mask = select(masks + [Const(0, W)] * (nb - len(masks)), jb)
            for lane in range(W):
                m.d.comb += y_wr.en[lane].eq(y_en & bank_mask[lane])

        # ---------------------------------------------------------------- top-k
        tk_done = Signal()
        if seq_front:
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
        else:
            m.d.comb += [topk.i.valid.eq(ser.o.valid), topk.i.payload.eq(ser.o.payload),
                         ser.o.ready.eq(topk.i.ready)]
        m.d.comb += [probes["topk_in_fire"].eq(topk.i.valid & topk.i.ready),
                     probes["topk_out_valid"].eq(topk.o.valid)]

        # ---------------------------------------------------------------- gate normaliser + dispatcher
        d_busy = Signal()
        dj = Signal(range(max(2, k)))
        d_idx = Signal(data.ArrayLayout(unsigned(g.expert_bits), k))
        d_t = Signal(tbits)
        gn_t = Signal(range(T + 1))   # tokens accepted by the normaliser
        go_t = Signal(range(T + 1))   # gate results written
        gates_done = Signal()
        gn_fire = gn.i.valid & gn.i.ready
        gn_src_valid = Signal()
        m.d.comb += [gn.gate_mult.eq(rqg[:16]), gn.gate_shift.eq(rqg[16:]),
                     gn.i.valid.eq(gn_src_valid & ~d_busy & run & (is_gn | is_front)),
                     probes["gn_in_fire"].eq(gn_fire), probes["disp_busy"].eq(d_busy)]
        if seq_front:
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
            with m.If(is_topk):
                m.d.comb += topk.o.ready.eq(1)
        else:
            m.d.comb += [gn_src_valid.eq(topk.o.valid), gn.i.payload.eq(topk.o.payload),
                         topk.o.ready.eq(gn.i.ready & ~d_busy & run & is_front)]
        gn_out_fire = gn.o.valid & gn.o.ready
        m.d.comb += [gn.o.ready.eq(1), probes["gn_out_fire"].eq(gn_out_fire),
                     g_wr.addr.eq(go_t), g_wr.data.eq(gn.o.payload.weight), g_wr.en.eq(gn_out_fire)]
        with m.If(gn_out_fire):
            m.d.sync += go_t.eq(go_t + 1)
            with m.If(eq(go_t, T - 1)):
                m.d.sync += gates_done.eq(1)
        gates_done_nxt = gates_done | (gn_out_fire & (eq(go_t, T - 1)))
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
        disp_idle_nxt = (eq((gn_t + gn_fire), T)) & ~d_busy_nxt
        with m.If(layer_init):
            m.d.sync += [counts.eq(0), lanes.eq(0), tiles.eq(0), gn_t.eq(0), go_t.eq(0),
                         gates_done.eq(0), d_busy.eq(0)]

        # ---------------------------------------------------------------- combine
        ct = Signal(range(T + 1))
        cw = Signal(range(max(2, wpt)))
        cj = Signal(range(max(2, k)))
        cbase = Signal(range(T * k * wpt + 1))
        cjw = Signal(range(k * wpt + 1))
        cfeed = Signal()
        cpv = Signal()
        cp_j = Signal.like(cj)
        cp_last = Signal()
        c_fire = comb.i.valid & comb.i.ready
        c_rd_en = ~cpv | c_fire
        c_issue = run & is_comb & cfeed & c_rd_en
        with m.If(c_issue):
            m.d.sync += [cpv.eq(1), cp_j.eq(cj), cp_last.eq(eq(cj, k - 1))]
            with m.If(eq(cj, k - 1)):
                m.d.sync += [cj.eq(0), cjw.eq(0)]
                with m.If(eq(cw, wpt - 1)):
                    m.d.sync += [cw.eq(0), ct.eq(ct + 1), cbase.eq(cbase + k * wpt)]
                    with m.If(eq(ct, T - 1)):
                        m.d.sync += cfeed.eq(0)
                with m.Else():
                    m.d.sync += cw.eq(cw + 1)
            with m.Else():
                m.d.sync += [cj.eq(cj + 1), cjw.eq(cjw + wpt)]
        with m.Elif(c_rd_en):
            m.d.sync += cpv.eq(0)
        with m.If(load):
            m.d.sync += [ct.eq(0), cw.eq(0), cj.eq(0), cbase.eq(0), cjw.eq(0), cpv.eq(0),
                         cfeed.eq(is_comb)]
        y_addr = Signal(range(T * k * wpt + 1))
        y_bank = Signal(max(1, lg))
        m.d.comb += y_addr.eq(cbase + cjw + cw)
        for _, y_rd in y_ports:
            m.d.comb += [y_rd.addr.eq(y_addr >> lg), y_rd.en.eq(c_rd_en)]
        if lg:
            with m.If(c_rd_en):
                m.d.sync += y_bank.eq(y_addr[:lg])
        y_word = select([rd.data.as_value() for _, rd in y_ports], y_bank)
        m.d.comb += [g_rd.addr.eq(ct), g_rd.en.eq(c_rd_en),
                     comb.i.valid.eq(cpv & run & is_comb),
                     comb.i.payload.weight.eq(select([g_rd.data[i] for i in range(k)], cp_j)),
                     comb.i.payload.last.eq(cp_last)]
        for lane in range(W):
            m.d.comb += comb.i.payload.data[lane].eq(y_word[8 * lane:8 * lane + 8])
        out_n = Signal(range(T * wpt + 1))
        y_fire = self.y_out.valid & self.y_out.ready
        m.d.comb += [self.y_out.valid.eq(comb.o.valid), self.y_out.payload.eq(comb.o.payload),
                     comb.o.ready.eq(self.y_out.ready), probes["y_fire"].eq(y_fire)]
        with m.If(y_fire):
            m.d.sync += out_n.eq(out_n + 1)
        with m.If(load):
            m.d.sync += out_n.eq(0)
        comb_done = y_fire & (eq(out_n, T * wpt - 1))

        # ---------------------------------------------------------------- stage done
        with m.If(is_load):
            m.d.comb += done.eq(run & x_done_nxt & p_done_nxt)
        with m.Elif(is_router | is_exp):
            m.d.comb += done.eq(run & gemm_done)
        with m.Elif(is_topk):
            m.d.comb += done.eq(run & tk_done)
        with m.Elif(is_gn):
            m.d.comb += done.eq(run & gates_done_nxt & disp_idle_nxt)
        with m.Elif(is_front):
            m.d.comb += done.eq(run & x_done_nxt & p_done_nxt & gates_done_nxt & disp_idle_nxt)
        with m.Elif(is_comb):
            m.d.comb += done.eq(run & comb_done)
        if has_df:
            with m.If(is_df):
                m.d.comb += done.eq(run & df_done)
        return m

