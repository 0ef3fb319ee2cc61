"""HLS C simulation (g++) of generated kernels against verification.golden, bit for bit.

Every kernel is generated through the writer (the same files `moearch codegen` writes), compiled
once per session with g++ -std=c++17 -O2 -Wall -Werror, and run on golden-model inputs. Besides
the output tokens, the tests check the routed counts the kernel reports and the controller's step
trace: the front steps, then for every expert with tokens exactly the steps of the variant its
count selects (with M = the count), nothing for experts without tokens, then the combine.
"""
from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codegen.csim import run_csim
from codegen.plan import KernelPlan
from codegen.spec import KernelSpec
from verification import golden

SHAPES: dict[str, KernelSpec] = {
    # dataflow front (E <= C), seq-stream for counts <= 8 and seq-tiled above
    "e8-k2-gated-8x8": KernelSpec(16, 64, 128, 8, 2, True, pe_rows=8, pe_cols=8),
    # E = 4, k = 1, not gated, relu, 8-byte stream words
    "e4-k1-plain-4x4": KernelSpec(16, 64, 128, 4, 1, False, pe_rows=4, pe_cols=4, stream_bytes=8,
                                  activation="relu"),
    # sequential front (router, top-k, gate norm one after another: E > C); d not a multiple of W
    "e8-k2-plain-seqfront": KernelSpec(12, 40, 72, 8, 2, False, pe_rows=4, pe_cols=4, style="sequential",
                                       activation="gelu"),
    # the part's default array (64 x 128): the dataflow expert variant, gated
    "e8-k2-gated-df": KernelSpec(16, 64, 128, 8, 2, True, pe_rows=64, pe_cols=128),  # the U280's largest array
    # dataflow variant on 9 columns: sub-arrays of 5 and 4 columns straddle the 9-lane weight words
    "e4-k2-plain-df9": KernelSpec(16, 48, 96, 4, 2, False, pe_rows=4, pe_cols=9, style="dataflow"),
    # k = 1, gated, identity activation, 2 x 8 array, T not a multiple of R, 4-byte words
    "e4-k1-gated-2x8": KernelSpec(10, 32, 64, 4, 1, True, pe_rows=2, pe_cols=8, stream_bytes=4,
                                  activation="identity"),
}


def golden_shape(spec: KernelSpec) -> golden.MoEShape:
    return golden.MoEShape(spec.tokens, spec.hidden, spec.ffn, spec.experts, spec.top_k, spec.gated)


def step_numbers(plan: KernelPlan) -> tuple[range, dict[str, range], int]:
    """Indices of the front steps, of each variant's steps, and of the combine step."""
    front = range(len(plan.front))
    at = len(plan.front)
    variants = {}
    for v in plan.variants:
        variants[v.name] = range(at, at + len(v.steps))
        at += len(v.steps)
    return front, variants, at


def check_run(kernel, x: np.ndarray, params: golden.MoEParams, workdir) -> golden.GoldenResult:
    plan = kernel.plan
    shape = golden_shape(plan.spec)
    want = golden.moe_layer(x, params, shape)
    got = run_csim(plan, kernel.exe, x, params, workdir)
    mismatch = np.argwhere(got.output != want.output)
    assert mismatch.size == 0, f"{len(mismatch)} outputs differ, first at {mismatch[:5].tolist()}"
    assert got.expert_counts == tuple(int(c) for c in want.expert_counts)

    front, variants, combine = step_numbers(plan)
    trace = list(got.trace)
    assert [(t.step, t.expert, t.m) for t in trace[:len(front)]] == [(s, -1, plan.tokens) for s in front]
    assert (trace[-1].step, trace[-1].expert) == (combine, -1)
    expected = []
    for e, count in enumerate(want.expert_counts):
        count = int(count)
        if count == 0:
            continue  # an expert without tokens runs nothing
        v = plan.variant_for(count)
        assert v is not None and v.covers(count)
        expected += [(s, e, count) for s in variants[v.name]]
    assert [(t.step, t.expert, t.m) for t in trace[len(front):-1]] == expected
    return want


