"""Resource estimate: DSP exact for the PE array, UG573 BRAM aspects, documented per-unit scaling."""
from __future__ import annotations

import pytest

from accelerators.errors import ConfigError
from archmodel.fpga.budget import BRAM36_BYTES, URAM_BYTES, make_budget
from archmodel.fpga.resources import (UNIT_COSTS, Buffer, DesignParts, bram36_blocks, default_array,
                                      estimate_resources, lutram_luts, mul_dsps, uram_blocks)


def test_bram_aspect_rules_ug573() -> None:
    assert bram36_blocks(72, 512) == 1.0        # 512 x 72 simple dual port
    assert bram36_blocks(36, 1024) == 1.0       # 1K x 36
    assert bram36_blocks(8, 4096) == 1.0        # 4K x 9
    assert bram36_blocks(8, 2048) == 0.5        # one RAMB18 (2K x 9)
    assert bram36_blocks(8, 4097) == 1.5        # three RAMB18 of 2K x 9
    # 1K deep, 512 wide: 15 RAMB36 of 1K x 36, or 29 RAMB18 of 1K x 18 = 14.5 tiles (cheaper)
    assert bram36_blocks(512, 1024) == 14.5
    assert bram36_blocks(1, 32768) == 1.0       # 32K x 1
    assert bram36_blocks(0, 10) == 0.0
    assert uram_blocks(72, 4096) == 1 and uram_blocks(128, 8192) == 4
    assert lutram_luts(16, 64) == 24            # 3 RAM64M8 (64 x 7 bits, 8 LUTs each), as Yosys maps it
    assert lutram_luts(64, 32, 8) == 64         # 8 byte lanes with own write enables: a RAM32M16 each


def test_yosys_mul2dsp_widths() -> None:
    assert mul_dsps(8, 8) == 1                  # int8 x int8: one DSP48E2 (Y = 16 >= 9)
    assert mul_dsps(32, 17) == 2                # requantiser: A split in 18-bit partials
    assert mul_dsps(33, 17) == 2                # gate scaling
    assert mul_dsps(17, 8) == 1                 # combiner
    assert mul_dsps(2, 2) == 0                  # too small: soft logic
    assert mul_dsps(27, 18) == 1 and mul_dsps(28, 18) == 2


def test_pe_array_dsp_exact_for_packing() -> None:
    one = make_budget("alveo-u280", 16, 16)
    two = make_budget("alveo-u280", 16, 16, macs_per_dsp=2)
    assert estimate_resources(DesignParts(pe_arrays=((16, 16),), controllers=0), one).dsp == 256
    assert estimate_resources(DesignParts(pe_arrays=((16, 16),), controllers=0), two).dsp == 128
    odd = make_budget("alveo-u280", 3, 3, macs_per_dsp=2)
    assert estimate_resources(DesignParts(pe_arrays=((3, 3),), controllers=0), odd).dsp == 5  # ceil(9 / 2)
    with pytest.raises(ConfigError):
        make_budget("alveo-u280", 16, 16, macs_per_dsp=3)  # a DSP48E2 packs at most two


def test_pe_lut_ff_scale_per_pe() -> None:
    b = make_budget("alveo-u280", 32, 32)
    small = estimate_resources(DesignParts(pe_arrays=((16, 16),)), b)
    big = estimate_resources(DesignParts(pe_arrays=((32, 32),)), b)
    pe = UNIT_COSTS["pe"]
    assert big.lut - small.lut == (1024 - 256) * pe.lut == 768 * 88
    assert big.ff - small.ff == (1024 - 256) * pe.ff == 768 * 80


def test_unit_sums_and_buffers() -> None:
    b = make_budget("alveo-u280", 16, 16)
    parts = DesignParts(pe_arrays=((16, 16),), requant_lanes=16, combiner_lanes=16,
                        buffers=(Buffer("h", 8 * 16, 1024),))
    r = estimate_resources(parts, b)
    # DSP: 256 PEs + 16 requant lanes x 2 + 16 combiner lanes x 1
    assert r.dsp == 256 + 32 + 16
    assert r.bram36 == bram36_blocks(128, 1024) == 4.0   # 1K x 36: 4 wide
    # the same buffer with no BRAM granted goes to URAM (4K x 72 -> 2 wide)
    r0 = estimate_resources(parts, make_budget("alveo-u280", 16, 16, bram36=0))
    assert r0.bram36 == 0 and r0.uram == 2
    assert r.fits(b)


def test_default_array_and_budget_memory() -> None:
    u280 = make_budget("alveo-u280")
    assert (u280.rows, u280.cols) == (64, 128)          # 8,192 + 3 x 128 = 8,576 <= 9,024 DSPs
    assert default_array(make_budget("alveo-u280", 1, 1, macs_per_dsp=2)) == (128, 128)
    assert (make_budget("versal-vck190").rows, make_budget("versal-vck190").cols) == (32, 32)
    # HBM: 460 GB/s over 32 pseudo-channels at 300 MHz; one channel = 14.375 GB/s
    assert u280.offchip_bytes_per_cycle == pytest.approx(460e9 / 300e6)
    assert make_budget("alveo-u280", hbm_channels=1).offchip_bandwidth == pytest.approx(14.375e9)
    assert make_budget("versal-vck190").offchip_bandwidth == pytest.approx(25.6e9)  # DDR4 only
    assert u280.onchip_bytes == 2016 * BRAM36_BYTES + 960 * URAM_BYTES == 44_679_168


@pytest.mark.parametrize("kwargs,field", [
    ({"rows": 200, "cols": 200}, "rows x cols"), ({"hbm_channels": 33}, "hbm_channels"),
    ({"bram36": 5000}, "bram36"), ({"rows": 0, "cols": 4}, "rows"), ({"rows": 4}, "cols"),
])
def test_bad_budget_is_a_config_error(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_budget("alveo-u280", **kwargs)
    assert err.value.field == field


def test_non_fpga_device_rejected() -> None:
    with pytest.raises(ConfigError) as err:
        make_budget("h100-sxm")
    assert err.value.field == "device"
    with pytest.raises(ConfigError):
        make_budget("versal-vck190", hbm_channels=2)
