"""FPGAModel for the operator table: registration, contract GEMM cycles, decode on the kernel's array."""
from __future__ import annotations

import pytest

from accelerators.catalog import load_device
from archmodel.fpga.device_model import FPGAModel, macs_per_dsp
from archmodel.precision import Precision
from archmodel.step import DEVICE_MODELS, model_step, stored_weight_bytes
from archmodel.parallel import Parallelism
from archmodel.workloads import load_workload

INT8 = Precision.of("int8")


def test_registered_for_fpga_kind() -> None:
    assert DEVICE_MODELS["fpga"] is FPGAModel


def test_macs_per_dsp_by_dtype() -> None:
    u280, vck = load_device("alveo-u280").fpga, load_device("versal-vck190").fpga
    assert macs_per_dsp(u280, "int8") == 2 and macs_per_dsp(vck, "int8") == 3
    assert macs_per_dsp(u280, "bf16") == 1 and macs_per_dsp(u280, "fp32") == 0.5
    assert macs_per_dsp(vck, "fp32") == 1


def test_gemm_cycles_follow_the_pe_contract() -> None:
    model, dev = load_workload("llama-3.1-8b"), load_device("alveo-u280")
    # int8 on the U280: 2 MACs per DSP -> a 128 x 128 array at 300 MHz
    prefill = model_step(model, dev, b=1, s=2048, c=0, precision=INT8)
    i = prefill.costs.index("qkv_proj")
    # M=2048, N=(32+2*8)*128=6144, K=4096, output-stationary (the kernel's array): 16*48 tiles ->
    # 767*4096 + 4096 + 129 = 3,145,857 cycles
    assert float(prefill.times.compute[i]) == pytest.approx(3_145_857 / 300e6, rel=1e-12)
    decode = model_step(model, dev, b=1, s=1, c=1024, precision=INT8)
    # one token uses 1 row of 128: 48 tiles x 4096 beats -> 47*4096 + 4096 + 129 = 196,737
    assert float(decode.times.compute[i]) == pytest.approx(196_737 / 300e6, rel=1e-12)


def test_decode_on_the_kernel_array_is_compute_bound() -> None:
    """The weights stream from HBM, but one token fills one PE row: every weight byte takes
    1/C cycles of the array against 1/(460e9/300e6) of the HBM, ratio 1533/128 = 11.98."""
    model, dev = load_workload("llama-3.1-8b"), load_device("alveo-u280")
    step = model_step(model, dev, b=1, s=1, c=1024, precision=INT8)
    assert step.weight_tier == "hbm" and step.bottleneck() == "compute"
    # the weights a step reads (all but the embedding table, of which one row per token)
    read = float((step.costs.count * step.costs.weights).sum())
    assert read == pytest.approx(stored_weight_bytes(model, INT8, Parallelism()) - 128256 * 4096 + 4096, rel=1e-9)
    assert float(step.latency) / (read / 460e9) == pytest.approx(460e9 / 300e6 / 128, rel=0.03)


def test_ddr_only_part_and_big_model_offload() -> None:
    step = model_step(load_workload("gpt2-medium"), load_device("versal-vck190"), b=4, s=1, c=256, precision=INT8)
    assert step.weight_tier == "ddr" and float(step.latency) > 0
    big = model_step(load_workload("mixtral-8x7b"), load_device("alveo-u280"), b=1, s=1, c=256, precision=INT8)
    assert big.weight_tier == "host"   # 47 GB of int8 weights do not fit 8 GiB of HBM
    assert set(big.times.units) <= {"pe", "fabric", "link"}
