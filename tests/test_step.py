"""The two compiled views of a device model agree, and the step behaves as the mechanisms say."""
import numpy as np
import pytest

from accelerators.catalog import load_device
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.routing import Routing
from archmodel.step import model_step, step_latency
from archmodel.workloads import load_workload


@pytest.mark.parametrize("device,parallel", [("h100-sxm", Parallelism(tp=2)), ("a100-sxm-80g", Parallelism(tp=4, ep=4)),
                                             ("ascend-910c", Parallelism(tp=1))])
def test_sweep_path_equals_per_operator_path(device, parallel):
    model, dev = load_workload("mixtral-8x7b"), load_device(device)
    b = np.array([1.0, 16, 128, 512])
    c = np.array([128.0, 4096, 777, 32768])
    for precision in (Precision.of("bf16"), Precision.of("int8")):
        fast = step_latency(model, dev, b=b, s=1, c=c, precision=precision, parallel=parallel)
        slow = model_step(model, dev, b=b, s=1, c=c, precision=precision, parallel=parallel).latency
        np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_decode_step_is_weight_streaming_at_batch_one():
    """Llama-2-7B fp16 on A100 at batch 1: the step is the weights read at the achievable bandwidth
    plus launches (13.5 GB / (2039 GB/s x 0.88) = 7.5 ms)."""
    model, dev = load_workload("llama-2-7b"), load_device("a100-sxm-80g")
    step = model_step(model, dev, b=1, s=1, c=16, precision=Precision.of("fp16"))
    weights = 6.476e9 * 2  # GEMM weights (embedding gather is per token, lm_head counted)
    floor = weights / (2039e9 * 0.88)
    assert floor < float(step.latency) < floor * 1.25
    assert step.bottleneck() == "memory"


def test_more_bandwidth_never_slower():
    model = load_workload("mixtral-8x7b")
    a, b = load_device("h100-sxm"), load_device("h200-sxm")  # same compute, 4.8 vs 3.35 TB/s
    for batch in (1, 32, 256):
        ta = float(model_step(model, a, b=batch, s=1, c=2048, parallel=Parallelism(tp=2)).latency)
        tb = float(model_step(model, b, b=batch, s=1, c=2048, parallel=Parallelism(tp=2)).latency)
        assert tb <= ta


def test_skewed_routing_reads_fewer_expert_weights():
    model, dev = load_workload("qwen3-30b-a3b"), load_device("h100-sxm")
    uni = model_step(model, dev, b=8, s=1, c=1024)
    skew = model_step(model, dev, b=8, s=1, c=1024, routing=Routing("zipf", 1.2))
    i = uni.costs.index("expert_up")
    assert skew.costs.weights[i] < uni.costs.weights[i]
