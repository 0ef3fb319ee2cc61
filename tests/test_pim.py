"""Logic-PIM (Duplex): per-operator unit choice, expert co-processing, knobs, published Op/B ranges."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from moearch.cli.main import cli
from archmodel.devices.pim import (PIM, SPLIT, SPLIT_STEPS, PIMModel, lorenz_table, operator_assignment,
                                   pim_step_latency)
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.serve import serve
from archmodel.step import device_model, model_step, operator_table, step_latency
from archmodel.workloads import load_workload

HBM = 3.35e12  # H100 SXM HBM3 read bandwidth (duplex extends h100-sxm)
MEM_EFF = 0.896  # h100-sxm efficiency.memory, shared by the Logic-PIM
LAUNCH = 4e-6  # h100-sxm efficiency.kernel_overhead
TP2 = Parallelism(tp=2)  # Mixtral-8x7B FP16 (93 GB) needs two 80 GB devices
EXPERTS = ("expert_up", "expert_gate", "expert_down")


@pytest.fixture(scope="module")
def mixtral():
    return load_workload("mixtral-8x7b")


@pytest.fixture(scope="module")
def duplex():
    return load_device("duplex")


@pytest.fixture(scope="module")
def h100():
    return load_device("h100-sxm")


def row(step, name, field="time"):
    i = step.costs.index(name)
    source = step.costs if field in ("flops", "bytes", "op_per_byte") else step.times
    return float(np.asarray(getattr(source, field))[i].reshape(-1)[0])


def test_low_opb_operator_runs_on_pim_at_four_times_the_bandwidth(mixtral, duplex):
    """Op/B << 8: the PIM wins; its time is bytes / (4 x HBM bandwidth), both sustained at the
    device's measured streaming fraction, plus the one kernel launch either unit pays."""
    step = model_step(mixtral, duplex, b=1, s=1, c=1000, parallel=TP2)
    i = step.costs.index("qkv_proj")
    # Hand count, one token, tp = 2: 16 query + 2x4 KV heads of 128 on this device, d = 4096, FP16.
    weights = 4096 * (16 + 2 * 4) * 128 * 2
    nbytes = weights + 4096 * 2 + (16 + 8) * 128 * 2 + 2 * 4 * 128 * 2
    assert row(step, "qkv_proj", "bytes") == nbytes == 25_182_208
    assert row(step, "qkv_proj", "op_per_byte") == pytest.approx(1.0, abs=0.01)
    assert step.times.units[i] == "pim"
    assert row(step, "qkv_proj", "memory") == pytest.approx(nbytes / (4 * HBM * MEM_EFF), rel=1e-12)
    assert row(step, "qkv_proj", "compute") < row(step, "qkv_proj", "memory")
    assert row(step, "qkv_proj") == pytest.approx(nbytes / (4 * HBM * MEM_EFF) + LAUNCH, rel=1e-12)
    assert row(step, "qkv_proj") == pytest.approx(6.0974e-6, rel=1e-4)


def test_gqa_decode_attention_runs_on_the_pim(mixtral, duplex):
    """Duplex: GQA attention has Op/B 4-8 (Mixtral: 32 query heads over 8 KV heads -> 4); below the
    PIM's 8 Op/B it is memory-bound there, at 4x the xPU's bandwidth."""
    step = model_step(mixtral, duplex, b=64, s=1, c=2048, parallel=TP2)
    for name in ("attn_score", "attn_context"):
        i = step.costs.index(name)
        assert 3.9 < row(step, name, "op_per_byte") <= 4.0
        assert step.times.units[i] == "pim"
        assert row(step, name, "memory") == pytest.approx(row(step, name, "bytes") / (4 * HBM * MEM_EFF), rel=1e-12)


def test_high_opb_operator_runs_on_the_xpu_with_the_roofline_time(mixtral, duplex, h100):
    """Op/B >> ridge (prefill of 2048 tokens): the xPU wins, with the GPU roofline's own time."""
    step = model_step(mixtral, duplex, b=1, s=2048, c=0, parallel=TP2)
    gpu = model_step(mixtral, h100, b=1, s=2048, c=0, parallel=TP2)
    for name in ("qkv_proj", "o_proj"):
        i = step.costs.index(name)
        assert row(step, name, "op_per_byte") > 100
        assert step.times.units[i] == "xpu"
        assert float(step.times.pim_share[i]) == 0.0
        assert row(step, name) == row(gpu, name)
        assert row(step, name, "compute") == row(gpu, name, "compute")


