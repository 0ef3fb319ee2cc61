"""The in-flight-batching simulation against hand-derived schedules."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from archmodel.mixed import mixed_step
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.serving import SOURCES, UNCONFIRMED, PRESETS, engine_capacity, engine_preset, kv_pool, simulate
from archmodel.workloads import load_workload


@pytest.fixture(scope="module")
def llama():
    return load_workload("llama-3.1-8b")


@pytest.fixture(scope="module")
def h100():
    return load_device("h100-sxm")


def test_every_preset_figure_has_a_source():
    for name, preset in PRESETS.items():
        assert set(SOURCES[name]) == set(preset.to_json()) - {"name"}
        assert set(UNCONFIRMED[name]) <= set(SOURCES[name])
    with pytest.raises(ConfigError, match="allowed: trtllm, vllm, sglang"):
        engine_preset("tgi")
    with pytest.raises(ConfigError, match="max_num_tokens"):
        engine_preset("vllm").with_limits(max_num_tokens=0)


def test_one_request_alone(llama, h100):
    """TTFT is its one prefill step; TPOT the decode step at its growing context."""
    r = simulate(llama, h100, isl=512, osl=4, engine=engine_preset("vllm"), concurrency=1, requests=1)
    prefill = float(mixed_step(llama, h100, 1, 512, 0, 0).latency)
    decodes = mixed_step(llama, h100, 0, 0, 1, np.array([512.0, 513.0, 514.0])).latency
    assert r.ttft_s == pytest.approx(prefill)
    assert r.tpot_s == pytest.approx(float(np.mean(decodes)))
    assert r.steps == 4


def test_chunking_splits_a_long_prompt(llama, h100):
    """A prompt of 1000 tokens under max_num_tokens 256 takes ceil(1000/256) = 4 steps to first token."""
    engine = engine_preset("vllm").with_limits(max_num_tokens=256)
    r = simulate(llama, h100, isl=1000, osl=2, engine=engine, concurrency=1, requests=1)
    chunks = [(256, 0), (256, 256), (256, 512), (232, 768)]
    expect = sum(float(mixed_step(llama, h100, 1, t, 0, 0, prefill_context=c).latency) for t, c in chunks)
    assert r.steps == math.ceil(1000 / 256) + 1
    assert r.ttft_s == pytest.approx(expect)


def test_unchunked_prompt_must_fit(llama, h100):
    engine = engine_preset("trtllm").with_limits(max_num_tokens=512)
    with pytest.raises(ConfigError, match="prompt length 1000"):
        simulate(llama, h100, isl=1000, osl=2, engine=engine, concurrency=1, requests=1)


def test_concurrency_above_max_batch_size_queues(llama, h100):
    """Four clients, two slots: the second pair waits for the first pair's whole run."""
    engine = engine_preset("trtllm").with_limits(max_batch_size=2)
    alone = simulate(llama, h100, isl=128, osl=8, engine=engine, concurrency=2, requests=2)
    r = simulate(llama, h100, isl=128, osl=8, engine=engine, concurrency=4, requests=12)
    assert r.bound == "max_batch_size"
    assert r.mean_batch <= 2
    # Queued requests wait roughly one whole request's run before their prefill.
    assert r.ttft_s > alone.ttft_s + 6 * alone.tpot_s
    free = simulate(llama, h100, isl=128, osl=8, engine=engine_preset("trtllm"), concurrency=4, requests=12)
    assert free.bound == "concurrency"
    assert free.ttft_s < r.ttft_s


def test_kv_blocks_bound_the_batch(llama, h100):
    """A memory fraction that leaves KV blocks for about three sequences caps the batch at three."""
    base = engine_preset("trtllm")
    pool = kv_pool(llama, h100, *_defaults(), base)
    seq_tokens = 2048 + 64
    per_seq_bytes = math.ceil(seq_tokens / base.kv_block_tokens) * base.kv_block_tokens * pool.bytes_per_token
    free = pool.kv_bytes / base.memory_fraction
    engine = base.with_limits(memory_fraction=3.5 * per_seq_bytes / free)
    assert kv_pool(llama, h100, *_defaults(), engine).blocks // math.ceil(seq_tokens / base.kv_block_tokens) == 3
    r = simulate(llama, h100, isl=2048, osl=64, engine=engine, concurrency=8, requests=40)
    assert r.bound == "kv_memory"
    assert r.mean_batch <= 3 + 1e-9
    with pytest.raises(ConfigError, match="fits the engine's KV cache"):
        simulate(llama, h100, isl=2048, osl=64, engine=base.with_limits(memory_fraction=1e-4), concurrency=1)


