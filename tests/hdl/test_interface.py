"""The kernel's external interface: request encoding round trips, response word order against
the golden packing, the parameter block layout and the port table."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codegen.hdl.interface import (DfLayout, KernelGeometry, Tensor, WeightRequest,
                                   decode_request, df_split, encode_request, kernel_signature,
                                   param_block_words, port_table, requests_for_layer,
                                   unpack_param_word, weight_request_words)
from verification import golden

GEOM = KernelGeometry(tokens=4, hidden=8, ffn=16, experts=4, top_k=2, gated=True, rows=4,
                      cols=4, stream_bytes=8)


def _signed(word: int, lanes: int) -> list[int]:
    out = []
    for c in range(lanes):
        b = (word >> (8 * c)) & 0xFF
        out.append(b - 256 if b >= 128 else b)
    return out


def test_request_fields_and_widths() -> None:
    assert GEOM.expert_bits == 2 and GEOM.tile_bits == 4 and GEOM.cols_bits == 3
    assert GEOM.request_bits == 3 + 2 + 4 + 3
    req = WeightRequest(Tensor.DOWN, expert=3, tile=1, cols=4)
    value = encode_request(GEOM, req)
    assert value == 4 | 3 << 3 | 1 << 5 | 4 << 9
    assert decode_request(GEOM, value) == req


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([Tensor.UP, Tensor.GATE, Tensor.DOWN]), st.integers(0, 3),
       st.integers(1, 4), st.data())
def test_encode_decode_round_trip(tensor: Tensor, expert: int, cols: int, data) -> None:
    n = GEOM.tensor_dims(tensor)[1]
    tile = data.draw(st.integers(0, -(-n // cols) - 1))
    req = WeightRequest(tensor, expert, tile, cols)
    assert decode_request(GEOM, encode_request(GEOM, req)) == req


def test_decode_rejects_bad_payloads() -> None:
    with pytest.raises(ValueError):
        decode_request(GEOM, 7)  # tensor code 7 (DF_DOWN) with cols = 0 instead of C
    with pytest.raises(ValueError):
        decode_request(GEOM, 1 << GEOM.request_bits)
    with pytest.raises(ValueError):  # tile 4 of 4-wide columns starts at 16 >= f = 16
        decode_request(GEOM, encode_request(GEOM, WeightRequest(Tensor.UP, 0, 4, 4)))
    plain = KernelGeometry(4, 8, 16, 4, 2, False, 4, 4, 8)
    with pytest.raises(ValueError):
        decode_request(plain, encode_request(plain, WeightRequest(Tensor.GATE, 0, 0, 4)))
    with pytest.raises(ValueError):
        WeightRequest(Tensor.PARAMS, expert=1)
    with pytest.raises(ValueError):
        WeightRequest(Tensor.UP, cols=0)


@pytest.mark.parametrize("gated", [False, True])
def test_full_width_tiles_are_the_golden_weight_tiles(gated: bool) -> None:
    shape = golden.MoEShape(4, 8, 13, 5, 2, gated)  # f = 13, E = 5: padded last tiles
    params = golden.random_params(shape, seed=4)
    cols = 4
    cases = [(Tensor.ROUTER, 0, params.router), (Tensor.UP, 2, params.up[2]),
             (Tensor.DOWN, 4, params.down[4])]
    if gated:
        cases.append((Tensor.GATE, 1, params.gate[1]))
    for tensor, e, w in cases:
        want = golden.pack_weight_tiles(w, cols)
        k, n = w.shape
        for tile in range(-(-n // cols)):
            words = weight_request_words(params, WeightRequest(tensor, e, tile, cols))
            assert len(words) == k
            got = [_signed(x, cols) for x in words]
            assert got == want[tile * k:(tile + 1) * k].tolist()


def test_narrow_tiles_zero_the_upper_lanes() -> None:
    shape = golden.MoEShape(2, 6, 7, 2, 1, False)
    params = golden.random_params(shape, seed=1)
    words = weight_request_words(params, WeightRequest(Tensor.UP, 1, 2, 3))  # columns 6..8
    assert len(words) == 6
    for kk, word in enumerate(words):
        assert word >> 8 == 0  # only column 6 exists
        assert _signed(word, 1) == [int(params.up[1][kk, 6])]


@pytest.mark.parametrize("gated", [False, True])
def test_param_block_layout(gated: bool) -> None:
    shape = golden.MoEShape(4, 8, 16, 3, 2, gated)
    params = golden.random_params(shape, seed=9)
    words = param_block_words(params)
    geom = KernelGeometry(4, 8, 16, 3, 2, gated, 4, 4, 8)
    assert len(words) == geom.param_words == 1 + 3 * (4 if gated else 2)
    assert words == weight_request_words(params, WeightRequest(Tensor.PARAMS))
    pairs = [unpack_param_word(w) for w in words]
    assert all(w >> 22 == 0 for w in words)
    assert pairs[0] == (params.gate_weight_q.mult, params.gate_weight_q.shift)
    per = 4 if gated else 2
    for e in range(3):
        block = pairs[1 + per * e:1 + per * (e + 1)]
        want = [params.up_q[e]] + ([params.gate_q[e], params.hidden_q[e]] if gated else []) \
            + [params.down_q[e]]
        assert block == [(q.mult, q.shift) for q in want]


def test_requests_for_layer_skip_empty_experts() -> None:
    reqs = requests_for_layer(GEOM, [3, 0, 5, 0])
    assert reqs[0] == WeightRequest(Tensor.PARAMS)
    assert {r.expert for r in reqs if r.tensor in (Tensor.UP, Tensor.DOWN)} == {0, 2}
    assert sum(r.tensor == Tensor.UP for r in reqs) == 2 * 4  # f = 16 on 4 columns


def test_signature_and_port_table_agree() -> None:
    sig = kernel_signature(GEOM)
    assert set(sig.members.keys()) == {"x_in", "y_out", "wreq", "wdata", "stage", "stage_valid",
                                       "expert", "pe_busy"}
    table = {p["name"]: p for p in port_table(GEOM)}
    assert table["x_in__payload"]["bits"] == 64 and table["x_in__ready"]["dir"] == "out"
    assert table["wreq__payload"]["bits"] == GEOM.request_bits
    assert table["wdata__payload"]["bits"] == 32
    assert KernelGeometry(4, 8, 16, 4, 2, True, 4, 8, 8).wdata_bits == 64


@pytest.mark.parametrize("gated,cols", [(True, 7), (True, 4), (False, 5)])
def test_dataflow_words_interleave_the_sub_arrays_tiles(gated: bool, cols: int) -> None:
    # d = 6, f = 11: padded last tiles; C = 7 gated splits 3 / 2 / 2 (gate tiles straddle up's)
    shape = golden.MoEShape(4, 6, 11, 3, 2, gated)
    params = golden.random_params(shape, seed=5)
    lay = DfLayout.of(6, 11, gated, cols)
    assert lay.split == df_split(6, 11, gated, cols) and sum(lay.split) == cols
    e = 1
    up = golden.pack_weight_tiles(params.up[e], lay.cu)
    gate = golden.pack_weight_tiles(params.gate[e], lay.cg) if gated else None
    down = golden.pack_weight_tiles(params.down[e], lay.cd)
    geom = KernelGeometry(4, 6, 11, 3, 2, gated, 2, cols, 4)
    for kind in (Tensor.DF_UP, Tensor.DF, Tensor.DF_DOWN):
        words = weight_request_words(params, WeightRequest(kind, e, 0, cols))
        assert len(words) == lay.words(kind) == geom.response_words(WeightRequest(kind, e, 0, cols))
        for j, word in enumerate(words):
            lanes = _signed(word, cols)
            with_a = kind != Tensor.DF_DOWN and j < lay.words_a
            with_d = kind != Tensor.DF_UP and j < lay.words_d
            want_up = up[j].tolist() if with_a and j < len(up) else [0] * lay.cu
            assert lanes[:lay.cu] == want_up
            if gated:
                assert lanes[lay.cu:lay.lanes_a] == (gate[j].tolist() if with_a else [0] * lay.cg)
            assert lanes[lay.lanes_a:] == (down[j].tolist() if with_d else [0] * lay.cd)
            assert word >> (8 * cols) == 0
    assert lay.words_a == -(-11 // lay.width_h) * 6 and lay.words_d == -(-6 // lay.cd) * 11


def test_dataflow_requests_encode_and_decode() -> None:
    for kind in (Tensor.DF_UP, Tensor.DF, Tensor.DF_DOWN):
        req = WeightRequest(kind, 3, 0, 4)
        assert decode_request(GEOM, encode_request(GEOM, req)) == req
    with pytest.raises(ValueError):
        WeightRequest(Tensor.DF, 0, 1, 4)  # tile is 0
    with pytest.raises(ValueError):  # cols must be the array width: the split derives from it
        decode_request(GEOM, encode_request(GEOM, WeightRequest(Tensor.DF, 0, 0, 3)))
    narrow = KernelGeometry(4, 8, 16, 4, 2, True, 4, 2, 8)  # 2 columns: no gated split
    assert narrow.df is None
    with pytest.raises(ValueError):
        decode_request(narrow, encode_request(narrow, WeightRequest(Tensor.DF, 0, 0, 2)))


def test_requests_for_layer_with_a_dataflow_variant() -> None:
    # counts 1..2 sequential, 3..4 df; R = 4 rows: a df expert of 3 tokens has one row block
    table = [(1, 2, "seq-stream"), (3, 4, "df")]
    reqs = requests_for_layer(GEOM, [3, 0, 2, 4], variants=table)
    e0 = [r for r in reqs if r.expert == 0 and r.tensor != Tensor.PARAMS and r.tensor != Tensor.ROUTER]
    assert e0 == [WeightRequest(Tensor.DF_UP, 0, 0, 4), WeightRequest(Tensor.DF_DOWN, 0, 0, 4)]
    assert {r.tensor for r in reqs if r.expert == 2} == {Tensor.UP, Tensor.GATE, Tensor.DOWN}
    geom2 = KernelGeometry(8, 8, 16, 4, 2, True, 2, 4, 8)
    dicts = [{"min_tokens": 1, "max_tokens": 8, "variant": "df", "row": 1}]
    reqs = requests_for_layer(geom2, [0, 5, 0, 0], "dataflow", variants=dicts)
    assert [r.tensor for r in reqs] == [Tensor.ROUTER, Tensor.PARAMS, Tensor.DF_UP, Tensor.DF,
                                        Tensor.DF, Tensor.DF_DOWN]  # ceil(5 / 2) = 3 row blocks
