"""KernelPlan: schedule, controller program, variant coverage, weight image and input packers."""
from __future__ import annotations

import json

import numpy as np
import pytest

from accelerators.errors import ConfigError
from codegen.schedule import schedule_moe_layer
from archmodel.fpga.tasks import MoELayer, uniform_counts
from codegen.hls.emit import pack_requant_block, pack_token_stream, pack_weight_image, unpack_token_stream
from archmodel.fpga.budget import make_budget, power_of_two_arrays
from codegen.plan import ARRAY_TOLERANCE, OPS, build_plan, fastest_array
from codegen.spec import KernelSpec
from verification import golden

SPECS = [KernelSpec(16, 64, 128, 8, 2, True, pe_rows=8, pe_cols=8),
         KernelSpec(12, 40, 72, 8, 1, False, pe_rows=4, pe_cols=4, style="sequential", stream_bytes=16),
         KernelSpec(16, 64, 128, 4, 2, False, pe_rows=64, pe_cols=128),  # the U280's largest array
         KernelSpec(16, 48, 96, 4, 2, True, pe_rows=4, pe_cols=9, style="dataflow")]


@pytest.mark.parametrize("spec", SPECS,
                         ids=lambda s: f"E{s.experts}k{s.top_k}{'g' if s.gated else ''}-{s.pe_rows}x{s.pe_cols}")
def test_program_and_variants(spec: KernelSpec) -> None:
    plan = build_plan(spec)
    # the schedule is archmodel's for the balanced routing
    shape = MoELayer(spec.tokens, spec.hidden, spec.ffn, spec.experts, spec.top_k, spec.gated)
    ref = schedule_moe_layer(shape, uniform_counts(shape), "alveo-u280", rows=spec.pe_rows, cols=spec.pe_cols,
                             style=spec.style, stream_bytes=spec.stream_bytes)
    assert plan.schedule.total_cycles == ref.total_cycles == plan.predicted_cycles
    assert plan.tokens_per_expert == uniform_counts(shape)
    # every run-time count 1..T has exactly one variant, and it is the schedule's choice
    for c in range(1, spec.tokens + 1):
        v = plan.variant_for(c)
        assert v is not None and [w.covers(c) for w in plan.variants].count(True) == 1
        assert v.variant == plan.schedule.variant_for(c)
        if v.name == "seq-stream":
            assert c <= plan.rows
    assert plan.variant_for(0) is None
    # front: load, router, topk, gate_norm (one dataflow group or four sequential steps)
    tasks = [t for s in plan.front for t in s.tasks]
    assert tasks == ["load", "router", "topk", "gate_norm"]
    assert plan.combine.op == "combine" and plan.combine.tasks == ("combine",)
    for v in plan.variants:
        want = ["up", "gate", "down"] if spec.gated else ["up", "down"]
        assert [t for s in v.steps for t in s.tasks] == want
        for s in v.steps:
            assert s.op in OPS
            assert all(st.m == v.variant.max_tokens for st in s.stages)
        if v.name == "df":
            assert len(v.steps) == 1 and v.steps[0].op == "expert_df"
            assert tuple(st.cols for st in v.steps[0].stages) == v.variant.col_split
            assert sum(v.variant.col_split) == plan.cols
    json.dumps(plan.as_dict())  # serialisable


def test_nominal_routing_can_be_given() -> None:
    spec = SPECS[0]
    counts = (16, 16, 0, 0, 0, 0, 0, 0)
    plan = build_plan(spec, counts)
    assert plan.tokens_per_expert == counts
    assert [s.expert for s in plan.stages if s.expert is not None] == [0, 0, 0, 1, 1, 1]
    with pytest.raises(ConfigError):
        build_plan(spec, (1, 2, 3))


