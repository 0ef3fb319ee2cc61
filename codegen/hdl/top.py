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

The parts (:mod:`codegen.hdl.kernel`) ``MoEKernel.elaborate`` joins are ``wiring.Component``
submodules connected with ``wiring.connect``: :class:`~codegen.hdl.kernel.stages.Sequencer`
(``seq``: controller, stage decodes on the stage bus with the GEMM's ``rt`` / ``mrows``, each
stage's end) drives the stage bus of every other part:
:class:`~codegen.hdl.kernel.routing.TopKFeed` (``route_topk``),
:class:`~codegen.hdl.kernel.routing.GateDispatch` (``route_gn``),
:class:`~codegen.hdl.kernel.combine.CombineFeed` (``combine``),
:class:`~codegen.hdl.kernel.ywriter.YWriter` (``ywriter``),
:class:`~codegen.hdl.kernel.intake.TokenIntake` (``intake``),
:class:`~codegen.hdl.kernel.requests.WeightRequester` (``requests``: ``wreq``),
:class:`~codegen.hdl.kernel.params.ParamLoader` (``params``: the params memory),
:class:`~codegen.hdl.kernel.feeder.GemmFeeder` (``feeder``),
:class:`~codegen.hdl.kernel.drain.Drain` (``drain``) and, with an ``expert_df`` row,
:class:`~codegen.hdl.kernel.dataflow.DfFeeder` (``df_feeder``) and
:class:`~codegen.hdl.kernel.dataflow.DfDrains` (``df_drains``). The parts' ends and the
dispatcher's tally go to ``seq``; the units (:func:`~codegen.hdl.kernel.storage.add_units`: PE
array, requantisers, LUT, serializer) and the buffers
(:func:`~codegen.hdl.kernel.storage.add_buffers`) are submodules of the kernel, joined to the
parts by their streams, memory ports and :class:`~codegen.hdl.kernel.links.BankPort` sides.
Plain assignments join only what has no matching signature: ``wdata`` into the feeders and the
parameter loader and its ``ready`` arbitration, the intake's x writes, ``router_w_done``,
``h_tiles``, RQg, ``x_end`` and the probes.
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring

from .interface import PARAM_WORD_BITS, KernelGeometry, kernel_signature
from .kernel.combine import CombineFeed
from .kernel.dataflow import DfDrains, DfFeeder
from .kernel.drain import Drain
from .kernel.feeder import GemmFeeder
from .kernel.intake import TokenIntake
from .kernel.links import BANK_READ, BANK_WRITE, BankPort, max_requests, stage_signature
from .kernel.params import ParamLoader
from .kernel.requests import WeightRequester
from .kernel.routing import GateDispatch, TopKFeed
from .kernel.stages import Sequencer
from .kernel.storage import Buffers, Units, add_buffers, add_units
from .kernel.ywriter import YWriter
from .schedule_rom import Program, build_program
from .split import SplitPEArray, SplitRequantizer
from .tables import activation_table

__all__ = ["MoEKernel", "PROBES"]

