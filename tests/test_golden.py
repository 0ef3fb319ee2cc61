"""The golden model against hand-computed examples and properties of the spec."""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verification import golden as g

int32s = st.integers(g.INT32_MIN, g.INT32_MAX)
mults = st.integers(0, g.MULT_MAX)
shifts = st.integers(0, g.SHIFT_MAX)


def arr(*rows: object) -> np.ndarray:
    return np.array(rows, dtype=np.int64)


# ----------------------------------------------------------------------------------- requantize
def test_requantize_by_hand() -> None:
    # (5*1 + 1) >> 1 = 3: 2.5 rounds half up; (-5*1 + 1) >> 1 = -2: -2.5 rounds up as well
    assert g.requantize(arr(5, -5, 4, -4), 1, 1).tolist() == [3, -2, 2, -2]
    # (7*3 + 2) >> 2 = 23 >> 2 = 5 (5.25 -> 5); (-7*3 + 2) >> 2 = -19 >> 2 = -5 (-5.25 -> -5)
    assert g.requantize(arr(7, -7), 3, 2).tolist() == [5, -5]
    # shift 0: no rounding term, saturation at both ends
    assert g.requantize(arr(127, 128, -128, -129, 1000), 1, 0).tolist() == [127, 127, -128, -128, 127]


def test_requantize_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        g.requantize(arr(1), 65536, 0)
    with pytest.raises(ValueError):
        g.requantize(arr(1), 1, 64)
    with pytest.raises(OverflowError):
        g.requantize(arr(2**31), 1, 0)


@given(int32s, mults, shifts)
def test_requantize_is_round_half_up_then_saturate(a: int, m: int, s: int) -> None:
    exact = Fraction(a * m, 2**s)
    expected = math.floor(exact + Fraction(1, 2)) if s else a * m
    assert int(g.requantize(arr(a), m, s)[0]) == max(-128, min(127, expected))


@given(int32s, int32s, mults, shifts)
def test_requantize_is_monotonic(a: int, b: int, m: int, s: int) -> None:
    lo, hi = sorted((a, b))
    r = g.requantize(arr(lo, hi), m, s)
    assert -128 <= r[0] <= r[1] <= 127


# ------------------------------------------------------------------------------------------ topk
def test_topk_by_hand() -> None:
    logits = arr([5, 9, 9, -1], [0, 0, 0, 0], [-3, -2, -1, -4])
    assert g.topk(logits, 2).tolist() == [[1, 2], [0, 1], [2, 1]]


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=9), st.data())
def test_topk_tie_break_lowest_index(row: list[int], data: st.DataObject) -> None:
    k = data.draw(st.integers(1, len(row)))
    got = g.topk(arr(row), k)[0].tolist()
    assert got == sorted(range(len(row)), key=lambda i: (-row[i], i))[:k]
    unselected = set(range(len(row))) - set(got)
    for i in got:
        for j in unselected:
            assert row[i] > row[j] or (row[i] == row[j] and i < j)


@given(st.lists(st.lists(int32s, min_size=4, max_size=4), min_size=1, max_size=5))
def test_topk_with_k_equal_e_selects_all(rows: list[list[int]]) -> None:
    idx = g.topk(np.array(rows, dtype=np.int64), 4)
    assert all(sorted(r) == [0, 1, 2, 3] for r in idx.tolist())


# ---------------------------------------------------------------------------------- gate weights
def test_exp_table_endpoints() -> None:
    table = g.exp_lut()
    assert table.shape == (256,)
    assert table[0] == 32768
    assert table[32] == 12055  # 32768 / e = 12054.9...
    assert table[255] == 11  # 32768 * exp(-255/32) = 11.1...
    assert np.all(np.diff(table) <= 0) and table.min() >= 1


