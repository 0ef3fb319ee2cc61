# amaranth: UnusedElaboratable=no
"""TopK against golden.topk (ties included), with its latency and per-token period."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from codegen.hdl.streamsim import run_streams
from codegen.hdl.topk import TopK
from verification import golden


def logits(tokens: int, experts: int, seed: int, spread: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.integers(-spread, spread + 1, size=(tokens, experts))
    out[0] = golden.INT32_MIN  # an all-equal token at the bottom of the range
    if tokens > 1:
        out[1] = golden.INT32_MAX
    return out


def expected(lg: np.ndarray, k: int) -> list[dict[str, list[int]]]:
    idx = golden.topk(lg, k)
    return [{"index": row.tolist(), "logit": lg[t, row].tolist()} for t, row in enumerate(idx)]


@pytest.mark.parametrize("experts,k,spread,rate", [
    (8, 2, 3, 1.0),  # many ties
    (5, 5, 2**31 - 1, 0.6),  # k == E: a full sort
    (6, 1, 4, 0.7),
    (1, 1, 10, 0.8),
    (4, 3, 1, 0.5),
])
def test_matches_golden(experts: int, k: int, spread: int, rate: float) -> None:
    lg = logits(12, experts, seed=experts * 7 + k, spread=spread)
    beats = lg.reshape(-1).tolist()
    run = run_streams(TopK(experts, k), {"i": beats}, {"o": 12}, source_rate=rate,
                      sink_rate=rate, seed=k, extra_cycles=3)
    assert run.payloads("o") == expected(lg, k)


def test_timing_one_token_every_e_cycles() -> None:
    experts, k, tokens = 6, 2, 5
    lg = logits(tokens, experts, seed=1, spread=100)
    run = run_streams(TopK(experts, k), {"i": lg.reshape(-1).tolist()}, {"o": tokens})
    assert list(run.accepted["i"]) == list(range(experts * tokens))
    assert run.cycles_of("o") == [t * experts + experts for t in range(tokens)]  # last + 1


def test_single_expert_token_per_cycle() -> None:
    run = run_streams(TopK(1, 1), {"i": [5, -3, 7]}, {"o": 3})
    assert run.cycles_of("o") == [1, 2, 3]
    assert run.payloads("o") == [{"index": [0], "logit": [v]} for v in (5, -3, 7)]


def test_rejects_k_above_e() -> None:
    with pytest.raises(ValueError):
        TopK(2, 3)


def test_verilog(verilog_check: Any) -> None:
    verilog_check(TopK(8, 2), "topk")