def test_pim_side_is_the_roofline_of_the_same_device(mixtral, duplex):
    """The xPU alternative of every operator is RooflineModel's, from the same device values."""
    table = operator_table(mixtral)
    args = table.step_inputs(b=np.array([1.0, 16, 256]), s=1, c=512, tp=2)
    costs = table.evaluate(b=np.array([1.0, 16, 256]), s=1, c=512, tp=2)
    roof = device_model(mixtral, "gpu")
    pim = device_model(mixtral, "pim")
    r = roof.step_times(costs, args, roof.device_args(duplex, Precision(), TP2), "hbm", "hbm")
    p = pim.step_times(costs, args, pim.device_args(duplex, Precision(), TP2), "hbm", "hbm")
    np.testing.assert_array_equal(p.xpu_compute, r.compute)
    np.testing.assert_array_equal(p.xpu_memory, r.memory)
    np.testing.assert_array_equal(p.launch, r.launch)


def test_expert_split_at_one_token_adds_the_two_bandwidths(mixtral, duplex, h100):
    """T = 1: each touched expert holds one token, so the Lorenz curve is L(f) = f and both parts are
    memory-bound: xPU (1 - f) bytes / (0.896 BW), PIM f bytes / (4 x 0.896 BW). They finish together
    at f = 4/5, in bytes / (5 x 0.896 BW): the two bandwidths add. On the 1/128 grid f = 103/128."""
    step = model_step(mixtral, duplex, b=1, s=1, c=100, parallel=TP2)
    gpu = model_step(mixtral, h100, b=1, s=1, c=100, parallel=TP2)
    for name in EXPERTS:
        i = step.costs.index(name)
        nbytes = row(step, name, "bytes")
        assert step.times.units[i] == "xpu+pim"
        assert float(step.times.pim_share[i]) == pytest.approx(103 / SPLIT_STEPS, abs=1e-12)
        busy = row(step, name) - LAUNCH
        assert busy == pytest.approx(nbytes / (5 * MEM_EFF * HBM), rel=1 / SPLIT_STEPS)
        assert busy == pytest.approx(103 / 128 * nbytes / (4 * MEM_EFF * HBM), rel=1e-9)
        # The GPU alone is 5x slower on the same bytes.
        assert (row(gpu, name) - LAUNCH) / busy == pytest.approx(5.0, rel=1 / SPLIT_STEPS)


@pytest.mark.parametrize("mult,opb", [(1.0, 8.0), (2.0, 8.0), (4.0, 8.0), (4.0, 2.0), (8.0, 32.0)])
def test_expert_split_is_never_slower_than_either_unit_alone(mixtral, duplex, mult, opb):
    table = operator_table(mixtral)
    dm = device_model(mixtral, "pim")
    b = np.array([1.0, 2, 3, 5, 8, 13, 32, 100, 333, 1024, 4096])[:, None]
    s = np.array([1.0, 16, 512])[None, :]
    args = table.step_inputs(b=b, s=s, c=256, tp=2)
    costs = table.evaluate(b=b, s=s, c=256, tp=2)
    t = dm.step_times(costs, args, dm.device_args(duplex, Precision(), TP2, bandwidth_multiple=mult,
                                                  op_per_byte=opb), "hbm", "hbm")
    for name in EXPERTS:
        i = costs.index(name)
        busy = np.maximum(t.compute[i], t.memory[i])
        xpu_alone = np.maximum(t.xpu_compute[i], t.xpu_memory[i])
        pim_alone = np.maximum(t.pim_compute[i], t.pim_memory[i])
        assert np.all(busy <= np.minimum(xpu_alone, pim_alone) * (1 + 1e-12))
        # Where both units do work, the split beats the better unit strictly.
        split = t.assignment[i] == SPLIT
        assert split.any()
        assert np.all(busy[split] < np.minimum(xpu_alone, pim_alone)[split])


