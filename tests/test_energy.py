"""Energy per step and per token: hand-derived per-operator energies, links, offload, device-file
overrides, schema errors, and physical bounds across every device model."""
from pathlib import Path

import numpy as np
import pytest

from accelerators import ConfigError, load_device
from archmodel.energy import default_figures, energy_figures, node_scale, step_energy
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.serve import serve
from archmodel.step import DEVICE_MODELS, model_step
from archmodel.workloads import load_workload

FP16 = Precision.of("fp16")
GPU_SCALE = (7 / 45) * (0.75 / 0.9) ** 2  # C V^2 from Horowitz's 45 nm / 0.9 V to 7 nm / 0.75 V


@pytest.fixture(scope="module")
def llama():
    return load_workload("llama-2-7b")


def _op(energy, step, name):
    i = step.costs.index(name)
    return float(energy.compute[i]), float(energy.memory[i]), float(energy.link[i])


def test_a_kind_without_energy_defaults_is_an_error_not_gpu_figures():
    # Before issue 11 an unknown kind silently took the GPU's 7 nm figures.
    with pytest.raises(ConfigError) as raised:
        default_figures("tpu")
    assert raised.value.field == "kind" and raised.value.value == "tpu"
    assert "gpu" in str(raised.value.allowed) and "fpga" in str(raised.value.allowed)
    device = load_device("h100-sxm").model_copy(update={"kind": "tpu"})
    with pytest.raises(ConfigError):
        energy_figures(device)


def test_node_scaling_rule_and_horowitz_macs():
    assert node_scale("gpu") == pytest.approx(0.108025, rel=1e-5)
    assert node_scale("fpga") == pytest.approx((16 / 45) * (0.85 / 0.9) ** 2)
    d = default_figures("npu")
    # FP16 MAC = 1.1 pJ multiply + 0.9 pJ FP32 add = 2.0 pJ per 2 operations; INT8 = 0.2 + 0.1 (INT32 add).
    assert d["matrix"]["fp16"] == pytest.approx(1.0e-12 * GPU_SCALE)
    assert d["matrix"]["int8"] == pytest.approx(0.15e-12 * GPU_SCALE)
    assert d["matrix"]["int8"] / d["matrix"]["bf16"] == pytest.approx(0.15)
    assert d["memory"]["hbm"] == pytest.approx(3.9e-12) and d["memory"]["ddr"] == pytest.approx(20e-12)
    assert d["memory"]["sram"] == pytest.approx(100 / 64 * GPU_SCALE * 1e-12)  # 1 MB array, 64-bit read
    assert d["links"]["scale_up"] == pytest.approx(5.5e-12)


def test_gemm_energy_by_hand_on_a100(llama):
    """Llama-2-7B decode, batch 4, fp16: qkv_proj does 2 x 4 x 4,096 x 12,288 = 402,653,184 FLOPs and
    moves 100,663,296 B of weights + 32,768 in + 98,304 out + 65,536 of new K/V; the A100's file
    gives HBM 3.9 pJ/bit, the arithmetic is the GPU default (1.0 pJ/FLOP at 45 nm, node-scaled)."""
    a100 = load_device("a100-sxm-80g")
    step = model_step(llama, a100, b=4, s=1, c=128, precision=FP16)
    energy = step_energy(step, a100, FP16)
    compute, memory, link = _op(energy, step, "qkv_proj")
    assert compute == pytest.approx(402_653_184 * 1.0e-12 * GPU_SCALE)
    assert memory == pytest.approx(8 * (100_663_296 + 32_768 + 98_304 + 65_536) * 3.9e-12)
    assert link == 0.0
    # The step is the operators x their counts; no static power without a figure.
    assert float(energy.total_j) == pytest.approx(float(energy.by_op().sum()))
    assert float(energy.static_j) == 0.0
    assert "static_power (not modelled)" in energy.figures.defaulted
    assert "memory.hbm" not in energy.figures.defaulted and "matrix.fp16" in energy.figures.defaulted