#: internal one-bit events a test bench may watch (``MoEKernel.probes``)
PROBES = ("x_fire", "w_fire", "req_fire", "param_fire", "pe_in_fire", "pe_out_fire",
          "topk_in_fire", "topk_out_valid", "gn_in_fire", "gn_out_fire", "disp_busy", "y_fire",
          "df_a_beat", "df_d_beat", "df_upq_row", "df_h_row", "df_y_row")


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
    def elaborate(self, platform: object) -> Module:
        m = Module()
        prog = self.program
        stage = stage_signature(prog)
        m.submodules.seq = seq = Sequencer(prog)
        m.d.comb += [self.stage.eq(seq.stage.row), self.stage_valid.eq(seq.stage.run),
                     self.expert.eq(seq.stage.expert)]
        units = add_units(m, prog, self.act_table, seq.stage.is_df)
        bufs = add_buffers(m, prog)
        m.d.comb += self.pe_busy.eq(units.pe.busy)
        parts = self._routing_and_combine(m, bufs, units, seq, stage)
        wr, pl = self._requests_and_params(m, seq, stage)
        gd, = (p for p in parts if isinstance(p, GateDispatch))
        m.d.comb += gd.rqg.eq(pl.rqg)
        feeder, drain = self._gemm(m, bufs, units, seq, pl, stage)
        yw = self._y_writer(m, bufs, drain, stage)
        parts += [wr, pl, feeder, drain, yw]
        if prog.has_df:
            parts += self._dataflow(m, bufs, units, seq, pl, feeder, drain, yw, stage)
        else:
            m.d.comb += self.wdata.ready.eq(Mux(pl.own, 1, feeder.w_ready))
        wiring.connect(m, seq.stage, *(p.stage for p in parts))
        return m

    def _requests_and_params(self, m: Module, seq: Sequencer,
                             stage: wiring.Signature) -> tuple[WeightRequester, ParamLoader]:
        """The weight requests (``wreq``) and the parameter block (``wdata`` while it owns it)."""
        probes, wdata = self.probes, self.wdata
        wr = WeightRequester(self.geom, stage, has_df=self.program.has_df,
                             wreq=self.signature.members["wreq"].signature)
        pl = ParamLoader(self.geom, stage)
        m.submodules.requests, m.submodules.params = wr, pl
        wiring.connect(m, wr.wreq, wiring.flipped(self.wreq))
        wiring.connect(m, pl.p_end, seq.p_end)
        m.d.comb += [pl.word.eq(wdata.payload[:PARAM_WORD_BITS]), pl.valid.eq(wdata.valid),
                     probes["req_fire"].eq(wr.fire), probes["param_fire"].eq(pl.fire),
                     probes["w_fire"].eq(wdata.valid & wdata.ready)]
        return wr, pl

    def _gemm(self, m: Module, bufs: Buffers, units: Units, seq: Sequencer, pl: ParamLoader,
              stage: wiring.Signature) -> tuple[GemmFeeder, Drain]:
        """Token intake, the GEMM feeder and the drain, joined to the buffers and the units."""
        g, prog, probes = self.geom, self.program, self.probes
        C, xbuf, hbuf = g.cols, bufs.xbuf, bufs.hbuf
        m.submodules.intake = intake = TokenIntake(g.stream_bytes, g.words_per_token, g.tokens)
        wiring.connect(m, wiring.flipped(self.x_in), intake.x)
        st = seq.stage
        m.d.comb += [intake.active.eq(st.run & (st.is_load | st.is_front)),
                     intake.clear.eq(st.layer_init), seq.x_end.done.eq(intake.done_next),
                     probes["x_fire"].eq(intake.fire),
                     xbuf.w_addr.eq(intake.w_addr), xbuf.w_lane.eq(intake.w_lane),
                     xbuf.w_en.eq(intake.w_en), xbuf.w_data.eq(intake.w_data)]
        x_rd = BankPort(xbuf, *BANK_READ)
        h_rd = BankPort(hbuf, *BANK_READ) if hbuf is not None else None
        h_wr = BankPort(hbuf, *BANK_WRITE) if hbuf is not None else None
        feeder = GemmFeeder(g, stage, has_df=prog.has_df, x=x_rd.signature,
                            dispatch=bufs.d_rd1.signature,
                            h=h_rd.signature if h_rd is not None else None,
                            wt_rd=bufs.wt_rd.signature if bufs.wt_rd is not None else None,
                            wt_wr=bufs.wt_wr.signature if bufs.wt_wr is not None else None)
        drain = Drain(g, stage, units=units, seq_front=prog.front == "sequential",
                      has_df=prog.has_df,
                      logits=bufs.l_wr.signature if bufs.l_wr is not None else None,
                      h=h_wr.signature if h_wr is not None else None,
                      upq=bufs.upq.signature if bufs.upq is not None else None)
        m.submodules.feeder, m.submodules.drain = feeder, drain
        wiring.connect(m, feeder.x, x_rd)
        wiring.connect(m, feeder.dispatch, bufs.d_rd1)
        wiring.connect(m, feeder.pe, units.pe.i)
        if h_rd is not None and h_wr is not None:
            wiring.connect(m, feeder.h, h_rd)
            wiring.connect(m, drain.h, h_wr)
        if bufs.wt_rd is not None:
            wiring.connect(m, feeder.wt_rd, bufs.wt_rd)
            wiring.connect(m, feeder.wt_wr, bufs.wt_wr)
        m.d.comb += [feeder.x_tokens.eq(intake.tokens), feeder.w_data.eq(self.wdata.payload[:8 * C]),
                     feeder.w_valid.eq(self.wdata.valid), pl.router_w_done.eq(feeder.router_w_done),
                     probes["pe_in_fire"].eq(feeder.fire), probes["pe_out_fire"].eq(drain.pe_out_fire)]
        wiring.connect(m, units.pe.o, drain.pe)
        wiring.connect(m, drain.rq1_i, units.rq1.i)
        wiring.connect(m, units.rq1.o, drain.rq1_o)
        wiring.connect(m, drain.lut_i, units.lut.i)
        wiring.connect(m, units.lut.o, drain.lut_o)
        if units.rq2 is not None:
            wiring.connect(m, drain.rq2_i, units.rq2.i)
            wiring.connect(m, units.rq2.o, drain.rq2_o)
        if units.ser is not None:
            wiring.connect(m, drain.ser, units.ser.i)
        if bufs.l_wr is not None:
            wiring.connect(m, drain.logits, bufs.l_wr)
        if bufs.upq is not None:
            wiring.connect(m, drain.upq, bufs.upq)
        wiring.connect(m, pl.q, drain.q)
        wiring.connect(m, drain.gemm_end, seq.gemm_end)
        return feeder, drain

    def _dataflow(self, m: Module, bufs: Buffers, units: Units, seq: Sequencer, pl: ParamLoader,
                  feeder: GemmFeeder, drain: Drain, yw: YWriter,
                  stage: wiring.Signature) -> list[wiring.Component]:
        """The dataflow expert's feeder and drains on the split array's groups."""
        g, probes, pe, rq1 = self.geom, self.probes, units.pe, units.rq1
        assert isinstance(pe, SplitPEArray) and isinstance(rq1, SplitRequantizer)
        assert bufs.hdf is not None
        h_rd, h_wr = BankPort(bufs.hdf, *BANK_READ), BankPort(bufs.hdf, *BANK_WRITE)
        upqdf = bufs.upqdf
        dff = DfFeeder(g, stage, pe=pe, h=h_rd.signature)
        dfd = DfDrains(g, stage, pe=pe, rq1=rq1, h=h_wr.signature,
                       upq=upqdf.signature if upqdf is not None else None)
        m.submodules.df_feeder, m.submodules.df_drains = dff, dfd
        dn = 2 if g.gated else 1
        wiring.connect(m, dff.a, pe.group_in(0))
        wiring.connect(m, dff.d, pe.group_in(1))
        wiring.connect(m, dff.gather, feeder.df)
        wiring.connect(m, dff.h, h_rd)
        wiring.connect(m, pe.group_out(0), dfd.a)
        wiring.connect(m, pe.group_out(1), dfd.d)
        wiring.connect(m, dfd.rq_up, rq1.group_in(0))
        wiring.connect(m, rq1.group_out(0), dfd.up)
        wiring.connect(m, dfd.rq_dn, rq1.group_in(dn))
        wiring.connect(m, rq1.group_out(dn), dfd.dn)
        if g.gated:
            assert upqdf is not None
            wiring.connect(m, dfd.rq_gt, rq1.group_in(1))
            wiring.connect(m, rq1.group_out(1), dfd.gt)
            wiring.connect(m, dfd.upq, upqdf)
        wiring.connect(m, pl.q, dfd.q)
        wiring.connect(m, drain.df, dfd.df)
        wiring.connect(m, dfd.h, h_wr)
        wiring.connect(m, dfd.y, yw.df_rows)
        wiring.connect(m, dfd.df_end, seq.df_end)
        wdata = self.wdata
        m.d.comb += [dff.w_data.eq(wdata.payload[:8 * g.cols]), dff.w_valid.eq(wdata.valid),
                     dff.h_tiles.eq(dfd.h_tiles),
                     wdata.ready.eq(Mux(pl.own, 1, Mux(seq.stage.is_df, dff.w_ready,
                                                       feeder.w_ready))),
                     probes["df_a_beat"].eq(dff.a_beat), probes["df_d_beat"].eq(dff.d_beat),
                     probes["df_upq_row"].eq(dfd.upq_row), probes["df_h_row"].eq(dfd.h_row),
                     probes["df_y_row"].eq(dfd.y_row)]
        return [dff, dfd]

    def _y_writer(self, m: Module, bufs: Buffers, drain: Drain,
                  stage: wiring.Signature) -> YWriter:
        """The y writer, fed by the sequential drain's down rows (and the dataflow D rows)."""
        y_ports, d_rd2 = bufs.y_ports, bufs.d_rd2
        yw = YWriter(self.geom, stage, has_df=self.program.has_df, spans=bufs.spans, lg=bufs.lg,
                     dispatch=d_rd2.signature, y_wr=y_ports[0][0].signature, entry=bufs.entry,
                     seq_cols=max_requests(self.geom, self.program.has_df) * self.geom.cols)
        m.submodules.ywriter = yw
        wiring.connect(m, yw.dispatch, d_rd2)
        for b, (y_wr, _) in enumerate(y_ports):
            wiring.connect(m, yw.y_wr[b], y_wr)
        wiring.connect(m, drain.seq_rows, yw.seq_rows)
        return yw

    def _routing_and_combine(self, m: Module, bufs: Buffers, units: Units, seq: Sequencer,
                             stage: wiring.Signature) -> list[wiring.Component]:
        """Top-k, gate normaliser / dispatcher and combine, joined to the buffers, the
        sequencer (the dispatcher's tally) and ``y_out``."""
        probes, seq_front = self.probes, self.program.front == "sequential"
        g_wr, g_rd, d_wr, y_ports = bufs.g_wr, bufs.g_rd, bufs.d_wr, bufs.y_ports
        if seq_front:
            l_rd, s_wr, s_rd = bufs.l_rd, bufs.s_wr, bufs.s_rd
            topk = TopKFeed(self.geom, stage, logits=l_rd.signature, sel=s_wr.signature)
            gd = GateDispatch(self.geom, stage, gates=g_wr.signature, dispatch=d_wr.signature,
                              sel=s_rd.signature)
        else:
            topk = TopKFeed(self.geom, stage)
            gd = GateDispatch(self.geom, stage, gates=g_wr.signature, dispatch=d_wr.signature)
        comb = CombineFeed(self.geom, stage, lg=bufs.lg, y_rd=y_ports[0][1].signature,
                           gates=g_rd.signature)
        m.submodules.route_topk, m.submodules.route_gn, m.submodules.combine = topk, gd, comb
        if seq_front:
            wiring.connect(m, topk.logits, l_rd)
            wiring.connect(m, topk.sel, s_wr)
            wiring.connect(m, gd.sel, s_rd)
        else:
            assert units.ser is not None
            wiring.connect(m, units.ser.o, topk.ser)
            wiring.connect(m, topk.o, gd.topk)
        wiring.connect(m, gd.gates, g_wr)
        wiring.connect(m, gd.dispatch, d_wr)
        wiring.connect(m, gd.tally, seq.tally)
        wiring.connect(m, comb.gates, g_rd)
        for b, (_, y_rd) in enumerate(y_ports):
            wiring.connect(m, comb.y_rd[b], y_rd)
        wiring.connect(m, comb.y_out, wiring.flipped(self.y_out))
        wiring.connect(m, topk.tk_end, seq.tk_end)
        wiring.connect(m, gd.gates_end, seq.gates_end)
        wiring.connect(m, gd.disp_end, seq.disp_end)
        wiring.connect(m, comb.comb_end, seq.comb_end)
        m.d.comb += [probes["topk_in_fire"].eq(topk.in_fire),
                     probes["topk_out_valid"].eq(topk.out_valid),
                     probes["gn_in_fire"].eq(gd.in_fire), probes["gn_out_fire"].eq(gd.out_fire),
                     probes["disp_busy"].eq(gd.busy), probes["y_fire"].eq(comb.y_fire)]
        return [topk, gd, comb]
