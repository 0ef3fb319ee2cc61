"""Execution styles on task chains: hand-derived mechanisms (stall, spill, switch) and InTAR's choice."""
from __future__ import annotations

import pytest

from accelerators.errors import ConfigError
from archmodel.fpga.budget import make_budget
from archmodel.fpga.styles import (CONFIG_BITS_PER_LUT, ICAP_BYTES_PER_S_SSI, partial_reconfiguration, run_style,
                                   split_columns)
from archmodel.fpga.tasks import Task, TaskChain, gated_ffn, mlp, moe_chain, MoELayer, self_attention

B16 = make_budget("alveo-u280", 16, 16)


def test_split_columns_largest_remainder() -> None:
    assert split_columns([3, 1], 8) == (6, 2)            # 1 each + 6 spare split 4.5 / 1.5, tie -> first
    assert split_columns([1, 1, 1], 16) == (6, 5, 5)
    assert split_columns([262144, 4096], 16) == (15, 1)
    assert sum(split_columns([5, 7, 11, 13], 64)) == 64
    with pytest.raises(ValueError):
        split_columns([1, 1, 1], 2)


def test_sequential_single_gemm_takes_the_contract_cycles() -> None:
    chain = TaskChain("one", (Task("a", "gemm", 64, 64, 64),))
    r = run_style(chain, B16, "sequential")
    # 4 x 4 tiles of K = 64 on 16 x 16: 15 * 64 + 64 + 16 + 1; 12 KiB of traffic is 9 cycles of HBM
    assert r.cycles == 1041
    assert r.stages[0].offchip_bytes == 64 * 64 * 3      # weights, input, output once each


def test_dataflow_with_mismatched_volumes_stalls_to_the_slowest_stage() -> None:
    # A: 16 x 16 x 1024 (262,144 MACs) feeds B: 16 x 16 x 16 (4,096 MACs): columns split 15 / 1
    chain = TaskChain("skew", (Task("A", "gemm", 16, 16, 1024),
                               Task("B", "gemm", 16, 16, 16, a_from="A", inputs=("A",))))
    df = run_style(chain, B16, "dataflow")
    a, b = df.stages
    assert (a.cols, b.cols) == (15, 1)
    assert a.end == 1024 + 1024 + 17                     # two column tiles of K = 1024 on 16 x 15
    assert b.start == 1024 + 16 + 1                      # after A's first tile is out
    # B's own work (16 tiles of K = 16 on one column: 273 cycles) would end at 1314, but its last
    # row block cannot finish before A's last tile: it runs the remaining 257 cycles after A ends
    assert b.compute_cycles == 15 * 16 + 16 + 17 == 273
    assert b.end == a.end + 273 - 16 == 2322
    assert df.cycles == 2322
    seq = run_style(chain, B16, "sequential")
    assert seq.cycles == (1024 + 17) + 2 + (16 + 17)     # whole array each, one switch
    assert run_style(chain, B16, "intar").cycles == seq.cycles


