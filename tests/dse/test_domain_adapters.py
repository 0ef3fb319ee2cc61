"""The FPGA-kernel, Logic-PIM and RDU-CoE adapters agree with the archmodel functions they wrap,
reject invalid or over-budget designs before evaluation, and every example space runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from accelerators.catalog import load_device
from accelerators.kinds.pim import pim_bandwidth
from archmodel.coe import simulate_coe
from archmodel.fpga import make_budget
from archmodel.fpga.tasks import MoELayer, uniform_counts
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.routing import Routing
from archmodel.step import model_step
from archmodel.workloads import load_workload
from codegen.schedule import schedule_moe_layer
from dse.evaluation import evaluate_chunk
from dse.evaluators import adapter_for
from dse.job import JobSettings, run_job
from dse.space_file import load_space, parse_space

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FPGA = """
name: fpga
workload: {model: mixtral-8x7b, phase: decode, batch: 32, context: 2048}
base_device: alveo-u280
parameters:
  - {name: pe_rows, values: [4, 16, 128], agent: compute}
  - {name: pe_cols, values: [4, 16, 128], agent: compute}
  - {name: buffer_kib, values: [1024, 8192], agent: memory}
  - {name: schedule, values: [dataflow, sequential, intar], agent: schedule}
fixed: {hbm_channels: 16}
constraints: ["dsp <= 9024"]
objectives: [{metric: latency_s, goal: min}, {metric: energy_j, goal: min}]
"""


def test_fpga_metrics_are_the_schedules():
    space = parse_space(FPGA)
    design = space.design_of({"pe_rows": 16, "pe_cols": 16, "buffer_kib": 8192, "schedule": "intar"})
    (ev,) = evaluate_chunk(space, [design])
    assert ev.status == "ok" and ev.feasible
    m = load_workload("mixtral-8x7b")
    shape = MoELayer(32, m.hidden_size, m.moe.expert_intermediate_size, 8, 2, True)
    budget = make_budget("alveo-u280", 16, 16, hbm_channels=16, bram36=1820, uram=0)  # 8192 KiB / 4.5 KiB
    r = schedule_moe_layer(shape, uniform_counts(shape), budget, style="intar")
    assert ev.metrics["cycles"] == r.total_cycles and ev.metrics["latency_s"] == r.latency_s
    assert ev.metrics["dsp"] == r.resources.dsp and ev.metrics["bram36"] == r.resources.bram36
    assert ev.metrics["tokens_per_s"] == pytest.approx(32 / r.latency_s)
    assert ev.metrics["energy_j"] == pytest.approx(225.0 * r.resources.dsp / 9024 * r.latency_s)  # TDP x DSP share


def test_fpga_invalid_and_over_budget_designs_are_never_evaluated():
    space = parse_space(FPGA)
    big = space.design_of({"pe_rows": 128, "pe_cols": 128, "buffer_kib": 8192, "schedule": "intar"})
    narrow = space.design_of({"pe_rows": 4, "pe_cols": 4, "buffer_kib": 1024, "schedule": "dataflow"})
    over, invalid = evaluate_chunk(space, [big, narrow])
    assert over.status == "infeasible" and "latency_s" not in over.metrics   # array > DSPs: make_budget says no
    assert invalid.status == "infeasible" and "E <= cols" in invalid.violated[0]
    assert set(adapter_for("fpga-kernel").precheck_metrics) >= {"dsp", "lut", "bram_kib"}


def test_pim_knobs_reshape_the_device_and_metrics_follow_the_pim_model():
    space = load_space(EXAMPLES / "duplex-device.yaml")
    values = {"xpu_tflops": 500, "pim_bandwidth_multiple": 2, "pim_op_per_byte": 4, "hbm_stacks": 4, "batch": 32}
    settings = space.settings(space.design_of(values))
    adapter = adapter_for("pim")
    device = adapter.device(space.context, settings)
    base = load_device("duplex")
    assert device.peak("bf16") == pytest.approx(500e12)
    assert device.peak("fp8") / device.peak("bf16") == pytest.approx(base.peak("fp8") / base.peak("bf16"))
    assert device.tier("hbm").capacity == pytest.approx(base.tier("hbm").capacity * 4 / 5)
    assert pim_bandwidth(device) == pytest.approx(2 * device.tier("hbm").read_bandwidth)
    (ev,) = evaluate_chunk(space, [space.design_of(values)])
    step = model_step(load_workload("mixtral-8x7b"), device, b=32, s=1, c=4096, precision=Precision.of("fp8"),
                      parallel=Parallelism())
    assert ev.metrics["latency_s"] == pytest.approx(float(step.latency), rel=1e-12)


def test_more_pim_bandwidth_never_slows_decode():
    space = load_space(EXAMPLES / "duplex-device.yaml")
    base = {"xpu_tflops": 989, "pim_op_per_byte": 8, "hbm_stacks": 5, "batch": 64}
    designs = [space.design_of({**base, "pim_bandwidth_multiple": m}) for m in (1, 2, 4, 8)]
    latencies = [ev.metrics["latency_s"] for ev in evaluate_chunk(space, designs)]
    assert latencies == sorted(latencies, reverse=True) and latencies[0] > latencies[-1]


def test_coe_metrics_are_simulate_coes():
    space = load_space(EXAMPLES / "rdu-coe.yaml")
    values = {"sram_mb": 520, "hbm_gb": 64, "ddr_tb": 1.5, "sockets": 8}
    (ev,) = evaluate_chunk(space, [space.design_of(values)])
    assert ev.status == "ok"
    r = simulate_coe(load_workload("llama-2-7b"), load_device("sn40l"), experts=150, batch=8, osl=32, isl=128,
                     requests=128, devices=8, routing=Routing("zipf", 1.0))
    assert ev.metrics["tokens_per_s"] == pytest.approx(r.output_tokens_per_s, rel=1e-12)
    assert ev.metrics["switches"] == r.switches and ev.metrics["cache_slots"] == r.cache_slots
    assert ev.metrics["hbm_gb_total"] == pytest.approx(8 * 64)


def test_coe_rejects_a_ddr_too_small_for_the_experts():
    space = load_space(EXAMPLES / "rdu-coe.yaml")
    # 150 x 13.5 GB experts need ~2 TB: one socket of 0.25 TB DDR cannot hold them.
    (ev,) = evaluate_chunk(space, [space.design_of({"sram_mb": 520, "hbm_gb": 64, "ddr_tb": 0.25, "sockets": 1})])
    assert ev.status == "infeasible" and "exceed" in ev.violated[0]


@pytest.mark.parametrize("name", ["fpga-moe-kernel", "duplex-device", "rdu-coe", "npu-cluster"])
def test_every_example_finds_a_feasible_design(name, tmp_path):
    summary = run_job(EXAMPLES / f"{name}.yaml", tmp_path / "j.db", JobSettings(agent="random", seed=0, budget=12))
    assert summary.evaluations == 12 and summary.failed == 0
    assert summary.best is not None and summary.best_design is not None