def test_int8_costs_less_arithmetic_and_half_the_weight_traffic(llama):
    h100 = load_device("h100-sxm")
    kw = dict(b=64, s=1, c=1024)
    e16 = step_energy(model_step(llama, h100, precision=FP16, **kw), h100, FP16)
    int8 = Precision.of("int8")
    step8 = model_step(llama, h100, precision=int8, **kw)
    e8 = step_energy(step8, h100, int8)
    i = step8.costs.index("ffn_up")
    assert float(e8.compute[i]) == pytest.approx(0.15 * float(e16.compute[i]))
    weights_bits_16 = 8 * 4096 * 11008 * 2
    assert float(e8.memory[i]) < 0.55 * float(e16.memory[i]) and float(e16.memory[i]) > weights_bits_16 * 3.9e-12


def test_collectives_cross_the_link_as_often_as_the_topology_says(llama):
    """H100 tp=8 all-reduce: 2 x 7/8 of the bytes on the wire, through an NVSwitch (2 SerDes links);
    CloudMatrix384's UB is a two-tier Clos: 4 traversals for the all-to-all."""
    h100 = load_device("h100-sxm")
    par = Parallelism(tp=8)
    step = model_step(llama, h100, b=8, s=1, c=512, precision=FP16, parallel=par)
    energy = step_energy(step, h100, FP16, par)
    i = step.costs.index("attn_allreduce")
    assert float(energy.link[i]) == pytest.approx(8 * float(step.costs.comm[i]) * 2 * 7 / 8 * 5.5e-12 * 2)
    v3, cm = load_workload("qwen3-30b-a3b"), load_device("cloudmatrix384")
    par = Parallelism(tp=1, ep=8, dp=8)
    step = model_step(v3, cm, b=32, s=1, c=512, precision=Precision.of("bf16"), parallel=par)
    energy = step_energy(step, cm, Precision.of("bf16"), par)
    j = step.costs.index("moe_dispatch")
    assert float(energy.link[j]) == pytest.approx(8 * float(step.costs.comm[j]) * 5.5e-12 * 4)


def test_offloaded_weights_pay_host_dram_and_the_host_link():
    """Llama-3.3-70B fp16 (141 GB) on one 80 GB A100 streams its weights from the host: DDR 20 pJ/bit
    plus one PCIe traversal 5.5 pJ/bit; activations stay in HBM at 3.9 pJ/bit."""
    model, a100 = load_workload("llama-3.3-70b"), load_device("a100-sxm-80g")
    step = model_step(model, a100, b=1, s=1, c=128, precision=FP16)
    assert step.weight_tier == "host"
    energy = step_energy(step, a100, FP16)
    i = step.costs.index("o_proj")
    c = step.costs
    acts = float(c.act_in[i] + c.act_out[i] + c.kv_read[i] + c.kv_write[i])
    assert float(energy.memory[i]) == pytest.approx(8 * (float(c.weights[i]) * 25.5e-12 + acts * 3.9e-12))


def _user_file(tmp_path: Path, energy: str, cite: bool = True) -> Path:
    text = ("name: my-a100\nextends: a100-sxm-80g\n" + energy +
            ("sources: {energy: my lab's measurement}\n" if cite else ""))
    path = tmp_path / "my-a100.yaml"
    path.write_text(text)
    return path


def test_device_file_figures_override_the_defaults_and_static_power_counts(tmp_path, llama):
    path = _user_file(tmp_path, "energy:\n  matrix: {fp16: 0.5 pJ}\n  static_power: 60 W\n")
    device = load_device(path)
    fig = energy_figures(device)
    assert fig.matrix["fp16"] == pytest.approx(0.5e-12)
    assert fig.memory["hbm"] == pytest.approx(3.9e-12)  # inherited from the A100's file
    assert "matrix.fp16" not in fig.defaulted and not any(f.startswith("static") for f in fig.defaulted)
    step = model_step(llama, device, b=4, s=1, c=128, precision=FP16)
    energy = step_energy(step, device, FP16)
    assert float(energy.static_j) == pytest.approx(60 * float(step.latency))
    assert float(energy.compute[step.costs.index("qkv_proj")]) == pytest.approx(402_653_184 * 0.5e-12)


@pytest.mark.parametrize("energy,field", [
    ("energy:\n  memory: {ddr: 20 pJ/bit}\n", "energy.memory.ddr"),  # the A100 has no DDR tier
    ("energy:\n  memory: {hbm: 4 pJ}\n", "energy.memory.hbm"),  # an energy per op where per bit is due
    ("energy:\n  links: {fabric: 5 pJ/bit}\n", "energy.links.fabric"),
])
def test_bad_energy_fields_name_the_field(tmp_path, energy, field):
    with pytest.raises(ConfigError) as caught:
        load_device(_user_file(tmp_path, energy))
    assert caught.value.field == field and "my-a100.yaml" in str(caught.value)