def test_gate_weights_by_hand() -> None:
    # logits 10 and 6, gate requantiser (1, 0): q = [0, 4]
    # EXP[4] = floor(32768 * exp(-4/32) + 1/2) = floor(28917.66 + 0.5) = 28918; sum = 61686
    # g0 = (32768 * 32768 + 30843) // 61686 = 17407 (17406.57 rounds up)
    # g1 = (28918 * 32768 + 30843) // 61686 = 15361 (15361.43 rounds down)
    assert g.gate_index(arr([10, 6]), 1, 0).tolist() == [[0, 4]]
    assert g.gate_weights(arr([10, 6]), 1, 0).tolist() == [[17407, 15361]]
    # distances saturate at index 255: (2**32 - 1) * 65535 >> 0 is far beyond
    assert g.gate_index(arr([g.INT32_MAX, g.INT32_MIN]), g.MULT_MAX, 0).tolist() == [[0, 255]]


def test_gate_weights_need_rank_order() -> None:
    with pytest.raises(ValueError):
        g.gate_weights(arr([1, 2]), 1, 0)


@given(st.lists(int32s, min_size=1, max_size=8), mults, shifts)
def test_gate_weight_properties(row: list[int], m: int, s: int) -> None:
    ranked = arr(sorted(row, reverse=True))
    w = g.gate_weights(ranked, m, s)[0]
    assert np.all((w >= 0) & (w <= 32768))
    assert np.all(np.diff(w) <= 0)  # rank order: non-increasing weights
    assert abs(int(w.sum()) - 32768) <= len(row) / 2  # each weight rounds by at most 1/2
    if len(row) == 1:
        assert w.tolist() == [32768]


# --------------------------------------------------------------------------------- activations
def test_activation_tables_by_hand() -> None:
    relu, ident = g.activation_lut("relu"), g.activation_lut("identity")
    for v in range(-128, 128):
        assert relu[v & 0xFF] == max(v, 0)
        assert ident[v & 0xFF] == v
    silu, gelu = g.activation_lut("silu"), g.activation_lut("gelu")
    # x = +-1 is v = +-16: silu(1) = 0.73106 -> 11.70 -> 12, silu(-1) = -0.26894 -> -4.30 -> -4
    assert (silu[16], silu[(-16) & 0xFF]) == (12, -4)
    # gelu(1) = 0.84134 -> 13.46 -> 13, gelu(-1) = -0.15866 -> -2.54 -> -3
    assert (gelu[16], gelu[(-16) & 0xFF]) == (13, -3)
    assert silu[0] == gelu[0] == 0 and silu[127] == 127  # silu(7.94) * 16 = 126.98 -> 127
    with pytest.raises(ValueError):
        g.activation_lut("tanh")


# ------------------------------------------------------------------------------------- combine
def test_combine_by_hand() -> None:
    # 17407 * 15 + 15361 * -3 = 215022; (215022 + 16384) >> 15 = 7 (7.06)
    # 17407 * -15 + 15361 * -1 = -276466; (-276466 + 16384) >> 15 = -8 (-7.94)
    y = np.array([[[15, -15], [-3, -1]]], dtype=np.int64)
    w = arr([17407, 15361])
    assert g.combine_acc(y, w).tolist() == [[215022, -276466]]
    assert g.combine(y, w).tolist() == [[7, -8]]
    # saturation: weight 1.0 on 127 plus a second weight pushes beyond int8
    assert g.combine(np.array([[[127], [127]]]), arr([32768, 32768])).tolist() == [[127]]


# ----------------------------------------------------------------------------------- the layer
def _single_expert_rq(*pairs: tuple[int, int]) -> tuple[g.Requant, ...]:
    return tuple(g.Requant(m, s) for m, s in pairs)