def test_sequential_spills_when_the_intermediate_exceeds_bram() -> None:
    chain = mlp(batch=64, dims=(64, 4096, 64))           # fc1 output: 64 x 4096 = 256 KiB
    roomy = run_style(chain, B16, "sequential")
    tight = make_budget("alveo-u280", 16, 16, bram36=32, uram=0)   # 147,456 B on chip
    spilled = run_style(chain, tight, "sequential")
    fc1, fc2 = roomy.stages
    assert fc1.output == "onchip"
    assert (fc1.offchip_bytes, fc2.offchip_bytes) == (262144 + 4096, 262144 + 4096)
    s1, s2 = spilled.stages
    assert s1.output == "offchip"
    assert s1.offchip_bytes == 262144 + 4096 + 262144    # weights, input, the spill write
    # fc2 re-reads the spilled A operand once per column tile: 4 passes of 256 KiB
    assert s2.offchip_bytes == 262144 + 4 * 262144 + 4096
    # On a 64 x 16 array with one HBM pseudo-channel (14.375 GB/s = 47.9 B/cycle) the spill makes
    # fc2 memory-bound: ceil(1,314,816 B / 47.9) = 27,440 cycles instead of its 16,449 compute cycles.
    compute = 3 * 4096 + 4096 + 65                       # 4 tiles of K = 4096 on 64 x 16
    assert compute == 16449
    one_channel = make_budget("alveo-u280", 64, 16, hbm_channels=1)
    spill_one = make_budget("alveo-u280", 64, 16, bram36=32, uram=0, hbm_channels=1)
    memory = -(-1314816 * 300_000_000 // 14_375_000_000)
    assert run_style(chain, one_channel, "sequential").cycles == compute + 2 + compute
    assert run_style(chain, spill_one, "sequential").cycles == compute + 2 + memory == 16449 + 2 + 27440


def test_switch_cycles_between_groups() -> None:
    chain = self_attention(seq=64, hidden=128)
    base = run_style(chain, B16, "sequential").cycles
    slow = make_budget("alveo-u280", 16, 16, switch_cycles=100)
    assert run_style(chain, slow, "sequential").cycles - base == 98 * (len(chain.tasks) - 1)


@pytest.mark.parametrize("chain", [self_attention(), gated_ffn(), mlp(),
                                   moe_chain(MoELayer(64, 1024, 2816, 8, 2))], ids=lambda c: c.name)
@pytest.mark.parametrize("budget", [make_budget("alveo-u280"), make_budget("alveo-u280", bram36=64, uram=0,
                                                                           hbm_channels=2)], ids=["full", "tight"])
def test_intar_never_slower_than_either_pure_style(chain: TaskChain, budget) -> None:
    intar = run_style(chain, budget, "intar").cycles
    assert intar <= run_style(chain, budget, "sequential").cycles
    assert intar <= run_style(chain, budget, "dataflow").cycles


def test_intar_mixes_styles_on_self_attention() -> None:
    b = make_budget("alveo-u280")
    r = run_style(self_attention(), b, "intar")
    groups = [tuple(t.task for t in g.tasks) for g in r.groups]
    # QK^T needs all of K, so the QKV projection cannot stream into it; softmax streams into SV
    assert groups == [("qkv",), ("score",), ("softmax", "context"), ("out_proj",)]
    assert r.cycles < run_style(self_attention(), b, "sequential").cycles
    assert r.cycles < run_style(self_attention(), b, "dataflow").cycles
    assert [t.mode for t in r.stages] == ["sequential", "sequential", "dataflow", "dataflow", "sequential"]


def test_dataflow_needs_a_column_per_gemm() -> None:
    tiny = make_budget("alveo-u280", 2, 2)
    chain = mlp(batch=4, dims=(8, 8, 8, 8, 8))
    with pytest.raises(ConfigError):
        run_style(chain, tiny, "dataflow")
    assert run_style(chain, tiny, "intar").cycles <= run_style(chain, tiny, "sequential").cycles
    with pytest.raises(ConfigError):
        run_style(chain, tiny, "systolic")


def test_partial_reconfiguration_costs_milliseconds() -> None:
    b = make_budget("alveo-u280")
    r = run_style(self_attention(), b, "intar")
    pr = partial_reconfiguration(r)
    res, f = r.resources, b.fpga
    fraction = max(res.dsp / f.dsp, res.lut / f.lut, res.ff / f.ff, res.bram36 / f.bram36, res.uram / f.uram)
    assert pr.region_fraction == pytest.approx(fraction)
    assert pr.icap_bytes_per_s == ICAP_BYTES_PER_S_SSI == 500e6          # U280 is an SSI part
    assert pr.bitstream_bytes == pytest.approx(fraction * f.lut * CONFIG_BITS_PER_LUT / 8)
    assert pr.seconds_per_switch == pytest.approx(pr.bitstream_bytes / 500e6)
    assert pr.seconds_per_switch > 1e-3                                    # milliseconds per region
    assert pr.switches == 3
    # the in-circuit switch is a couple of cycles: five orders of magnitude cheaper
    assert pr.seconds_per_switch / (b.switch_cycles / b.clock_hz) > 1e5
    assert pr.total_s == pytest.approx(pr.compute_s + 3 * pr.seconds_per_switch)
