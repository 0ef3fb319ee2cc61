"""Disaggregated serving at a client concurrency (archmodel.serving.disagg)."""
from __future__ import annotations

import pytest

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.serving.disagg import PhasePool, erlang_c, simulate_disaggregated
from archmodel.step import model_step
from archmodel.workloads import load_workload

H100 = load_device("h100-sxm")
QWEN = load_workload("qwen3-32b")
FP8 = Precision.of("fp8")


def _run(concurrency, prefill_workers=2, decode_workers=2, max_batch=None, isl=2048, osl=256):
    return simulate_disaggregated(QWEN, H100, isl=isl, osl=osl, concurrency=concurrency, precision=FP8,
                                  prefill=PhasePool(prefill_workers, Parallelism(tp=1)),
                                  decode=PhasePool(decode_workers, Parallelism(tp=2), max_batch))


def test_erlang_c_known_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)      # M/M/1: the wait probability is rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)    # (a^c/c!)(c/(c-a)) / (sum + that) = 1 / 3
    assert erlang_c(4, 0.0) == 0.0 and erlang_c(4, 4.0) == 1.0


@pytest.mark.parametrize("concurrency", [1, 16, 200, 2000])
def test_the_closed_loop_obeys_littles_law(concurrency):
    r = _run(concurrency)
    cycle = r.ttft_s + (r.osl - 1) * r.tpot_s
    assert r.requests_per_s * cycle == pytest.approx(concurrency, rel=1e-3)
    assert r.ttft_s >= r.prefill_s + r.transfer_s - 1e-12


def test_one_client_sees_one_prefill_and_the_batch_one_decode():
    r = _run(1)
    prefill = float(model_step(QWEN, H100, b=1, s=2048, c=0, precision=FP8, parallel=Parallelism(tp=1)).latency)
    assert r.prefill_s == pytest.approx(prefill)
    assert r.queue_s < 1e-3 * prefill and r.bound == "clients"
    decode = float(model_step(QWEN, H100, b=1, s=1, c=2048 + 127, precision=FP8, parallel=Parallelism(tp=2)).latency)
    assert r.tpot_s == pytest.approx(decode, rel=0.02)


def test_a_small_prefill_pool_binds_and_the_clients_wait_for_it():
    r = _run(2000, prefill_workers=1, decode_workers=8)
    assert r.bound == "prefill"
    assert r.requests_per_s == pytest.approx(1 / r.prefill_s, rel=1e-6)
    assert r.queue_s > 10 * r.prefill_s


def test_a_batch_cap_binds_the_decode_pool():
    r = _run(400, prefill_workers=8, decode_workers=1, max_batch=32)
    assert r.bound == "decode_slots" and r.decode_batch == pytest.approx(32)
    assert r.requests_per_s == pytest.approx(32 / (255 * r.tpot_s), rel=1e-6)


def test_more_clients_more_throughput_until_a_pool_binds():
    rates = [_run(c).output_tokens_per_s for c in (1, 8, 64)]
    assert rates[0] < rates[1] < rates[2]


def test_bad_input_names_the_field():
    with pytest.raises(ConfigError, match="concurrency"):
        _run(0)
    with pytest.raises(ConfigError, match="pool.workers"):
        PhasePool(0, Parallelism())
