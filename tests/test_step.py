"""The two compiled views of a device model agree, and the step behaves as the mechanisms say."""
from dataclasses import fields

import numpy as np
import pytest

from accelerators.catalog import load_device
from accelerators.schema import kind_names
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.routing import Routing
from archmodel.devices.args import DeviceArgs
from archmodel.devices.gpu import DEVICE_SYMBOLS
from archmodel.devices.pim import PIM_SYMBOLS
from archmodel.devices import device_kinds
from archmodel.step import DEVICE_MODELS, device_model, model_step, step_latency
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


def test_weights_that_do_not_fit_stream_from_host():
    """Mixtral-8x7B bf16 (93 GB) on one A100 80GB: the weights are offloaded and every decode step
    reads what it uses over PCIe Gen4 (32 GB/s x 0.88 streaming efficiency). At batch 1 that is the
    active parameters less the embedding table (one row is gathered):
    (12.88e9 - 32000 x 4096) x 2 B = 25.5 GB -> 0.905 s per token."""
    from archmodel.serve import serve
    model, dev = load_workload("mixtral-8x7b"), load_device("a100-sxm-80g")
    r = serve(model, dev, isl=128, osl=4, batch=1)
    assert r.weight_tier == "host"
    expected = (model.active_params() - 32000 * 4096) * 2 / (32e9 * 0.88)
    assert r.tpot_s == pytest.approx(expected, rel=0.02)


def test_fixed_batch_that_does_not_fit_is_rejected():
    from accelerators.errors import ConfigError
    from archmodel.serve import serve
    model, dev = load_workload("llama-2-7b"), load_device("a100-sxm-80g")
    with pytest.raises(ConfigError, match="sequences of 4096 tokens fit"):
        serve(model, dev, isl=2048, osl=2048, batch=4096)


@pytest.mark.parametrize("kind,device", [("gpu", "h100-sxm"), ("npu", "ascend-910c"), ("pim", "duplex"),
                                         ("fpga", "alveo-u280")])
def test_device_args_are_named_one_field_per_device_symbol(kind, device):
    dev = load_device(device)
    dm = device_model(load_workload("mixtral-8x7b"), kind)
    args = dm.device_args(dev, Precision.of("bf16"), Parallelism())
    assert isinstance(args, DeviceArgs)
    symbols = DEVICE_SYMBOLS + PIM_SYMBOLS if kind == "pim" else dm.device_symbols
    assert len(fields(args)) == len(symbols) == len(tuple(args))
    assert tuple(args) == args.values()
    if kind == "fpga":
        assert args.clock == dev.fpga.clock and args.rows >= 1 and args.cols >= args.rows
    else:  # the fields the compiled expressions take positionally hold what their names say
        assert (args.units, args.tile_m, args.tile_n) == (dev.compute.units, *dev.compute.tile)
    if kind == "npu":
        assert args.dies == dev.npu.dies == 2


def test_every_device_kind_has_a_model_and_energy_defaults():
    assert set(DEVICE_MODELS) == set(kind_names()) == set(device_kinds())
    assert all(kind.model is DEVICE_MODELS[name] for name, kind in device_kinds().items())
