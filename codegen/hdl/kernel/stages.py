"""The kernel's sequencing: :class:`Sequencer` (controller, stage decodes, stage end)."""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..controller import Controller
from ..hwutil import eq, select
from ..schedule_rom import Program, StageTask
from .links import STAGE_END, TASK_FLAGS, stage_signature, tally_signature
from ..geometry import ceil_div

__all__ = ['Sequencer']

#: the stage-end inputs of the sequencer (``df_end`` only with an ``expert_df`` row)
STAGE_ENDS = ("x_end", "p_end", "gemm_end", "tk_end", "gates_end", "disp_end", "comb_end")


class Sequencer(wiring.Component):
    """The :class:`~codegen.hdl.controller.Controller` of ``program``, its stage decodes on the
    stage bus ``stage`` (:func:`~.links.stage_signature`), and its ``done``: the running
    stage's end condition from the parts' ends (``x_end`` token intake, ``p_end`` parameter
    block, ``gemm_end`` a GEMM's drain, ``tk_end`` top-k, ``gates_end`` / ``disp_end`` gate
    normaliser and dispatcher, ``comb_end`` combine, ``df_end`` the dataflow expert).
    The dispatcher's ``tally`` gives the controller the tokens per expert (``counts``) and, at
    ``load``, the running expert's row tiles and rows (``rt``, ``mrows`` on the stage bus; a
    router / front GEMM: every row tile, ``T`` rows)."""

    def __init__(self, program: Program) -> None:
        self.program = program
        g = program.geom
        members: dict[str, Any] = {
            "stage": Out(stage_signature(program)),
            "tally": In(tally_signature(g)),
        }
        ends = STAGE_ENDS + (("df_end",) if program.has_df else ())
        members.update({name: In(STAGE_END) for name in ends})
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        prog, st = self.program, self.stage
        m.submodules.ctrl = ctrl = Controller(prog)
        fields = ctrl.fields
        task = fields.task

        def is_(t: StageTask) -> Any:
            return eq(task, int(t))

        flags = {"is_load": is_(StageTask.LOAD), "is_router": is_(StageTask.ROUTER),
                 "is_front": is_(StageTask.FRONT), "is_topk": is_(StageTask.TOPK),
                 "is_gn": is_(StageTask.GATE_NORM), "is_up": is_(StageTask.UP),
                 "is_gate": is_(StageTask.GATE), "is_down": is_(StageTask.DOWN),
                 "is_comb": is_(StageTask.COMBINE),
                 "is_df": is_(StageTask.DF) if prog.has_df else 0}
        flags["is_exp"] = st.is_up | st.is_gate | st.is_down
        flags["is_gemm"] = st.is_router | st.is_front | st.is_exp
        assert set(flags) == set(TASK_FLAGS)
        m.d.comb += [getattr(st, name).eq(value) for name, value in flags.items()]
        m.d.comb += [st.run.eq(ctrl.run), st.load.eq(ctrl.load),
                     st.layer_init.eq(ctrl.load & (eq(ctrl.row, 0))), st.sw1.eq(ctrl.sw1),
                     st.row.eq(ctrl.row), st.expert.eq(ctrl.expert), st.count.eq(ctrl.count),
                     st.col_tiles.eq(fields.col_tiles), st.k.eq(fields.k),
                     ctrl.counts.eq(self.tally.counts)]
        T, E = prog.geom.tokens, prog.geom.experts
        with m.If(st.load):
            e_tiles = select([self.tally.tiles[i] for i in range(E)], st.expert)
            e_part = select([self.tally.lanes[i] for i in range(E)], st.expert).any()
            m.d.sync += [st.rt.eq(Mux(st.is_exp | st.is_df, e_tiles + e_part,
                                      ceil_div(T, prog.geom.rows))),
                         st.mrows.eq(Mux(st.is_exp | st.is_df, st.count, T))]
        done = Signal()
        m.d.comb += ctrl.done.eq(done)
        run = st.run
        with m.If(st.is_load):
            m.d.comb += done.eq(run & self.x_end.done & self.p_end.done)
        with m.Elif(st.is_router | st.is_exp):
            m.d.comb += done.eq(run & self.gemm_end.done)
        with m.Elif(st.is_topk):
            m.d.comb += done.eq(run & self.tk_end.done)
        with m.Elif(st.is_gn):
            m.d.comb += done.eq(run & self.gates_end.done & self.disp_end.done)
        with m.Elif(st.is_front):
            m.d.comb += done.eq(run & self.x_end.done & self.p_end.done & self.gates_end.done
                                & self.disp_end.done)
        with m.Elif(st.is_comb):
            m.d.comb += done.eq(run & self.comb_end.done)
        if prog.has_df:
            with m.If(st.is_df):
                m.d.comb += done.eq(run & self.df_end.done)
        return m