@pytest.mark.parametrize("spec", SPECS[:3], ids=["8x8", "4x4", "default"])
def test_weight_image_is_the_spec_tile_format(spec: KernelSpec) -> None:
    """Regions in order router, (up, gate, down) per expert; each equals golden.pack_weight_tiles."""
    plan = build_plan(spec)
    shape = golden.MoEShape(spec.tokens, spec.hidden, spec.ffn, spec.experts, spec.top_k, spec.gated)
    p = golden.random_params(shape, 3)
    image = np.frombuffer(pack_weight_image(plan, p.router, p.up, p.gate, p.down), dtype=np.int8)
    image = image.reshape(plan.weight_words, plan.cols).astype(np.int64)
    tensors = [p.router]
    for e in range(spec.experts):
        tensors += [p.up[e]] + ([p.gate[e]] if spec.gated else []) + [p.down[e]]
    want = np.concatenate([golden.pack_weight_tiles(w, plan.cols) for w in tensors])
    assert np.array_equal(image, want)
    offset = 0
    for r in plan.weight_layout:
        assert r.offset == offset and r.words == r.col_tiles * r.k
        offset += r.words
    assert offset == plan.weight_words


def test_requant_block_matches_the_rtl_parameter_block() -> None:
    """The HLS kernel's requantisation block is the RTL interface's PARAMS response."""
    from codegen.hdl.interface import param_block_words
    for spec in SPECS:
        plan = build_plan(spec)
        shape = golden.MoEShape(spec.tokens, spec.hidden, spec.ffn, spec.experts, spec.top_k, spec.gated)
        p = golden.random_params(shape, 5)
        block = pack_requant_block(plan, gate_weight=p.gate_weight_q, up=p.up_q, down=p.down_q, gate=p.gate_q,
                                   hidden=p.hidden_q)
        assert list(np.frombuffer(block, dtype="<u4")) == param_block_words(p)


def test_token_stream_is_golden_pack_tokens() -> None:
    for spec in SPECS:
        plan = build_plan(spec)
        shape = golden.MoEShape(spec.tokens, spec.hidden, spec.ffn, spec.experts, spec.top_k, spec.gated)
        x = golden.random_tokens(shape, 9)
        data = pack_token_stream(plan, x)
        assert data == golden.pack_tokens(x, spec.stream_bytes).tobytes()
        assert np.array_equal(unpack_token_stream(plan, data), x)


def test_tables_are_the_golden_tables() -> None:
    for act in ("identity", "relu", "silu", "gelu"):
        plan = build_plan(KernelSpec(4, 16, 16, 4, 1, False, activation=act, pe_rows=2, pe_cols=2))
        assert list(plan.activation_table) == golden.activation_lut(act).tolist()
        assert list(plan.exp_table) == golden.exp_lut().tolist()


def test_budget_that_cannot_hold_the_buffers_is_a_config_error() -> None:
    # a huge token count on a tiny part's memory: the schedule says what does not fit
    with pytest.raises(ConfigError):
        build_plan(KernelSpec(4096, 8192, 8192, 8, 2, True, device="versal-vck190", pe_rows=8, pe_cols=8))


def test_the_default_array_is_the_smallest_that_reaches_the_fastest_layer() -> None:
    """No --pe: the cost model picks the array; never more rows than tokens nor columns than the layer."""
    spec = KernelSpec(8, 32, 64, 4, 2, True)
    counts = uniform_counts(spec.shape)
    rows, cols = fastest_array(spec, counts)
    assert rows <= 8 and cols <= 64
    budget = make_budget("alveo-u280", 1, 1)
    cycles = {rc: schedule_moe_layer(spec.shape, counts, make_budget("alveo-u280", *rc)).total_cycles
              for rc in power_of_two_arrays(budget, max_rows=8, max_cols=64)}
    best = min(cycles.values())
    assert cycles[(rows, cols)] <= best * (1 + ARRAY_TOLERANCE)
    assert all(r * c >= rows * cols for (r, c), n in cycles.items() if n <= best * (1 + ARRAY_TOLERANCE))
    plan = build_plan(spec)
    assert (plan.schedule.budget.rows, plan.schedule.budget.cols) == (rows, cols)
