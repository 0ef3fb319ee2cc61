"""Windowed (sliding) attention layers read only their window of the KV cache (gpt-oss)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from accelerators.catalog import load_device
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.step import model_step
from archmodel.workloads import load_workload

H100 = load_device("h100-sxm")


def _attention(step, suffix=""):
    names = step.costs.names
    i, j = names.index("attn_score" + suffix), names.index("attn_context" + suffix)
    return step.costs, i, j


def test_windowed_layers_read_their_window_and_full_layers_the_context():
    m = load_workload("gpt-oss-120b")
    st = model_step(m, H100, b=4, s=1, c=8192, precision=Precision.of("fp8"), parallel=Parallelism(tp=2))
    costs, i, j = _attention(st)
    _, wi, wj = _attention(st, "_swa")
    assert costs.count[i] == costs.count[wi] == 18  # half the 36 layers each
    # decode: the full layers read c + 1 keys, the windowed ones the window (128)
    assert float(costs.kv_read[i] / costs.kv_read[wi]) == pytest.approx(8193 / 128)
    assert float(costs.flops[i] / costs.flops[wi]) == pytest.approx((8192 + 1) / 128)


def test_a_model_without_a_window_keeps_one_attention_pair():
    st = model_step(load_workload("mixtral-8x7b"), H100, b=4, s=1, c=1024, parallel=Parallelism(tp=2))
    assert [n for n in st.costs.names if n.startswith("attn_s")] == ["attn_score"]


def test_prefill_of_a_windowed_layer_counts_causal_pairs_up_to_the_window():
    m = load_workload("gpt-oss-20b")
    s_ = 1024
    st = model_step(m, H100, b=1, s=s_, c=0, precision=Precision.of("bf16"))
    costs, i, _ = _attention(st)
    _, wi, _ = _attention(st, "_swa")
    full_pairs = s_ * (s_ + 1) / 2
    windowed_pairs = s_ * min((s_ + 1) / 2, 128)  # mean keys per query, capped at the window
    assert float(costs.flops[i] / costs.flops[wi]) == pytest.approx(full_pairs / windowed_pairs)


def test_the_window_makes_long_context_decode_faster_only_by_the_attention_it_saves():
    m = load_workload("gpt-oss-120b")
    kw = dict(b=64, s=1, c=np.array([1024.0, 16384.0]), precision=Precision.of("fp8"), parallel=Parallelism(tp=2))
    windowed = np.asarray(model_step(m, H100, **kw).latency)
    full = np.asarray(model_step(replace(m, sliding_window=0), H100, **kw).latency)
    assert np.all(windowed < full)
    assert (full - windowed)[1] > 5 * (full - windowed)[0]  # the saving grows with the context
