# amaranth: UnusedElaboratable=no
"""PEArray against golden int32 GEMM tiles, with its documented timing."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from codegen.hdl.pe_array import PEArray
from codegen.hdl.streamsim import run_streams
from verification import golden


def tiles(rows: int, cols: int, depths: list[int], seed: int) -> tuple[list[dict[str, Any]],
                                                                    list[np.ndarray]]:
    """Input beats for tiles of the given depths and the golden R x C result of each."""
    rng = np.random.default_rng(seed)
    beats, results = [], []
    for k in depths:
        a = rng.integers(-128, 128, size=(k, rows))
        b = rng.integers(-128, 128, size=(k, cols))
        for i in range(k):
            beats.append({"a": a[i].tolist(), "b": b[i].tolist(), "last": int(i == k - 1)})
        results.append(golden.matmul_int32(a.T, b, "tile"))
    return beats, results


def drained(run: Any, rows: int, n_tiles: int) -> list[np.ndarray]:
    out = run.payloads("o")
    assert [p["row"] for p in out] == list(range(rows)) * n_tiles
    assert [p["last"] for p in out] == ([0] * (rows - 1) + [1]) * n_tiles
    return [np.array([p["data"] for p in out[t * rows:(t + 1) * rows]]) for t in range(n_tiles)]


@pytest.mark.parametrize("rows,cols,rate", [(3, 2, 1.0), (4, 4, 0.6), (1, 3, 0.7)])
def test_random_tiles_match_golden(rows: int, cols: int, rate: float) -> None:
    depths = [1, 5, 2, 7, 3]
    beats, expect = tiles(rows, cols, depths, seed=rows * 10 + cols)
    dut = PEArray(rows, cols)
    run = run_streams(dut, {"i": beats}, {"o": rows * len(depths)}, watch={"busy": dut.busy},
                      source_rate=rate, sink_rate=rate, seed=7)
    for got, want in zip(drained(run, rows, len(depths)), expect):
        assert np.array_equal(got, want)
    assert run.high["busy"] == len(beats)  # one cycle of R*C MACs per beat


def test_extreme_values_accumulate_exactly() -> None:
    # -128 * -128 summed 64 times = 2**20 in every PE; mixed signs cancel exactly
    beats = [{"a": [-128, 127], "b": [-128, -128], "last": int(i == 63)} for i in range(64)]
    run = run_streams(PEArray(2, 2), {"i": beats}, {"o": 2})
    assert drained(run, 2, 1)[0].tolist() == [[2**20, 2**20], [-127 * 128 * 64] * 2]


def test_gemm_through_packed_tiles() -> None:
    """Y = X @ W tiled over a 2 x 3 array with the spec's activation and weight word order."""
    rows, cols, m, k, n = 2, 3, 5, 6, 4
    rng = np.random.default_rng(1)
    x, w = rng.integers(-128, 128, size=(m, k)), rng.integers(-128, 128, size=(k, n))
    act, wgt = golden.pack_activation_tiles(x, rows), golden.pack_weight_tiles(w, cols)
    mt, nt = -(-m // rows), -(-n // cols)
    beats = [{"a": act[i * k + kk].tolist(), "b": wgt[j * k + kk].tolist(), "last": int(kk == k - 1)}
             for i in range(mt) for j in range(nt) for kk in range(k)]
    run = run_streams(PEArray(rows, cols), {"i": beats}, {"o": rows * mt * nt})
    y = np.zeros((mt * rows, nt * cols), dtype=np.int64)
    for t, tile in enumerate(drained(run, rows, mt * nt)):
        i, j = divmod(t, nt)
        y[i * rows:(i + 1) * rows, j * cols:(j + 1) * cols] = tile
    assert np.array_equal(y[:m, :n], golden.matmul_int32(x, w, "gemm"))


def test_timing_back_to_back_tiles_with_k_at_least_r() -> None:
    rows, cols, k, n_tiles = 4, 2, 6, 5
    beats, _ = tiles(rows, cols, [k] * n_tiles, seed=3)
    dut = PEArray(rows, cols)
    run = run_streams(dut, {"i": beats}, {"o": rows * n_tiles}, watch={"busy": dut.busy})
    # no input stall: one beat per cycle from cycle 0
    assert list(run.accepted["i"]) == list(range(k * n_tiles))
    # row r of the tile whose last beat transfers at cycle c is valid at c + 2 + r
    expected = [t * k + (k - 1) + 2 + r for t in range(n_tiles) for r in range(rows)]
    assert run.cycles_of("o") == expected
    assert run.high["busy"] == k * n_tiles
    # an isolated tile costs K + 1 + R cycles to its last row (cycle index K + R)
    assert run.cycles_of("o")[rows - 1] == k + rows


def test_timing_short_tiles_are_drain_bound() -> None:
    rows, cols, k, n_tiles = 4, 2, 2, 4  # K < R: one tile per R cycles, drain without gaps
    beats, expect = tiles(rows, cols, [k] * n_tiles, seed=4)
    run = run_streams(PEArray(rows, cols), {"i": beats}, {"o": rows * n_tiles})
    first = run.cycles_of("o")[0]
    assert first == k - 1 + 2
    assert run.cycles_of("o") == list(range(first, first + rows * n_tiles))
    assert all(np.array_equal(a, b) for a, b in zip(drained(run, rows, n_tiles), expect))


def test_steady_state_utilisation() -> None:
    rows, cols, k, n_tiles = 4, 4, 32, 6
    beats, _ = tiles(rows, cols, [k] * n_tiles, seed=5)
    dut = PEArray(rows, cols)
    run = run_streams(dut, {"i": beats}, {"o": rows * n_tiles}, watch={"busy": dut.busy})
    last_row = run.cycles_of("o")[-1]
    # total = K * tiles + 1 + R cycles: utilisation >= 90 % for this size
    assert last_row + 1 == k * n_tiles + 1 + rows
    assert run.high["busy"] / (last_row + 1) >= 0.9


def test_rejects_empty_array() -> None:
    with pytest.raises(ValueError):
        PEArray(0, 4)


def test_verilog(verilog_check: Any) -> None:
    verilog_check(PEArray(3, 2), "pe_array")