def test_layer_by_hand_plain_top1() -> None:
    shape = g.MoEShape(tokens=1, hidden=2, ffn=1, experts=2, top_k=1, gated=False)
    params = g.MoEParams(
        router=arr([1, 2], [4, -1]),  # logits: 3*1 - 2*4 = -5, 3*2 - 2*-1 = 8 -> expert 1
        up=np.array([[[0], [0]], [[5], [1]]]),  # expert 1: 3*5 - 2*1 = 13
        gate=None,
        down=np.array([[[0, 0]], [[-3, 7]]]),
        up_q=_single_expert_rq((1, 0), (3, 1)),  # (13*3 + 1) >> 1 = 20; relu(20) = 20
        gate_q=None, hidden_q=None,
        down_q=_single_expert_rq((1, 0), (1, 1)),  # down acc [-60, 140] -> [-30, 70]
        gate_weight_q=g.Requant(1, 0), activation="relu")
    r = g.moe_layer(arr([3, -2]), params, shape)
    assert r.logits.tolist() == [[-5, 8]]
    assert r.topk_indices.tolist() == [[1]]
    assert r.gate_weights.tolist() == [[32768]]
    assert r.expert_counts.tolist() == [0, 1]
    assert r.experts[1].up_acc.tolist() == [[13]] and r.experts[1].up_q.tolist() == [[20]]
    assert r.experts[1].down_acc.tolist() == [[-60, 140]]
    # (-60 + 1) >> 1 = -30 (-29.5 -> floor), (140 + 1) >> 1 = 70
    assert r.experts[1].out.tolist() == [[-30, 70]]
    assert r.output.tolist() == [[-30, 70]]  # (32768 * y + 16384) >> 15 = y


def test_layer_by_hand_gated_top2() -> None:
    shape = g.MoEShape(tokens=1, hidden=2, ffn=1, experts=2, top_k=2, gated=True)
    params = g.MoEParams(
        router=arr([3, 1], [4, 4]),  # x = [2, 1]: logits 10, 6
        up=np.array([[[1], [2]], [[-1], [0]]]),  # up acc 4 and -2
        gate=np.array([[[3], [-1]], [[1], [1]]]),  # gate acc 5 and 3
        down=np.array([[[10, -10]], [[7, 2]]]),
        up_q=_single_expert_rq((1, 0), (1, 0)),
        gate_q=_single_expert_rq((1, 0), (1, 0)),
        # expert 0: relu(5) * 4 = 20, (20 + 4) >> 3 = 3 (2.5 rounds up)
        # expert 1: relu(3) * -2 = -6, (-6 + 4) >> 3 = -1 (-0.75 -> -1)
        hidden_q=_single_expert_rq((1, 3), (1, 3)),
        # expert 0: down acc 3 * [10, -10] = [30, -30] -> [15, -15]
        # expert 1: down acc -1 * [7, 2] = [-7, -2] -> [(-7+1)>>1, (-2+1)>>1] = [-3, -1]
        down_q=_single_expert_rq((1, 1), (1, 1)),
        gate_weight_q=g.Requant(1, 0), activation="relu")
    r = g.moe_layer(arr([2, 1]), params, shape)
    assert r.logits.tolist() == [[10, 6]]
    assert r.topk_indices.tolist() == [[0, 1]]
    assert r.gate_weights.tolist() == [[17407, 15361]]  # see test_gate_weights_by_hand
    assert r.experts[0].hidden.tolist() == [[3]] and r.experts[1].hidden.tolist() == [[-1]]
    assert r.expert_out.tolist() == [[[15, -15], [-3, -1]]]
    assert r.output.tolist() == [[7, -8]]  # see test_combine_by_hand


def test_all_tokens_to_one_expert_and_empty_experts() -> None:
    shape = g.MoEShape(tokens=6, hidden=8, ffn=5, experts=3, top_k=1, gated=True)
    base = g.random_params(shape, seed=3)
    # a zero router ties every logit: the lowest index, expert 0, takes every token
    params = dataclasses.replace(base, router=np.zeros((8, 3), dtype=np.int64))
    x = g.random_tokens(shape, seed=4)
    r = g.moe_layer(x, params, shape)
    assert r.expert_counts.tolist() == [6, 0, 0]
    assert r.experts[1].out.shape == (0, 8) and r.experts[2].hidden.shape == (0, 5)
    alone = g.expert_forward(x, 0, params, g.activation_lut(params.activation))
    assert np.array_equal(r.output, alone["out"])  # k = 1: weight 1.0, combine is the identity


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6), st.integers(1, 5), st.data(),
       st.booleans(), st.sampled_from(g.activation_names()), st.integers(0, 2**16))