def test_a_sliding_window_layer_holds_only_its_window(h100):
    """gpt-oss-120b: 18 of 36 layers attend over the last 128 tokens, so a long sequence holds about
    half the blocks it would with full attention everywhere, and the engine admits about twice as many."""
    gpt = load_workload("gpt-oss-120b")
    full = dataclasses.replace(gpt, sliding_window=0, sliding_window_layers=())
    engine, precision, parallel = engine_preset("vllm"), Precision.of("fp8"), Parallelism(tp=2)
    pool = kv_pool(gpt, h100, precision, parallel, engine)
    blk = engine.kv_block_tokens
    assert pool.window_share == 0.5 and pool.window == 128
    assert pool.blocks_for(8192) == 0.5 * (8192 / blk) + 0.5 * (128 / blk + 1)
    assert pool.blocks_for(64) == math.ceil(64 / blk)                     # within the window: every block
    assert kv_pool(full, h100, precision, parallel, engine).blocks_for(8192) == 8192 / blk
    windowed = engine_capacity(gpt, h100, precision, parallel, engine.with_limits(max_batch_size=None), 4096, 4096)
    dense = engine_capacity(full, h100, precision, parallel, engine.with_limits(max_batch_size=None), 4096, 4096)
    assert windowed.limit == dense.limit == "kv_memory"
    assert 1.9 < windowed.requests / dense.requests < 2.0


def _defaults():
    return Precision(), Parallelism()


def test_sglang_alternates_prefill_and_decode(llama, h100):
    """Two clients, prompts of 1024 under a 1024-token step, 3 output tokens each.
    Mixed steps (vLLM): A's prefill; A decodes + 1023 tokens of B; A decodes (done) + B's last token;
    B decodes twice: 5 steps. Split steps (SGLang): A's prefill; B's prefill; two decode steps of both: 4."""
    kw = dict(isl=1024, osl=3, concurrency=2, requests=2)
    mixed = simulate(llama, h100, engine=engine_preset("vllm").with_limits(max_num_tokens=1024), **kw)
    split = simulate(llama, h100, engine=engine_preset("sglang").with_limits(max_num_tokens=1024), **kw)
    assert (mixed.steps, split.steps) == (5, 4)


def test_steady_state_throughput_matches_littles_law(llama, h100):
    r = simulate(llama, h100, isl=256, osl=64, engine=engine_preset("vllm"), concurrency=16, requests=400)
    per_request = r.ttft_s + (r.osl - 1) * r.tpot_s
    assert r.output_tokens_per_s == pytest.approx(16 * r.osl / per_request, rel=0.05)
    assert set(r.to_json()) >= {"ttft_s", "tpot_s", "output_tokens_per_s", "bound", "bound_steps"}


def test_open_loop_at_a_low_rate_sees_no_queue(llama, h100):
    alone = simulate(llama, h100, isl=256, osl=16, engine=engine_preset("vllm"), concurrency=1, requests=1)
    r = simulate(llama, h100, isl=256, osl=16, engine=engine_preset("vllm"), rate=0.05, requests=50)
    assert r.converged
    # Most requests find the engine idle (TTFT = one prefill step); a few Poisson arrivals overlap.
    assert alone.ttft_s <= r.ttft_s < 1.1 * alone.ttft_s
    busy = simulate(llama, h100, isl=256, osl=16, engine=engine_preset("vllm"), rate=50.0, requests=200)
    assert busy.ttft_s > r.ttft_s and busy.tpot_s > r.tpot_s


def test_bad_arguments(llama, h100):
    with pytest.raises(ConfigError, match="exactly one"):
        simulate(llama, h100, isl=8, osl=8, engine=engine_preset("vllm"))
    with pytest.raises(ConfigError, match="isl"):
        simulate(llama, h100, isl=0, osl=8, engine=engine_preset("vllm"), concurrency=1)
