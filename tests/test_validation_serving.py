"""The serving model against measured hardware (TensorRT-LLM, A100 SXM 80G, LLaMA-7B FP16, TP1).

Tolerances, and why:
* throughput rows: mean absolute error <= 20% (the issue's target) and every row within 20%:
  the rows are dominated by weight and KV streaming and large prefill GEMMs, which the roofline
  with measured device efficiencies captures; what it misses (scheduler gaps, unfused kernels)
  is a few percent per step.
* TTFT at ISL 2048 (compute-bound prefill): within 15%.
* TTFT at ISL 128, batch 1: M = 128 sits at the A100's ridge point (153 Op/B), where a GEMM reaches
  neither its compute nor its bandwidth bound and max(compute, memory) assumes perfect overlap;
  we assert the known direction (the model is optimistic) and that it is within a factor 2.
* A plain roofline (no efficiencies) over-estimates every throughput row, as the papers report.
"""
from pathlib import Path

import pytest

from accelerators.catalog import load_device
from archmodel.validation import evaluate_rows, plain_roofline

GOLDEN = Path(__file__).parent / "golden" / "trtllm-a100-llama2-7b.csv"


@pytest.fixture(scope="module")
def rows():
    return evaluate_rows(GOLDEN, "llama-2-7b", "a100-sxm-80g", "fp16")


def test_throughput_mean_absolute_error(rows):
    thr = [r for r in rows if r.metric == "throughput"]
    assert len(thr) == 4
    mae = sum(abs(r.error) for r in thr) / len(thr)
    assert mae <= 0.20, [(r.batch, r.isl, r.osl, f"{r.error:+.1%}") for r in thr]
    for r in thr:
        assert abs(r.error) <= 0.20, (r.batch, r.isl, r.osl, r.error)


def test_ttft(rows):
    ttft = {r.isl: r for r in rows if r.metric == "ttft_ms"}
    assert abs(ttft[2048].error) <= 0.15
    assert 0.5 * ttft[128].measured <= ttft[128].modelled < ttft[128].measured


def test_plain_roofline_is_optimistic():
    plain = evaluate_rows(GOLDEN, "llama-2-7b", "a100-sxm-80g", "fp16",
                          device_override=plain_roofline(load_device("a100-sxm-80g")))
    for r in plain:
        if r.metric == "throughput":
            assert r.modelled > 1.2 * r.measured
