"""The resource budget a kernel is scheduled for: an FPGA part, a PE array and memory limits.

Compute is the PE array: ``rows x cols`` int8 MACs per cycle at the kernel clock. The DSPs it
takes are ``ceil(rows * cols / macs_per_dsp)``; ``macs_per_dsp`` is the packing the RTL really
does. It defaults to 1 because the Amaranth RTL is synthesised by Yosys, whose ``synth_xilinx``
maps each ``$mul`` to its own DSP48E2 (``mul2dsp`` with ``DSP_A_MAXWIDTH=27``,
``DSP_B_MAXWIDTH=18``, ``DSP_Y_MINWIDTH=9``: an int8 x int8 product, 16 bits wide, becomes one
DSP) and never packs two products into one slice; the device's ``int8_macs_per_dsp`` (two on a
DSP48E2, WP486) is the ceiling for hand-packed designs.

Off-chip bandwidth comes from the device's memory tiers: the HBM tier's read bandwidth divided
by ``fpga.hbm_channels`` gives one pseudo-channel's bandwidth (U280: 460 GB/s / 32 =
14.375 GB/s), times the channels the kernel uses (default: all); a device without HBM uses its
DDR tier. On-chip capacity is ``bram36 x 4,608 B + uram x 36,864 B`` (UG573: 36 Kib BRAM,
288 Kib URAM), limited to the blocks the budget grants (default: the whole part).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from accelerators.catalog import load_device
from accelerators.errors import ConfigError
from accelerators.kinds.fpga import FpgaSpec
from accelerators.schema import Device

__all__ = ["BRAM36_BYTES", "URAM_BYTES", "Budget", "array_fits", "make_budget", "power_of_two_arrays", "resolve_device"]

#: UG573 (UltraScale Architecture Memory Resources): a RAMB36E2 holds 36 Kib = 4,608 bytes
#: (32 Kib data + 4 Kib parity; the kernels use the parity bits only in x9/x18/x36/x72 widths).
BRAM36_BYTES = 4608
#: UG573: a URAM288 holds 288 Kib = 36,864 bytes (4K x 72).
URAM_BYTES = 36864
#: Default in-circuit mode switch: one schedule-ROM read (a synchronous ROM, latency 1 like the
#: LookupTable) plus one cycle to load the next stage's loop bounds into the controller's
#: counters. This is the controller this model assumes (see docs/ARCHITECTURE.md).
DEFAULT_SWITCH_CYCLES = 2


@dataclass(frozen=True)
class Budget:
    """What a kernel may use. ``offchip_bytes_per_cycle`` and ``onchip_bytes`` are derived."""

    device: str
    fpga: FpgaSpec
    clock_hz: float
    rows: int
    cols: int
    macs_per_dsp: int
    hbm_channels: int            # pseudo-channels used (0 on a DDR-only part)
    offchip_bandwidth: float     # bytes/s the kernel can read or write off-chip
    bram36: int                  # BRAM36 blocks the kernel may use
    uram: int                    # URAM288 blocks the kernel may use
    switch_cycles: int = DEFAULT_SWITCH_CYCLES
    ssi: bool = False            # stacked-silicon part (more than one SLR)

    @property
    def macs_per_cycle(self) -> int:
        return self.rows * self.cols

    @property
    def pe_dsps(self) -> int:
        """DSP slices of the PE array: one per ``macs_per_dsp`` MACs (exact)."""
        return -(-self.rows * self.cols // self.macs_per_dsp)

    @property
    def offchip_bytes_per_cycle(self) -> float:
        return self.offchip_bandwidth / self.clock_hz

    @property
    def onchip_bytes(self) -> int:
        return self.bram36 * BRAM36_BYTES + self.uram * URAM_BYTES

    def with_array(self, rows: int, cols: int) -> Budget:
        return replace(self, rows=rows, cols=cols)


def resolve_device(device: str | Path | Device) -> Device:
    """A catalog name, a device file path or a loaded Device; it must be an FPGA."""
    if not isinstance(device, Device):
        device = load_device(device)
    if device.section(FpgaSpec) is None:
        raise ConfigError(None, "device", device.name, "an FPGA device (kind 'fpga'), e.g. alveo-u280, "
                          "alveo-u55c, versal-vck190")
    return device


def _offchip(device: Device, channels: int | None) -> tuple[int, float]:
    fpga = device.require_section(FpgaSpec)
    if device.has_tier("hbm") and fpga.hbm_channels > 0:
        used = fpga.hbm_channels if channels is None else channels
        if not 1 <= used <= fpga.hbm_channels:
            raise ConfigError(None, "hbm_channels", channels, f"a whole number 1..{fpga.hbm_channels} "
                              f"(the HBM pseudo-channels of {device.name})")
        per_channel = device.tier("hbm").read_bandwidth / fpga.hbm_channels
        return used, used * per_channel
    if channels not in (None, 0):
        raise ConfigError(None, "hbm_channels", channels, f"none: {device.name} has no HBM")
    return 0, device.main_memory.read_bandwidth


def array_fits(budget: Budget, rows: int, cols: int) -> bool:
    """Whether an ``rows x cols`` PE array, with a ``cols``-lane requantiser (2 DSP a lane) and a
    ``cols``-lane combiner (1 DSP a lane), fits the part's DSPs."""
    return -(-rows * cols // budget.macs_per_dsp) + 3 * cols <= budget.fpga.dsp


def power_of_two_arrays(budget: Budget, max_rows: int = 4096, max_cols: int = 8192) -> list[tuple[int, int]]:
    """Every power-of-two array (``C`` = ``R`` or ``2R``) that fits the part, at most ``max_rows`` x
    ``max_cols``, smallest first."""
    arrays, r = [], 1
    while r <= max_rows:
        arrays += [(r, c) for c in (r, 2 * r) if c <= max_cols and array_fits(budget, r, c)]
        r *= 2
    return arrays


def default_array(budget: Budget) -> tuple[int, int]:
    """The largest power-of-two PE array (``C`` = ``R`` or ``2R``) that fits the part
    (:func:`array_fits`)."""
    return max(power_of_two_arrays(budget), key=lambda rc: rc[0] * rc[1], default=(1, 1))


def make_budget(device: str | Path | Device, rows: int | None = None, cols: int | None = None, *,
                macs_per_dsp: int = 1, hbm_channels: int | None = None, bram36: int | None = None,
                uram: int | None = None, clock_hz: float | None = None,
                switch_cycles: int = DEFAULT_SWITCH_CYCLES) -> Budget:
    """A validated budget; ``rows``/``cols`` default to :func:`default_array` for the part."""
    dev = resolve_device(device)
    fpga = dev.require_section(FpgaSpec)
    if not isinstance(macs_per_dsp, int) or not 1 <= macs_per_dsp <= fpga.int8_macs_per_dsp:
        raise ConfigError(None, "macs_per_dsp", macs_per_dsp,
                          f"a whole number 1..{fpga.int8_macs_per_dsp} (int8 MACs one {fpga.dsp_type} can pack)")
    for name, value, top in (("bram36", bram36, fpga.bram36), ("uram", uram, fpga.uram)):
        if value is not None and (not isinstance(value, int) or not 0 <= value <= top):
            raise ConfigError(None, name, value, f"a whole number 0..{top} ({dev.name} has {top})")
    if clock_hz is not None and not clock_hz > 0:
        raise ConfigError(None, "clock", clock_hz, "a positive frequency")
    if not isinstance(switch_cycles, int) or switch_cycles < 0:
        raise ConfigError(None, "switch_cycles", switch_cycles, "a whole number >= 0")
    channels, bandwidth = _offchip(dev, hbm_channels)
    budget = Budget(device=dev.name, fpga=fpga, clock_hz=clock_hz or fpga.clock, rows=1, cols=1,
                    macs_per_dsp=macs_per_dsp, hbm_channels=channels, offchip_bandwidth=bandwidth,
                    bram36=fpga.bram36 if bram36 is None else bram36, uram=fpga.uram if uram is None else uram,
                    switch_cycles=switch_cycles, ssi=(fpga.slrs or 1) > 1)
    if rows is None and cols is None:
        rows, cols = default_array(budget)
    elif rows is None or cols is None:
        raise ConfigError(None, "rows" if rows is None else "cols", None, "both rows and cols, or neither")
    for name, value in (("rows", rows), ("cols", cols)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(None, name, value, "a whole number >= 1")
    budget = budget.with_array(rows, cols)
    if budget.pe_dsps > fpga.dsp:
        raise ConfigError(None, "rows x cols", f"{rows} x {cols}",
                          f"at most {fpga.dsp * macs_per_dsp} MACs: {fpga.dsp} {fpga.dsp_type} x {macs_per_dsp} "
                          f"MAC(s) per DSP on {dev.name}")
    return budget
