"""schedule_moe_layer: hand-derived stage cycles from the PE contract, variants, zero-token experts."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.errors import ConfigError
from archmodel.fpga.budget import make_budget
from codegen.schedule import expert_cycles, expert_stages, schedule_moe_layer
from archmodel.fpga.tasks import MoELayer

S = MoELayer(tokens=64, hidden=256, ffn=512, experts=8, top_k=2, gated=True)
B16 = make_budget("alveo-u280", 16, 16)
COUNTS = [30, 0, 20, 10, 16, 16, 16, 20]


def test_sequential_expert_cycles_hand_derived() -> None:
    # c = 10 tokens, one row tile. up: 32 column tiles of K = 256 -> 31*256 + 256 + 17 = 8209,
    # + 1 buffer read + 3 requant; gate: + 1 + (3 + 1 + 1 + 3); down: 16 tiles of K = 512 -> 8209 + 4
    up, gate, down = 8209 + 4, 8209 + 9, 8209 + 4
    assert expert_cycles(S, 10, B16, "seq-stream") == up + 2 + gate + 2 + down == 24648
    st = expert_stages(S, 3, 10, B16, "seq-stream")
    assert [s.task for s in st] == ["e3.up", "e3.gate", "e3.down"]
    assert [(s.m, s.n, s.k, s.row_tiles, s.col_tiles) for s in st] == [(10, 512, 256, 1, 32), (10, 512, 256, 1, 32),
                                                                        (10, 256, 512, 1, 16)]
    assert [s.src for s in st] == [("x", "w:e3.up"), ("x", "w:e3.gate", "up_q"), ("h", "w:e3.down")]
    assert [s.dst for s in st] == ["up_q", "h", "y"]
    # c = 30: two row tiles double every GEMM's tiles: 63*256 + 256 + 17 = 16401
    assert expert_cycles(S, 30, B16, "seq-tiled") == (16401 + 4) + 2 + (16401 + 9) + 2 + (16401 + 4)
    # not gated: up's drain applies the activation (requant 3 + LUT 1) and writes h directly
    plain = MoELayer(64, 256, 512, 8, 2, gated=False)
    assert [s.task for s in expert_stages(plain, 0, 10, B16, "seq-stream")] == ["e0.up", "e0.down"]
    assert expert_cycles(plain, 10, B16, "seq-stream") == (8209 + 5) + 2 + (8209 + 4)


def test_dataflow_expert_hand_derived() -> None:
    # 16 tokens (one row block), columns split 6 / 5 / 5 for up / gate / down
    st = expert_stages(S, 0, 16, B16, "df")
    assert [(s.cols, s.col_offset, s.mode, s.group) for s in st] == [(6, 0, "dataflow", 0), (5, 6, "dataflow", 0),
                                                                       (5, 11, "dataflow", 0)]
    # one word of the weight stream a cycle feeds both sub-arrays (lockstep): phase 0 is
    # sub-array A (up + gate) on the block, 103 gate tiles of K = 256 = 26368 words; phase 1 is
    # D (down) on it, 52 tiles of K = 512 = 26624 words. K >= R and h is written long before D
    # reads it, so the 52992 beats are consecutive from cycle 1: the last beat at 52992, its
    # tile accumulates at 52993, the last row leaves at + 16, requantised + 3, end + 1
    assert expert_cycles(S, 16, B16, "df") == 52992 + 1 + 16 + 3 + 1 == 53013
    assert st[2].start == 26368  # D's first beat at 1 + 26368, one buffer read before it
    # up: 86 tiles; its last tile (A tile 85) accumulates at 1 + 86 * 256, + 16 rows + 3 + 1
    assert st[0].end == 86 * 256 + 1 + 16 + 3 + 1
    # gate: A tile 102 accumulates at 1 + 103 * 256; h written + 16 + 8
    assert st[1].end == 103 * 256 + 1 + 16 + 8 + 1
    # with one row block the two phases cannot overlap: sequential wins
    assert expert_cycles(S, 16, B16, "df") > expert_cycles(S, 16, B16, "seq-stream")
    # two row blocks: A on block 1 and D on block 0 share phase 1 (max(26368, 26624) words)
    assert expert_cycles(S, 17, B16, "df") == 26368 + 26624 + 26624 + 1 + 16 + 3 + 1


def _df_reference(blocks: int, ta: int, td: int, d: int, f: int, R: int, w: int, post: int) -> tuple[list, list, int]:
    """Beat-by-beat restatement of the lockstep dataflow expert (schedule._df_timing's contract)."""
    acc_a: list[int] = []
    acc_d: list[int] = []
    first_d = -1
    t_prev = 0
    for p in range(blocks + 1):
        la = ta * d if p < blocks else 0
        ld = td * f if p >= 1 else 0
        for j in range(max(la, ld)):
            t = t_prev + 1
            a, dd = j < la, j < ld
            if a and j % d == 0 and acc_a:
                t = max(t, acc_a[-1])
            if dd and j % f == 0 and acc_d:
                t = max(t, acc_d[-1])
            if dd:
                t = max(t, acc_a[(p - 1) * ta + (j % f) // w] + R + post + 2)
            if a and j % d == d - 1:
                acc_a.append(max(t + 1, acc_a[-1] + R) if acc_a else t + 1)
            if dd and j % f == f - 1:
                acc_d.append(max(t + 1, acc_d[-1] + R) if acc_d else t + 1)
            if dd and first_d < 0:
                first_d = t
            t_prev = t
    return acc_a, acc_d, first_d


@settings(max_examples=150, deadline=None, derandomize=True)
@given(blocks=st.integers(1, 4), d=st.integers(1, 12), f=st.integers(1, 12), R=st.integers(1, 6),
       cols=st.integers(3, 9), gated=st.booleans())
def test_dataflow_timing_matches_a_beat_by_beat_restatement(blocks, d, f, R, cols, gated) -> None:
    from codegen.schedule.experts import df_timing
    from codegen.schedule.stages import POST_GATE, POST_UP_PLAIN
    from archmodel.fpga.styles import split_columns
    split = split_columns([d * f] * (3 if gated else 2), cols)
    w = split[1] if gated else split[0]
    ta, td = -(-f // w), -(-d // split[-1])
    post = POST_GATE if gated else POST_UP_PLAIN
    tm = df_timing(blocks, ta, td, d, f, R, w, post, 0)
    assert (list(tm.acc_a), list(tm.acc_d), tm.first_d_beat) == _df_reference(blocks, ta, td, d, f, R, w, post)


@pytest.mark.parametrize("blocks,d,f,R,cols,gated", [(1, 256, 512, 16, 16, True), (3, 64, 128, 16, 16, True),
                                                     (2, 48, 96, 4, 9, False), (3, 20, 40, 4, 4, True)])
def test_dataflow_timing_fast_path_matches_the_restatement(blocks, d, f, R, cols, gated) -> None:
    test_dataflow_timing_matches_a_beat_by_beat_restatement.hypothesis.inner_test(blocks, d, f, R, cols, gated)


def test_expert_without_tokens_costs_nothing() -> None:
    assert expert_cycles(S, 0, B16, "seq-stream") == 0
    assert expert_stages(S, 5, 0, B16, "df") == ()
    r = schedule_moe_layer(S, COUNTS, B16, style="sequential")
    assert r.expert_variant[1] is None
    assert not [st for st in r.stages if st.expert == 1]


def test_sequential_schedule_total_hand_derived() -> None:
    r = schedule_moe_layer(S, COUNTS, B16, style="sequential", stream_bytes=16)
    front = [(st.task, st.cycles) for st in r.stages[:4]]
    # load 64 tokens x 16 words; router 1 + (3*256 + 256 + 17); top-k 64*8 + 2; gates 20*64 + 1
    assert front == [("load", 1024), ("router", 1042), ("topk", 514), ("gate_norm", 1281)]
    experts = 3 * 49224 + 4 * 24648                     # 30, 20, 20 tokens: two row tiles; 10, 16 x 3: one
    combine = 1 + 64 * 16 * 2 + 3                        # Combiner: T * ceil(d / W) * k beats
    assert r.stages[-1].cycles == combine
    assert r.total_cycles == (1024 + 1042 + 514 + 1281 + 3 * 2) + 7 * 2 + experts + 2 + combine == 252199
    assert r.latency_s == pytest.approx(252199 / 300e6)
    # stages are contiguous in time, separated by the switch cycles
    for a, b in zip(r.stages, r.stages[1:]):
        assert b.start == a.end + B16.switch_cycles


def test_dataflow_front_hand_derived_and_chosen_by_intar() -> None:
    tiny = MoELayer(tokens=2, hidden=16, ffn=32, experts=4, top_k=1, gated=True)
    r = schedule_moe_layer(tiny, [1, 1, 0, 0], B16, style="intar")
    front = r.stages[:4]
    assert {st.mode for st in front} == {"dataflow"} and {st.group for st in front} == {0}
    # tokens loaded at cycles 0, 1; first beat at 3; rows out at 3 + 16 + 1 + t = 20, 21;
    # serializer 4 cycles a token: 20, 24; TopK out 25, 29; GateNormalizer accepts 25, 45; +19
    assert front[-1].end == 45 + 19 + 1 == 65
    seq = schedule_moe_layer(tiny, [1, 1, 0, 0], B16, style="sequential")
    # load: max(2 token words, 1 + 17 parameter-block words: RQg + 4 per expert, gated)
    assert seq.stages[3].end == 18 + 2 + (1 + 16 + 17) + 2 + (4 * 2 + 2) + 2 + (20 * 2 + 1) == 109
    assert r.total_cycles < seq.total_cycles


def test_resources_hand_derived() -> None:
    r = schedule_moe_layer(S, COUNTS, B16)
    # DSP: 256 PEs, 2 x 16 requant lanes x 2, 16 hidden products, 16 combiner lanes, 2 gate scalers x 2
    assert r.resources.dsp == 256 + 64 + 16 + 16 + 4
    assert r.resources.fits(B16)
    names = {b.name for b in r.buffers}
    assert {"x", "y", "h", "up_q", "wtile", "dispatch.tokens", "dispatch.gates"} <= names


def test_variant_table_few_and_many_tokens() -> None:
    r = schedule_moe_layer(S, COUNTS, B16)
    assert [(v.name, v.min_tokens, v.max_tokens) for v in r.variants] == [("seq-stream", 1, 16), ("seq-tiled", 17, 64)]
    assert r.variant_for(16).name == "seq-stream" and r.variant_for(17).name == "seq-tiled"
    assert r.variant_for(0) is None
    v = r.variants[1]
    assert (v.cycles_at_min, v.cycles_at_max) == (expert_cycles(S, 17, B16, "seq-tiled"),
                                                  expert_cycles(S, 64, B16, "seq-tiled"))
    # A tight BRAM budget cannot hold h and up_q for many tokens: the many-tokens variant streams
    shape = MoELayer(256, 256, 1024, 4, 1, True)
    tight = make_budget("alveo-u280", 16, 16, bram36=110, uram=0)
    t = schedule_moe_layer(shape, [100, 100, 50, 6], tight)
    names = [v.name for v in t.variants]
    assert names[0] == "seq-stream" and names[-1] == "df"
    assert t.variants[0].min_tokens == 1 and t.variants[-1].max_tokens == 256
    assert all(a.max_tokens + 1 == b.min_tokens for a, b in zip(t.variants, t.variants[1:]))
    assert t.expert_variant == ("df", "df", "seq-tiled", "seq-stream")
    assert t.resources.fits(tight)
    with pytest.raises(ConfigError):
        schedule_moe_layer(shape, [100, 100, 50, 6], tight, style="sequential")


def test_variant_counts_subset_and_golden_shape() -> None:
    from verification.golden import MoEShape
    g = MoEShape(tokens=64, hidden=256, ffn=512, experts=8, top_k=2, gated=True)
    r = schedule_moe_layer(g, COUNTS, B16, variant_counts=[1, 8, 40])
    covered = sorted({c for v in r.variants for c in (v.min_tokens, v.max_tokens)})
    assert set(covered) >= {1, 8, 40}
    assert r.total_cycles == schedule_moe_layer(S, COUNTS, B16).total_cycles


def test_styles_intar_not_slower() -> None:
    cycles = {s: schedule_moe_layer(S, COUNTS, B16, style=s).total_cycles for s in ("intar", "dataflow", "sequential")}
    assert cycles["intar"] <= min(cycles["dataflow"], cycles["sequential"])


@pytest.mark.parametrize("kwargs,field", [
    ({"tokens_per_expert": [64] * 8}, "tokens_per_expert"),
    ({"tokens_per_expert": [16] * 7}, "tokens_per_expert"),
    ({"tokens_per_expert": [-1, 33] + [16] * 6}, "tokens_per_expert"),
    ({"style": "systolic"}, "style"),
    ({"stream_bytes": 3}, "stream_bytes"),
    ({"variant_counts": [0]}, "variant_counts"),
])
def test_bad_input_is_a_config_error(kwargs: dict, field: str) -> None:
    args = {"tokens_per_expert": COUNTS} | kwargs
    counts = args.pop("tokens_per_expert")
    with pytest.raises(ConfigError) as err:
        schedule_moe_layer(S, counts, B16, **args)
    assert err.value.field == field


def test_budget_too_small_for_the_fixed_buffers() -> None:
    with pytest.raises(ConfigError) as err:
        schedule_moe_layer(S, COUNTS, make_budget("alveo-u280", 16, 16, bram36=2, uram=0))
    assert err.value.field == "budget"


def test_device_name_budget() -> None:
    r = schedule_moe_layer(S, COUNTS, "alveo-u55c", rows=8, cols=8)
    assert (r.budget.rows, r.budget.cols, r.budget.device) == (8, 8, "alveo-u55c")
    assert r.as_dict()["stages"][0]["task"] == "load"
    with pytest.raises(ConfigError):
        schedule_moe_layer(S, COUNTS, B16, rows=256, cols=256)


def test_dataflow_experts_with_a_sequential_front() -> None:
    """style='dataflow' with front='sequential' schedules the front one stage after another and the
    experts in dataflow (it used to raise as if a streaming front had been asked for)."""
    from codegen.schedule import schedule_moe_layer
    from archmodel.fpga.tasks import MoELayer
    shape = MoELayer(tokens=8, hidden=32, ffn=64, experts=8, top_k=2, gated=True)
    s = schedule_moe_layer(shape, [2] * 8, "alveo-u280", rows=4, cols=4, style="dataflow", front="sequential")
    front = [st for st in s.stages if st.expert is None and st.task != "combine"]
    assert {st.mode for st in front} == {"sequential"}
    assert {v.name for v in s.variants} == {"df"}