def test_pim_without_bandwidth_or_compute_never_wins(mixtral, duplex, h100):
    """bandwidth_multiple = 1 (the xPU's own memory system) and a vanishing Op/B: the PIM never
    finishes first, so Duplex is exactly the GPU roofline."""
    b = np.array([1.0, 7, 64, 300, 2048])
    for s, c in ((1, 2048), (512, 0)):
        kw = dict(b=b, s=s, c=c, parallel=TP2)
        dup = pim_step_latency(mixtral, duplex, bandwidth_multiple=1.0, op_per_byte=1e-9, **kw)
        np.testing.assert_allclose(dup, step_latency(mixtral, h100, **kw), rtol=1e-12)
    table = operator_table(mixtral)
    dm = device_model(mixtral, "pim")
    args = table.step_inputs(b=b, s=1, c=2048, tp=2)
    t = dm.step_times(table.evaluate(b=b, s=1, c=2048, tp=2), args,
                      dm.device_args(duplex, Precision(), TP2, bandwidth_multiple=1.0, op_per_byte=1e-9), "hbm", "hbm")
    assert set(t.units) <= {"xpu", "link"}
    assert not np.any(t.assignment == PIM)


def test_more_pim_bandwidth_or_compute_is_never_slower(mixtral, duplex):
    """Monotone knobs: a sweep over the PIM's bandwidth multiple and Op/B (arrays, one call)."""
    mult = np.array([1.0, 2, 4, 8, 16])[:, None, None]
    opb = np.array([0.5, 2, 8, 32])[None, :, None]
    b = np.array([1.0, 32, 128, 1024])[None, None, :]
    t = pim_step_latency(mixtral, duplex, b=b, s=1, c=2048, parallel=TP2, bandwidth_multiple=mult, op_per_byte=opb)
    assert t.shape == (5, 4, 4)
    assert np.all(np.diff(t, axis=0) <= 1e-15)
    assert np.all(np.diff(t, axis=1) <= 1e-15)


def test_sweep_path_equals_per_operator_path(mixtral, duplex):
    b = np.array([1.0, 3, 32, 64, 128, 777])
    mult = np.array([2.0, 4, 6, 8, 4, 4])
    for s, c in ((1, 4096), (256, 0)):
        table = operator_table(mixtral)
        dm = device_model(mixtral, "pim")
        args = table.step_inputs(b=b, s=s, c=c, tp=2)
        dev = dm.device_args(duplex, Precision(), TP2, bandwidth_multiple=mult)
        t = dm.step_times(table.evaluate(b=b, s=s, c=c, tp=2), args, dev, "hbm", "hbm")
        np.testing.assert_allclose(dm.step_total(args, dev), t.total, rtol=1e-12)


def test_lorenz_curve_by_hand():
    """Binomial(2, 1/4) tokens per expert: P(1) = 0.375, P(2) = 0.0625. Of the touched experts 6/7
    hold one token and they hold 0.375 / (0.375 + 0.125) = 3/4 of the tokens, so
    L(6/7) = 3/4 and, linearly inside each class, L(1/2) = (1/2) (3/4) / (6/7) = 0.4375 and
    L(15/16) = 3/4 + (15/16 - 6/7) (1/4) / (1/7) = 0.890625."""
    grid, table = lorenz_table(0.25)
    assert grid[2] == 2.0
    assert table[2, 64] == pytest.approx(0.4375, rel=1e-12)
    assert table[2, 120] == pytest.approx(0.890625, rel=1e-12)
    np.testing.assert_allclose(table[1], np.arange(129) / 128, rtol=1e-12)  # one token: all equal
    # A Lorenz curve lies below the diagonal, rises, and flattens towards it as T grows.
    assert np.all(np.diff(table, axis=1) >= 0)
    assert np.all(table <= np.arange(129) / 128 + 1e-12)
    gap = (np.arange(129) / 128 - table).max(axis=1)
    assert gap[16] > gap[1024] > gap[-1]