def test_uncited_energy_figure_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_device(_user_file(tmp_path, "energy:\n  static_power: 50 W\n", cite=False))
    assert caught.value.field == "energy.static_power"


MODELLED = ["a100-sxm-80g", "h100-sxm", "mi300x", "ascend-910b", "duplex", "sn40l-node"]


def test_every_kind_has_a_model():
    assert {load_device(name).kind for name in MODELLED} | {"fpga"} <= set(DEVICE_MODELS)


@pytest.mark.parametrize("name", MODELLED)
def test_every_device_model_gets_energy_and_never_exceeds_tdp(name):
    """Generic over device models (GPU roofline, NPU, PIM, RDU): a compute-bound prefill and a
    memory-bound decode both have positive energy, and average power (energy / latency) below the
    TDP wherever the file gives one, as a physical device must."""
    model, device = load_workload("mixtral-8x7b"), load_device(name)
    par = Parallelism.for_devices(max(device.chips, 2))  # Mixtral (93 GB) needs two 64 GB 910Bs
    for b, s, c in ((4, 2048, 0), (64, 1, 2048)):
        step = model_step(model, device, b=b, s=s, c=c, precision=Precision.of("bf16"), parallel=par)
        energy = step_energy(step, device, Precision.of("bf16"), par)
        total = float(energy.total_j)
        assert np.isfinite(total) and total > 0
        assert float(energy.compute_j) > 0 and float(energy.memory_j) > 0
        if device.power is not None:
            assert total / float(step.latency) < device.power.tdp


def test_energy_grows_with_work(llama):
    """Twice the sequences in a prefill: exactly twice the arithmetic, the weights read once."""
    h100 = load_device("h100-sxm")
    e1 = step_energy(model_step(llama, h100, b=2, s=512, c=0, precision=FP16), h100, FP16)
    e2 = step_energy(model_step(llama, h100, b=4, s=512, c=0, precision=FP16), h100, FP16)
    assert float(e2.compute_j) == pytest.approx(2 * float(e1.compute_j))
    assert float(e1.memory_j) < float(e2.memory_j) < 2 * float(e1.memory_j)


def test_serve_energy_per_token_is_the_steps_energy_over_tokens(llama):
    """8 sequences, ISL 128 / OSL 16, two devices (tp=2): every device runs the prefill and the 15
    decode steps; energy per output token = 2 x (prefill + decodes) / (8 x 16)."""
    h100 = load_device("h100-sxm")
    par = Parallelism(tp=2)
    r = serve(llama, h100, isl=128, osl=16, batch=8, precision=FP16, parallel=par)
    pre = step_energy(model_step(llama, h100, b=8, s=128, c=0, precision=FP16, parallel=par), h100, FP16, par)
    dec = step_energy(model_step(llama, h100, b=8, s=1, c=128 + np.arange(15.0), precision=FP16, parallel=par),
                      h100, FP16, par)
    expected = 2 * (float(pre.dynamic_j) + float(dec.dynamic_j.sum())) / (8 * 16)
    assert r.energy_j_per_token == pytest.approx(expected)
    data = r.to_json()
    assert data["energy_j_per_token"] == pytest.approx(expected)
    assert "static_power (not modelled)" in data["energy_defaults"]


def test_fpga_steps_get_energy_from_the_u280_file():
    """The FPGA model's operators (its own unit labels) are charged by tier: weights kept in the
    U280's DDR4 at 20 pJ/bit, activations in its HBM at 5 pJ/bit (the file's cited figures)."""
    u280 = load_device("alveo-u280")
    int8 = Precision.of("int8")
    step = model_step(load_workload("qwen3-30b-a3b"), u280, b=8, s=1, c=512, precision=int8)
    energy = step_energy(step, u280, int8)
    c = step.costs
    in_ddr = [i for i, tier in enumerate(step.times.tiers) if tier == "ddr"]
    assert in_ddr
    for i in in_ddr:
        acts = float(c.act_in[i] + c.act_out[i] + c.kv_read[i] + c.kv_write[i])
        assert float(energy.memory[i]) == pytest.approx(8 * (float(c.weights[i]) * 20e-12 + acts * 5e-12))
    assert float(energy.total_j) / float(step.latency) < u280.power.tdp