def test_shapes_cover_every_variant_and_front_mode(csim_kernel) -> None:
    """The shapes above exercise every code path the emitter has."""
    variants, fronts, gated, ks, es = set(), set(), set(), set(), set()
    for spec in SHAPES.values():
        plan = csim_kernel(spec).plan
        variants |= {v.name for v in plan.variants}
        fronts |= {s.mode for s in plan.front}
        gated.add(spec.gated)
        ks.add(spec.top_k)
        es.add(spec.experts)
    assert variants == {"seq-stream", "seq-tiled", "df"}
    assert fronts == {"dataflow", "sequential"}
    assert gated == {True, False} and ks == {1, 2} and es == {4, 8}


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("seed", [0, 1])
def test_random_inputs_bit_exact(name: str, seed: int, csim_kernel, tmp_path) -> None:
    spec = SHAPES[name]
    shape = golden_shape(spec)
    params = golden.random_params(shape, seed, spec.activation)
    x = golden.random_tokens(shape, seed + 100)
    want = check_run(csim_kernel(spec), x, params, tmp_path)
    assert np.count_nonzero(want.output) > want.output.size // 4  # a real test, not all zeros


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_zero_router_sends_every_token_to_the_first_experts(name: str, csim_kernel, tmp_path) -> None:
    """All logits equal: ties go to the lowest indices, so experts 0..k-1 get all T tokens and the
    others none (an expert with no tokens; with k = 1 all tokens to one expert)."""
    spec = SHAPES[name]
    shape = golden_shape(spec)
    params = dataclasses.replace(golden.random_params(shape, 7, spec.activation),
                                 router=np.zeros((spec.hidden, spec.experts), dtype=np.int64))
    x = golden.random_tokens(shape, 8)
    want = check_run(csim_kernel(spec), x, params, tmp_path)
    counts = [int(c) for c in want.expert_counts]
    assert counts == [spec.tokens] * spec.top_k + [0] * (spec.experts - spec.top_k)


@pytest.mark.parametrize("name", ["e4-k1-plain-4x4", "e4-k1-gated-2x8", "e8-k2-gated-df"])
def test_all_tokens_to_one_chosen_expert(name: str, csim_kernel, tmp_path) -> None:
    """Non-negative tokens and a router whose column 3 is all positive and the others not: every
    token's largest logit is expert 3's."""
    spec = SHAPES[name]
    shape = golden_shape(spec)
    rng = np.random.default_rng(11)
    router = rng.integers(-128, 1, size=(spec.hidden, spec.experts), dtype=np.int64)
    router[:, 3] = rng.integers(1, 128, size=spec.hidden)
    params = dataclasses.replace(golden.random_params(shape, 12, spec.activation), router=router)
    x = rng.integers(1, 128, size=(spec.tokens, spec.hidden), dtype=np.int64)
    want = check_run(csim_kernel(spec), x, params, tmp_path)
    assert int(want.expert_counts[3]) == spec.tokens
    if spec.top_k == 1:
        assert int(want.expert_counts.sum()) == spec.tokens


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), dead=st.lists(st.booleans(), min_size=8, max_size=8))
def test_skewed_routing_property(seed: int, dead: list[bool], csim_kernel, tmp_path_factory) -> None:
    """Random data with some experts made unattractive (strongly negative router columns on
    non-negative tokens): any routing the kernel meets matches the golden model."""
    spec = SHAPES["e8-k2-gated-8x8"]
    shape = golden_shape(spec)
    params = golden.random_params(shape, seed % 1000, spec.activation)
    router = params.router.copy()
    if not all(dead):
        for e, d in enumerate(dead):
            if d:
                router[:, e] = -128
    x = np.abs(golden.random_tokens(shape, seed % 997)).clip(0, 127)
    params = dataclasses.replace(params, router=router)
    check_run(csim_kernel(spec), x, params, tmp_path_factory.mktemp("prop"))


def test_a_wrong_input_file_is_reported(csim_kernel, tmp_path) -> None:
    kernel = csim_kernel(SHAPES["e4-k1-gated-2x8"])
    (tmp_path / "short.bin").write_bytes(b"\0" * 3)
    proc = subprocess.run([str(kernel.exe), str(tmp_path / "short.bin"), "a", "b", str(tmp_path / "o.bin")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "tokens file" in proc.stderr and "expected" in proc.stderr
    with pytest.raises(ValueError, match="tokens have shape"):
        shape = golden_shape(kernel.plan.spec)
        run_csim(kernel.plan, kernel.exe, np.zeros((1, 1), dtype=np.int64), golden.random_params(shape, 0), tmp_path)