def test_layer_outputs_are_int8_and_consistent(t: int, d: int, f: int, e: int,
                                               data: st.DataObject, gated: bool, act: str,
                                               seed: int) -> None:
    shape = g.MoEShape(t, d, f, e, data.draw(st.integers(1, e)), gated)
    params = g.random_params(shape, seed, activation=act)  # type: ignore[arg-type]
    r = g.moe_layer(g.random_tokens(shape, seed + 1), params, shape)
    assert r.output.shape == (t, d) and r.output.min(initial=0) >= -128
    assert r.output.max(initial=0) <= 127
    assert int(r.expert_counts.sum()) == t * shape.top_k
    for ex in r.experts:
        assert np.all(np.diff(ex.tokens) > 0)
    assert np.array_equal(r.output, g.combine(r.expert_out, r.gate_weights))


def test_random_params_use_the_int8_range() -> None:
    shape = g.MoEShape(tokens=64, hidden=64, ffn=96, experts=4, top_k=2, gated=True)
    r = g.moe_layer(g.random_tokens(shape, 1), g.random_params(shape, 2), shape)
    for ex in r.experts:
        for name in ("up_q", "gate_q", "hidden", "out"):
            v = getattr(ex, name)
            assert v.std() > 8, name  # not collapsed to zero
            assert np.mean(np.abs(v) >= 127) < 0.05, name  # not saturated
    assert len(set(r.gate_index[:, 1].tolist())) > 10  # gate distances spread over the table


# ---------------------------------------------------------------------------------- overflow
def test_max_abs_accumulator_formulas() -> None:
    shape = g.MoEShape(tokens=1, hidden=4096, ffn=14336, experts=8, top_k=2, gated=True)
    b = g.accumulator_bounds(shape)
    assert b["router"] == b["up"] == b["gate"] == 4096 * 16384
    assert b["down"] == 14336 * 16384 == g.max_abs_accumulator(shape)
    assert b["combine"] == 2 * 32768 * 128
    assert g.fits_int32(g.MoEShape(1, 131071, 1, 1, 1, False))
    assert not g.fits_int32(g.MoEShape(1, 131072, 1, 1, 1, False))


def test_overflow_is_detected() -> None:
    # 131072 products of -128 * -128 sum to exactly 2**31, one past int32
    with pytest.raises(OverflowError):
        g.matmul_int32(np.full((1, 131072), -128), np.full((131072, 1), -128), "worst case")
    shape = g.MoEShape(tokens=1, hidden=131072, ffn=1, experts=1, top_k=1, gated=False)
    params = g.random_params(shape, seed=0)
    with pytest.raises(OverflowError):
        g.moe_layer(np.zeros((1, 131072), dtype=np.int64), params, shape)


# ------------------------------------------------------------------------------ stream formats
def test_pack_tokens_layout() -> None:
    x = arr([1, -1, 2], [3, 4, -128])
    words = g.pack_tokens(x, 2)
    # d = 3 in words of 2 bytes: 2 words a token, last lane padded with zero
    assert words.tolist() == [[1, 255], [2, 0], [3, 4], [128, 0]]
    assert g.word_value(words[0]) == 0xFF01
    assert np.array_equal(g.unpack_tokens(words, 3), x)


@given(st.integers(0, 4), st.integers(1, 9), st.sampled_from([1, 2, 4, 8]), st.integers(0, 99))
def test_pack_tokens_roundtrip(t: int, d: int, w: int, seed: int) -> None:
    x = np.random.default_rng(seed).integers(-128, 128, size=(t, d))
    assert np.array_equal(g.unpack_tokens(g.pack_tokens(x, w), d), x)


def test_pack_weight_tiles_layout() -> None:
    w = arr([1, 2, 3], [4, 5, 6])  # K = 2, N = 3 on C = 2 columns: 2 column tiles
    assert g.pack_weight_tiles(w, 2).tolist() == [[1, 2], [4, 5], [3, 0], [6, 0]]
    x = arr([1, 2], [3, 4], [5, 6])  # M = 3, K = 2 on R = 2 rows
    assert g.pack_activation_tiles(x, 2).tolist() == [[1, 3], [2, 4], [5, 0], [6, 0]]
