"""FP4 formats (NVFP4, MXFP4) and the Blackwell / CDNA 3-4 devices that run them."""
from __future__ import annotations

import pytest

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from archmodel.precision import Precision, dtype_bytes
from archmodel.parallel import Parallelism
from archmodel.step import model_step as step
from archmodel.workloads import load_workload


def test_block_scaled_formats_count_their_scales():
    # E2M1 elements plus an FP8 scale per 16 (NVFP4) or an E8M0 scale per 32 (MXFP4)
    assert dtype_bytes("nvfp4") == pytest.approx(4.5 / 8)
    assert dtype_bytes("mxfp4") == pytest.approx(4.25 / 8)


@pytest.mark.parametrize("dtype, compute, activations", [
    ("nvfp4", "fp4", "fp8"),    # W4A4 on the FP4 tensor cores
    ("mxfp4", "bf16", "bf16"),  # weight-only: dequantised to the activations'
    ("int4", "bf16", "bf16"),
    ("fp8", "fp8", "fp8"),
])
def test_the_matrix_unit_runs_at_the_compute_datatype(dtype, compute, activations):
    p = Precision.of(dtype)
    assert (p.compute_dtype, p.activations) == (compute, activations)
    assert Precision(weights="mxfp4", activations="fp8").compute_dtype == "fp8"


@pytest.mark.parametrize("name, bf16, fp4, hbm_gb, hbm_tbs, domain", [
    ("b200", 2250e12, 9000e12, 180, 7.7, 8),          # HGX B200: 36 / 144 PFLOPS sparse per 8 GPUs
    ("gb200-nvl72", 2500e12, 10000e12, 186, 8.0, 72),  # NVL72: 360 / 1,440 PFLOPS sparse per 72 GPUs
    ("mi355x", 2516.6e12, 10066.3e12, 288, 8.0, 8),
])
def test_fp4_devices_match_their_datasheets(name, bf16, fp4, hbm_gb, hbm_tbs, domain):
    d = load_device(name)
    assert d.peak("bf16") == pytest.approx(bf16)
    assert d.peak("fp4") == pytest.approx(fp4)
    assert d.peak("fp8") == pytest.approx(2 * bf16)
    assert d.main_memory.capacity == pytest.approx(hbm_gb * 1e9)
    assert d.main_memory.read_bandwidth == pytest.approx(hbm_tbs * 1e12)
    assert d.interconnect.scale_up.domain == domain


def test_mi325x_is_the_mi300x_die_with_more_hbm():
    a, b = load_device("mi300x"), load_device("mi325x")
    assert a.compute == b.compute
    assert (b.main_memory.capacity, b.main_memory.read_bandwidth) == (256e9, 6e12)
    assert b.power.tdp == 1000


def test_nvfp4_is_faster_where_there_are_fp4_tensor_cores_and_refused_where_not():
    model, b200 = load_workload("mixtral-8x7b"), load_device("b200")
    fp8 = float(step(model, b200, b=256, s=1, c=1024, precision=Precision.of("fp8")).latency)
    fp4 = float(step(model, b200, b=256, s=1, c=1024, precision=Precision.of("nvfp4")).latency)
    assert fp4 < fp8  # 0.5625 vs 1 byte of weights per element, twice the matrix rate
    with pytest.raises(ConfigError, match=r"h100-sxm.*available: bf16, fp16, fp8, int8, fp32"):
        step(model, load_device("h100-sxm"), b=256, s=1, c=1024, precision=Precision.of("nvfp4"))


def test_mxfp4_weights_shrink_the_decode_step_on_hopper():
    model, h100 = load_workload("mixtral-8x7b"), load_device("h100-sxm")
    bf16 = float(step(model, h100, b=8, s=1, c=1024, parallel=Parallelism(tp=2), precision=Precision.of("bf16")).latency)
    mx = float(step(model, h100, b=8, s=1, c=1024, parallel=Parallelism(tp=2), precision=Precision.of("mxfp4")).latency)
    assert mx < 0.5 * bf16  # memory-bound decode reads ~4.25 instead of 16 bits per weight
