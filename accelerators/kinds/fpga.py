"""FPGA: its ``fpga`` section (fabric resources, kernel clock) is required, and the int8 peak must
follow from it."""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic_core import PydanticCustomError

from accelerators.fields import Count, Frequency, Frozen, rule_error
from accelerators.kinds import KindSchema

DspType = Literal["DSP48E2", "DSP58"]


class FpgaSpec(Frozen):
    """FPGA fabric resources and the kernel clock the performance figures assume."""

    dsp: Count
    dsp_type: DspType
    lut: Count
    ff: Count
    bram36: Count
    uram: Annotated[int, Field(strict=True, ge=0)]
    clock: Frequency
    int8_macs_per_dsp: Count
    hbm_channels: Annotated[int, Field(strict=True, ge=0)]
    slrs: Count | None = None
    aie: Annotated[int, Field(strict=True, ge=0)] = 0


def _check_fpga_peak(device: Any, fpga: FpgaSpec) -> Iterator[PydanticCustomError]:
    """An FPGA's int8 peak must equal DSPs x int8 MACs per DSP x 2 ops x kernel clock."""
    expected = fpga.dsp * fpga.int8_macs_per_dsp * 2 * fpga.clock
    actual = device.compute.peak.get("int8")
    if actual is None or not math.isclose(actual, expected, rel_tol=1e-3):
        yield rule_error("compute.peak.int8", actual,
                         f"dsp x int8_macs_per_dsp x 2 x clock = {expected / 1e12:.6g} TOPS for this fabric")


KIND = KindSchema("fpga", section=FpgaSpec, checks=(_check_fpga_peak,))
