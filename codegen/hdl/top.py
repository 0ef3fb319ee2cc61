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

The parts (:mod:`codegen.hdl.kernel`) ``MoEKernel.elaborate`` joins: the ``wiring.Component``
submodules :class:`~codegen.hdl.kernel.stages.Sequencer` (``seq``: controller, stage decodes on
the stage bus, each stage's end), :class:`~codegen.hdl.kernel.routing.TopKFeed` (``route_topk``),
:class:`~codegen.hdl.kernel.routing.GateDispatch` (``route_gn``),
:class:`~codegen.hdl.kernel.combine.CombineFeed` (``combine``) and
:class:`~codegen.hdl.kernel.ywriter.YWriter` (``ywriter``), connected with ``wiring.connect``
(stage bus from ``seq`` to every part, the parts' ends and the dispatcher's tally to ``seq``,
memory ports of ``logits``, ``sel``, ``gates``, ``dispatch`` and ``y``, serializer -> top-k ->
gate normaliser, combine -> ``y_out``); and the functions of ``storage`` (units, buffers),
``intake`` (x, ``wreq``, parameter block), ``feeder``, ``drain`` and ``dataflow``, which add their
logic to the kernel's module and share signals through a
:class:`~codegen.hdl.kernel.scope.KernelScope`; the kernel assigns those signals to the
components' ports.
"""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring

from .hwutil import eq
from .interface import PARAM_WORD_BITS, KernelGeometry, kernel_signature
from .kernel.combine import CombineFeed
from .kernel.dataflow import add_df_drains, add_df_feeder
from .kernel.drain import add_drain_counters, add_drain_path
from .kernel.feeder import add_feeder
from .kernel.intake import add_load
from .kernel.links import max_requests, stage_signature
from .kernel.params import ParamLoader
from .kernel.requests import WeightRequester
from .kernel.routing import GateDispatch, TopKFeed
from .kernel.stages import Sequencer, open_scope
from .kernel.storage import add_buffers, add_units
from .kernel.ywriter import YWriter
from .schedule_rom import Program, build_program
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
        scope = open_scope(self, m, seq.stage)
        add_units(scope)
        add_buffers(scope)
        parts = self._routing_and_combine(m, scope, seq, stage)
        parts += self._requests_and_params(m, scope, stage)
        for part in (add_load, add_feeder, add_drain_counters,
                     add_drain_path, add_df_feeder, add_df_drains):
            part(scope)
        parts.append(self._y_writer(m, scope, stage))
        wiring.connect(m, seq.stage, *(p.stage for p in parts))
        x_done_nxt, gemm_done, df_done = scope.take('x_done_nxt', 'gemm_done', 'df_done')
        m.d.comb += [seq.x_end.done.eq(x_done_nxt), seq.gemm_end.done.eq(gemm_done)]
        if prog.has_df:
            m.d.comb += seq.df_end.done.eq(df_done)
        gd, = (p for p in parts if isinstance(p, GateDispatch))
        pl, = (p for p in parts if isinstance(p, ParamLoader))
        wiring.connect(m, pl.p_end, seq.p_end)
        m.d.comb += gd.rqg.eq(pl.rqg)
        return m

    def _requests_and_params(self, m: Module, scope: Any,
                             stage: wiring.Signature) -> list[wiring.Component]:
        probes, g, has_df = self.probes, self.geom, self.program.has_df
        wr = WeightRequester(g, stage, has_df=has_df,
                             wreq=self.signature.members["wreq"].signature)
        pl = ParamLoader(g, stage)
        m.submodules.requests, m.submodules.params = wr, pl
        wiring.connect(m, wr.wreq, wiring.flipped(self.wreq))
        router_w_done, feeder_w_ready, df_w_ready = Signal(), Signal(), Signal()
        wdata = self.wdata
        m.d.comb += [pl.word.eq(wdata.payload[:PARAM_WORD_BITS]), pl.valid.eq(wdata.valid),
                     pl.router_w_done.eq(router_w_done),
                     wdata.ready.eq(Mux(pl.own, 1, Mux(scope.take('is_df')[0], df_w_ready,
                                                       feeder_w_ready))),
                     probes["req_fire"].eq(wr.fire), probes["param_fire"].eq(pl.fire),
                     probes["w_fire"].eq(wdata.valid & wdata.ready)]
        q = pl.q
        q_up, q_down = q.q_up, q.q_down
        q_gate, q_hid = (q.q_gate, q.q_hid) if g.gated else (None, None)
        max_reqs = max_requests(g, has_df)
        scope.publish(locals(), 'df_w_ready', 'feeder_w_ready', 'max_reqs', 'q_down', 'q_gate',
                      'q_hid', 'q_up', 'router_w_done')
        return [wr, pl]

    def _y_writer(self, m: Module, scope: Any, stage: wiring.Signature) -> YWriter:
        """The y writer, fed by the sequential drain's down rows and the dataflow D rows."""
        has_df, C, ntd = self.program.has_df, self.geom.cols, scope.take('ntd')[0]
        d_rd2, y_ports, spans, lg, entry = scope.take('d_rd2', 'y_ports', 'spans', 'lg', 'entry')
        yw = YWriter(self.geom, stage, has_df=has_df, spans=spans, lg=lg,
                     dispatch=d_rd2.signature, y_wr=y_ports[0][0].signature, entry=entry,
                     seq_cols=scope.take('max_reqs')[0] * C)
        m.submodules.ywriter = yw
        wiring.connect(m, yw.dispatch, d_rd2)
        for b, (y_wr, _) in enumerate(y_ports):
            wiring.connect(m, yw.y_wr[b], y_wr)
        rq1, row_ok, sm_nxt, sr, so, sn = scope.take('rq1', 'row_ok', 'sm_nxt', 'sr', 'so', 'sn')
        y_ready, = scope.take('y_ready')
        sq = yw.seq_rows
        m.d.comb += [sq.valid.eq(rq1.o.valid & row_ok), sq.data.eq(rq1.o.payload),
                     sq.blk_nxt.eq(sm_nxt), sq.lane.eq(sr), sq.col.eq(so),
                     sq.last_tile.eq(eq(sn, ntd - 1)), y_ready.eq(sq.ready)]
        if has_df:
            df = yw.df_rows
            valid, data_, blk_nxt, lane, col, last_tile = scope.take(
                'df_y_valid', 'df_y_data', 'df_y_blk_nxt', 'df_y_lane', 'df_y_off',
                'df_y_last_tile')
            m.d.comb += [df.valid.eq(valid), df.data.eq(data_), df.blk_nxt.eq(blk_nxt),
                         df.lane.eq(lane), df.col.eq(col), df.last_tile.eq(last_tile)]
        return yw

    def _routing_and_combine(self, m: Module, scope: Any, seq: Sequencer,
                             stage: wiring.Signature) -> list[wiring.Component]:
        """Top-k, gate normaliser / dispatcher and combine, joined to the buffers, the
        sequencer and ``y_out``; publishes the dispatcher's ``lanes`` and ``tiles``."""
        probes, seq_front = self.probes, self.program.front == "sequential"
        g_wr, g_rd, d_wr, y_ports, lg = scope.take('g_wr', 'g_rd', 'd_wr', 'y_ports', 'lg')
        if seq_front:
            l_rd, s_wr, s_rd = scope.take('l_rd', 's_wr', 's_rd')
            topk = TopKFeed(self.geom, stage, logits=l_rd.signature, sel=s_wr.signature)
            gd = GateDispatch(self.geom, stage, gates=g_wr.signature, dispatch=d_wr.signature,
                              sel=s_rd.signature)
        else:
            topk = TopKFeed(self.geom, stage)
            gd = GateDispatch(self.geom, stage, gates=g_wr.signature, dispatch=d_wr.signature)
        comb = CombineFeed(self.geom, stage, lg=lg, y_rd=y_ports[0][1].signature,
                           gates=g_rd.signature)
        m.submodules.route_topk, m.submodules.route_gn, m.submodules.combine = topk, gd, comb
        if seq_front:
            wiring.connect(m, topk.logits, l_rd)
            wiring.connect(m, topk.sel, s_wr)
            wiring.connect(m, gd.sel, s_rd)
        else:
            ser, = scope.take('ser')
            wiring.connect(m, ser.o, topk.ser)
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
        scope.publish({'lanes': gd.tally.lanes, 'tiles': gd.tally.tiles}, 'lanes', 'tiles')
        return [topk, gd, comb]
