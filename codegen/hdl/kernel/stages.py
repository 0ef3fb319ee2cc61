"""The kernel's sequencing: the controller and stage decodes (opening the scope) and each stage's end condition."""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Const, Module, Signal

from ..controller import Controller
from ..hwutil import eq
from ..schedule_rom import StageTask
from .scope import KernelScope, ceil_div

__all__ = ['open_scope', 'add_stage_done']


def open_scope(kernel: Any, m: Module) -> KernelScope:
    """The controller, the stage decodes and the geometry's constants."""
    g, prog = kernel.geom, kernel.program
    T, d, f, E, k = g.tokens, g.hidden, g.ffn, g.experts, g.top_k
    R, C, W = g.rows, g.cols, g.stream_bytes
    wpt = g.words_per_token
    nte, ntf = ceil_div(E, C), ceil_div(f, C)
    ntd = ceil_div(d, C)
    rtt = ceil_div(T, R)
    nq, P = g.requants_per_expert, g.param_words
    seq_front = prog.front == "sequential"
    has_df, has_seq = prog.has_df, prog.has_seq
    tbits = max(1, (T - 1).bit_length())
    jbits = max(1, (k - 1).bit_length())
    cbits = max(1, T.bit_length())
    probes = kernel.probes

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
    m.d.comb += [ctrl.done.eq(done), kernel.stage.eq(ctrl.row), kernel.stage_valid.eq(run),
                 kernel.expert.eq(ctrl.expert)]
    scope = KernelScope()
    scope.publish(locals(), 'kernel', 'm', 'C', 'E', 'P', 'R', 'T', 'W', 'cbits', 'ctrl',
                'd', 'done', 'f', 'fields', 'g', 'has_df', 'has_seq', 'is_comb', 'is_df', 'is_down',
                'is_exp', 'is_front', 'is_gate', 'is_gemm', 'is_gn', 'is_load', 'is_router', 'is_topk', 'is_up', 'jbits',
                'k', 'layer_init', 'load', 'nq', 'ntd', 'nte', 'ntf', 'probes', 'rtt', 'run',
                'seq_front', 'tbits', 'wpt')
    return scope


def add_stage_done(scope: KernelScope) -> None:
    """The controller's ``done``: the running stage's end condition."""
    comb_done, df_done, disp_idle_nxt, done = scope.take('comb_done', 'df_done', 'disp_idle_nxt', 'done')
    gates_done_nxt, gemm_done, has_df, is_comb = scope.take('gates_done_nxt', 'gemm_done', 'has_df', 'is_comb')
    is_df, is_exp, is_front, is_gn = scope.take('is_df', 'is_exp', 'is_front', 'is_gn')
    is_load, is_router, is_topk, m = scope.take('is_load', 'is_router', 'is_topk', 'm')
    p_done_nxt, run, tk_done, x_done_nxt = scope.take('p_done_nxt', 'run', 'tk_done', 'x_done_nxt')
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