def test_published_op_per_byte_ranges_and_assignment(mixtral, duplex):
    """Duplex: MoE Op/B is at least 1 (tokens per expert), GQA attention 4-8; the PIM takes the low
    Op/B operators and the xPU the high ones, for Mixtral decode at batches 32, 64, 128."""
    rows = operator_assignment(mixtral, duplex, batches=(32, 64, 128), context=2048, parallel=TP2)
    by = {(r["batch"], r["name"]): r for r in rows}
    for batch in (32, 64, 128):
        for name in EXPERTS:
            r = by[(batch, name)]
            assert r["op_per_byte"] >= 1.0
            assert r["unit"] == "xpu+pim"
            assert 0 < r["pim_share"] < 1
        for name in ("attn_score", "attn_context"):
            assert 4 * 0.99 <= by[(batch, name)]["op_per_byte"] <= 8
            assert by[(batch, name)]["unit"] == "pim"
        # Dense GEMMs: Op/B ~ batch. Compute-bound on the PIM (flops / (8 x 4 BW)) against the
        # memory-bound xPU (bytes / (0.896 BW)): the PIM wins below 32 / 0.896 = 35.7 Op/B.
        for name in ("qkv_proj", "o_proj", "lm_head"):
            r = by[(batch, name)]
            assert r["unit"] == ("pim" if r["op_per_byte"] < 32 / MEM_EFF else "xpu")
    assert by[(32, "qkv_proj")]["unit"] == "pim" and by[(64, "qkv_proj")]["unit"] == "xpu"
    # More tokens per expert: more of the expert work stays on the xPU.
    shares = [by[(batch, "expert_up")]["pim_share"] for batch in (32, 64, 128)]
    assert shares[0] > shares[1] > shares[2]
    # Every operator that is not a collective runs on a named unit.
    assert {r["unit"] for r in rows} <= {"xpu", "pim", "xpu+pim", "link"}


def test_knobs_and_missing_pim_section_are_config_errors(mixtral, duplex, h100):
    with pytest.raises(ConfigError) as err:
        PIMModel.device_args(duplex, Precision(), TP2, bandwidth_multiple=-1.0)
    assert "pim.bandwidth_multiple" in str(err.value) and "-1.0" in str(err.value)
    with pytest.raises(ConfigError) as err:
        PIMModel.device_args(duplex, Precision(), TP2, op_per_byte=np.array([8.0, 0.0]))
    assert "pim.op_per_byte" in str(err.value)
    with pytest.raises(ConfigError) as err:
        PIMModel.device_args(h100, Precision(), TP2)
    assert "h100-sxm" in str(err.value) and "'pim'" in str(err.value)
    # An H100 given the PIM knobs explicitly is a Duplex.
    a = PIMModel.device_args(h100, Precision(), TP2, bandwidth_multiple=4, op_per_byte=8)
    b = PIMModel.device_args(duplex, Precision(), TP2)
    np.testing.assert_array_equal(np.array(a, dtype=float), np.array(b, dtype=float))


def test_cli_model_and_serve_run_on_duplex(mixtral, duplex, h100):
    runner = CliRunner()
    res = runner.invoke(cli, ["model", "-w", "mixtral-8x7b", "-d", "duplex", "--devices", "2", "--sequences", "64",
                              "--isl", "2048", "--json"])
    assert res.exit_code == 0, res.output
    units = {op["name"]: op["unit"] for op in json.loads(res.output)["ops"]}
    assert units["attn_score"] == "pim" and units["expert_up"] == "xpu+pim" and units["qkv_proj"] == "xpu"
    res = runner.invoke(cli, ["serve", "-w", "mixtral-8x7b", "-d", "duplex", "--devices", "2", "--isl", "1024",
                              "--osl", "1024", "--concurrency", "64", "--json"])
    assert res.exit_code == 0, res.output
    dup = json.loads(res.output)["output_tokens_per_s"]
    gpu = serve(mixtral, h100, isl=1024, osl=1024, batch=64, parallel=TP2).output_tokens_per_s
    assert dup > gpu
    res = runner.invoke(cli, ["model", "-w", "mixtral-8x7b", "-d", "duplex", "--devices", "2", "--sequences", "0"])
    assert res.exit_code == 2


def test_offloaded_weights_cross_one_shared_host_link(mixtral, duplex, h100):
    """One device (93 GB of weights > 80 GB): weights stream over PCIe (64 GB/s, at the sustained
    fraction) to whichever unit runs the operator, so a split expert GEMM cannot beat the link:
    every expert weight still crosses it once, and Duplex gains nothing there over the H100."""
    step = model_step(mixtral, duplex, b=32, s=1, c=2048)
    gpu = model_step(mixtral, h100, b=32, s=1, c=2048)
    assert step.weight_tier == gpu.weight_tier == "host"
    for name in EXPERTS:
        i = step.costs.index(name)
        weights = float(step.costs.weights[i])
        floor = weights / (64e9 * MEM_EFF)
        assert row(step, name) - LAUNCH >= floor * (1 - 1e-12)
        assert row(step, name) == pytest.approx(row(gpu, name), rel=0.01)
