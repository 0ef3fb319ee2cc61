"""MoEKernel in the Amaranth simulator, bit for bit against verification.golden.moe_layer.

The weight interface is served from golden parameters through
codegen.hdl.interface.weight_request_words (codegen.hdl.kernel_sim)."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.hdl.interface import Tensor
from codegen.hdl.kernel_sim import simulate_kernel
from codegen.hdl.schedule_rom import SUPPORTED_VARIANTS
from codegen.hdl.top import MoEKernel
from hdl_kernel_cases import (CASES, Case, make_inputs, predicted_spans, run_case, token_words,
                              words_to_tokens)
from verification import golden



@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_is_bit_exact(name: str) -> None:
    out = run_case(CASES[name])
    assert np.array_equal(out.outputs[0], out.gold.output)
    assert len(set(out.gold.output.ravel().tolist())) > 4  # a non-trivial result
    front = out.kernel.program.front
    assert front == (CASES[name].front or front)


def test_tiled_cases_run_seq_tiled() -> None:
    out = run_case(CASES["gated-tiled-seqfront"])
    counts = out.gold.expert_counts.tolist()
    assert max(counts) > out.case.rows  # at least one expert runs more than one row tile
    names = {r.variant for r in out.kernel.program.rows if r.variant}
    assert names == {"seq-stream", "seq-tiled"}


def test_dataflow_cases_run_df() -> None:
    for name in ("df-gated", "df-plain", "df-gated-blocks", "df-window-wrap"):
        program = run_case(CASES[name]).kernel.program
        assert {r.variant for r in program.rows if r.variant} == {"df"}
        assert program.has_df and not program.has_seq


def test_mixed_variant_table_splits_and_joins_the_array() -> None:
    out = run_case(CASES["mixed-df-seq"])
    counts = out.gold.expert_counts.tolist()
    rows = out.kernel.program.rows
    per_expert = {s.expert: rows[s.row].variant for s in out.run.spans if s.expert is not None}
    ran = [per_expert[e] for e in sorted(per_expert)]
    assert ran == ["df", "seq-tiled", "df", "df"]  # split, joined for seq-tiled, split again
    assert np.array_equal(out.outputs[0], out.gold.output)
    assert sorted(counts) == [1, 2, 2, 3]


@pytest.mark.parametrize("style", ["intar", "dataflow"])
def test_expert_without_tokens_costs_nothing_and_is_never_fetched(style: str) -> None:
    # x >= 1 and router column 3 at -128: expert 3 is never among the top 2
    case = Case(seed=11, style=style)
    x = np.abs(golden.random_tokens(case.shape, 12)) % 120 + 1
    router = golden.random_params(case.shape, seed=11).router.copy()
    router[:, 3] = -128
    out = run_case(case, router=router, x=x)
    assert out.gold.expert_counts[3] == 0
    assert np.array_equal(out.outputs[0], out.gold.output)
    experts_fetched = {r.expert for _, r in out.run.requests if r.tensor in
                       (Tensor.UP, Tensor.GATE, Tensor.DOWN, Tensor.DF_UP, Tensor.DF,
                        Tensor.DF_DOWN)}
    assert 3 not in experts_fetched
    assert experts_fetched == {e for e, c in enumerate(out.gold.expert_counts) if c}
    assert all(s.expert != 3 for s in out.run.spans)


def test_all_tokens_to_one_expert() -> None:
    case = Case(top_k=1, gated=False)
    x = np.abs(golden.random_tokens(case.shape, 4)) % 100 + 1
    router = np.full((case.hidden, case.experts), -100)
    router[:, 2] = 100
    out = run_case(case, router=router, x=x)
    assert out.gold.expert_counts.tolist() == [0, 0, 4, 0]
    assert np.array_equal(out.outputs[0], out.gold.output)
    assert [s.expert for s in out.run.spans if s.expert is not None] == [2, 2]


@pytest.mark.parametrize("name", ["gated-E4-k2", "gated-tiled-seqfront", "C-above-W",
                                  "df-gated-blocks", "df-window-wrap", "df-short-k",
                                  "mixed-df-seq"])
def test_back_pressure_and_input_gaps(name: str) -> None:
    out = run_case(CASES[name], rates=(0.6, 0.7, 0.5))
    assert np.array_equal(out.outputs[0], out.gold.output)


@pytest.mark.parametrize("style", ["intar", "dataflow"])
def test_back_to_back_layers_with_new_parameters(style: str) -> None:
    case = Case(gated=True, seed=21, style=style)
    p1, x1, g1 = make_inputs(case)
    case2 = dataclasses.replace(case, seed=22)  # same schedule (df: every count), new data
    p2, x2, g2 = make_inputs(case2)
    kernel = MoEKernel(case.schedule(g1.expert_counts.tolist()), activation=case.activation)
    run = simulate_kernel(kernel, token_words(x1, case) + token_words(x2, case), [p1, p2],
                          layers=2, y_rate=0.8, seed=2)
    per = case.tokens * -(-case.hidden // case.stream_bytes)
    assert np.array_equal(words_to_tokens(run.outputs[:per], case), g1.output)
    assert np.array_equal(words_to_tokens(run.outputs[per:], case), g2.output)
    assert sum(r.tensor == Tensor.PARAMS for _, r in run.requests) == 2


@pytest.mark.parametrize("style", ["intar", "dataflow"])
def test_kernel_from_a_kernel_plan(style: str) -> None:
    from codegen.plan import build_plan
    from codegen.spec import KernelSpec
    spec = KernelSpec(tokens=4, hidden=8, ffn=16, experts=4, top_k=2, gated=True,
                      activation="silu", pe_rows=4, pe_cols=4, stream_bytes=8, style=style)
    plan = build_plan(spec)
    assert ({v.name for v in plan.schedule.variants} == {"df"}) == (style == "dataflow")
    kernel = MoEKernel(plan)
    case = Case()
    params, x, gold = make_inputs(case)
    run = simulate_kernel(kernel, token_words(x, case), params)
    assert np.array_equal(words_to_tokens(run.outputs, case), gold.output)


def test_unused_output_lanes_are_zero() -> None:
    out = run_case(CASES["odd-sizes"])  # d = 7 on W = 2: the last word of a token has one lane
    wpt = -(-7 // 2)
    for i, word in enumerate(out.run.outputs):
        if i % wpt == wpt - 1:
            assert word >> 8 == 0


def test_regression_row_wider_than_the_output_banks() -> None:
    # C = 5 PE columns on W = 1: a row covers 5 of 8 y banks; the other 3 must not be written
    case = Case(tokens=1, hidden=7, ffn=5, experts=5, top_k=4, gated=False, rows=2, cols=5,
                stream_bytes=1, front="dataflow", activation="gelu", seed=626)
    out = run_case(case)
    assert np.array_equal(out.outputs[0], out.gold.output)


@settings(max_examples=14, deadline=None, derandomize=True)
@given(st.data())
def test_random_small_shapes_are_bit_exact_and_on_schedule(data) -> None:
    experts = data.draw(st.integers(1, 6), label="E")
    cols = data.draw(st.integers(1, 5), label="C")
    fronts = ["sequential", "dataflow"] if experts <= cols else ["sequential"]
    case = Case(tokens=data.draw(st.integers(1, 6), label="T"),
                hidden=data.draw(st.integers(1, 9), label="d"),
                ffn=data.draw(st.integers(1, 10), label="f"), experts=experts,
                top_k=data.draw(st.integers(1, experts), label="k"),
                gated=data.draw(st.booleans(), label="gated"),
                rows=data.draw(st.integers(1, 4), label="R"), cols=cols,
                stream_bytes=data.draw(st.sampled_from([1, 2, 4, 8]), label="W"),
                front=data.draw(st.sampled_from(fronts), label="front"),
                activation=data.draw(st.sampled_from(["silu", "relu", "gelu", "identity"])),
                seed=data.draw(st.integers(0, 999), label="seed"),
                variants=data.draw(st.sampled_from([SUPPORTED_VARIANTS, ("df",)]), label="variants"))
    if "df" in case.variants and cols < (3 if case.gated else 2):
        case = dataclasses.replace(case, variants=("seq-stream", "seq-tiled"))  # no split
    out = run_case(case)
    assert np.array_equal(out.outputs[0], out.gold.output)
    pred = predicted_spans(case, out.gold.expert_counts.tolist(), out.kernel.program.front)
    assert [s.cycles for s in out.run.spans] == [p for _, p in pred]
