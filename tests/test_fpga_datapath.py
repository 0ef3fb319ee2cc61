"""One FPGA datapath: FPGAModel (the operator-table model) and the kernel schedule
(codegen.schedule) evaluate the same MoE layer from the same timing functions and agree.

What agrees exactly: the PE-array work. For every GEMM of the layer (router, each expert's up,
gate and down) FPGAModel's compute cycles plus its switch cycles equal the schedule's PE stages
(always-valid weight stream) minus, per stage, the buffer read (1 cycle) and the drain pipeline
after the array (requantiser, activation LUT, gated product: 3 to 8 cycles), which the schedule
knows per GEMM role and the operator table does not.

What is within a tolerance: the whole layer. The schedule also runs load, top-k, gate
normalisation and combine stages (``T*ceil(d/W)``, ``T*E + 2``, ``20*T``, ``T*ceil(d/W)*k``
cycles, plus a switch each: checked here against those formulas) that the operator table counts
as element-wise work on other units. For the layer below (T=64, d=256, f=512, E=8, k=2 on 8x16,
W=16) they are 4,877 cycles; with the drain latencies (137 gated, 73 plain) the layer's gap is
5,014 of 400,553 cycles gated (1.3 %) and 4,950 of 269,329 plain (1.8 %), hence the 2 % bound.
It shrinks as the GEMMs grow (``T*k*d*f/(R*C)`` against ``T*(E + 20 + (k + 1)*d/W)``).
"""
from __future__ import annotations

import pytest
import sympy as sp

from archmodel.fpga.budget import DEFAULT_SWITCH_CYCLES, make_budget
from archmodel.fpga.device_model import AC, AR, CLK, op_time_exprs
from archmodel.moe_layer import MoELayer, uniform_counts
from archmodel.optable import OpSpec
from codegen.schedule import schedule_moe_layer
from codegen.schedule.stages import POST_DOWN, POST_GATE, POST_UP_GATED, POST_UP_PLAIN

SHAPE = MoELayer(tokens=64, hidden=256, ffn=512, experts=8, top_k=2, gated=True)
ROWS, COLS = 8, 16


def _gemm(name: str, m: int, n: int, k: int, instances: int = 1) -> OpSpec:
    return OpSpec(name=name, kind="gemm", group="moe", count=1, flops=sp.Integer(2 * instances * m * n * k),
                  m=sp.Integer(m), n=sp.Integer(n), kdim=sp.Integer(k), instances=sp.Integer(instances))


def _model_cycles(op: OpSpec, clock: float) -> int:
    compute, _, _, switch = op_time_exprs(op)
    value = float((compute + switch).subs({CLK: clock, AR: ROWS, AC: COLS})) * clock
    return round(value)


def _layer_ops(shape: MoELayer) -> list[OpSpec]:
    """The layer's GEMMs as the operator table writes them: the router, and the experts with
    ``tokens * top_k / experts`` tokens each as ``experts`` instances."""
    c = shape.tokens * shape.top_k // shape.experts
    d, f, e = shape.hidden, shape.ffn, shape.experts
    ops = [_gemm("router", shape.tokens, e, d), _gemm("expert_up", c, f, d, e)]
    if shape.gated:
        ops.append(_gemm("expert_gate", c, f, d, e))
    return ops + [_gemm("expert_down", c, d, f, e)]


def _post(task: str, gated: bool) -> int:
    if task == "router" or task.endswith(".down"):
        return POST_DOWN if task.endswith(".down") else 0
    if task.endswith(".gate"):
        return POST_GATE
    return POST_UP_GATED if gated else POST_UP_PLAIN


@pytest.mark.parametrize("gated", [True, False])
def test_one_moe_layer_both_ways(gated: bool) -> None:
    shape = MoELayer(SHAPE.tokens, SHAPE.hidden, SHAPE.ffn, SHAPE.experts, SHAPE.top_k, gated)
    counts = uniform_counts(shape)
    assert len(set(counts)) == 1 and counts[0] > ROWS  # every expert alike, several row tiles
    budget = make_budget("alveo-u280", ROWS, COLS)
    assert budget.switch_cycles == DEFAULT_SWITCH_CYCLES
    sched = schedule_moe_layer(shape, counts, budget, style="sequential", front="sequential")
    pe = [st for st in sched.stages if st.unit == "pe"]
    assert len(pe) == 1 + shape.experts * (3 if gated else 2)
    sched_pe = sum(st.compute_cycles + budget.switch_cycles for st in pe)
    latencies = sum(1 + _post(st.task, gated) for st in pe)
    model = sum(_model_cycles(op, budget.clock_hz) for op in _layer_ops(shape))
    assert model == sched_pe - latencies  # the PE-array work: exact

    other = sched.total_cycles - sum(st.end - st.start + budget.switch_cycles for st in pe)
    T, d, E, k, W = shape.tokens, shape.hidden, shape.experts, shape.top_k, sched.stream_bytes
    stage_formulas = (max(T * -(-d // W), 1 + 1 + E * (4 if gated else 2)) + (1 + T * E + 1)
                      + (1 + 20 * (T - 1) + 19 + 1) + (1 + T * -(-d // W) * k + 3) + 3 * budget.switch_cycles)
    assert other == stage_formulas
    assert sched.total_cycles - model == other + latencies
    assert (sched.total_cycles - model) / sched.total_cycles < 0.02
