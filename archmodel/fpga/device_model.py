"""FPGA device model for the operator table (device kind ``fpga``).

Follows the :class:`archmodel.devices.gpu.RooflineModel` interface (``device_args``,
``step_times``, ``step_total``; results as :class:`~archmodel.devices.gpu.StepTimes`).

**Compute** is DSP-limited at the kernel clock: a PE array of ``R x C`` MACs chosen by
:func:`archmodel.fpga.resources.default_array` for ``dsp`` DSPs packed ``macs_per_dsp`` MACs each
(int8: the part's ``int8_macs_per_dsp``, the packing a tuned design reaches, WP486 / AM004; 16-bit
and fp8 operands: one MAC per DSP, a 16 x 16 product fits the 27 x 18 multiplier; fp32: a
24-bit mantissa product needs two DSP48E2 (``mul2dsp``), one DSP58 in its FP32 mode (AM004)).
The array is the one the kernel generator builds (``codegen.schedule``, ``codegen/hdl``):
output-stationary, tokens on the rows, and every GEMM instance is its own stage. An operator of
``instances`` x ``m x n x K`` therefore takes ``instances`` times the PE contract's cycles
(:func:`~archmodel.fpga.timing.pe_tile_cycles` over :func:`~archmodel.fpga.timing.tile_grid`, the
functions behind the schedule's ``gemm_cycles``): ``(tiles - 1) * max(K, R) + K + R + 1`` with
``tiles = w * ceil(m/R) * ceil(n/C)``, where ``w = (flops / 2) / (instances m n K)`` is 1 for a
plain GEMM and keeps the causal halving of attention FLOPs. Few-token GEMMs (decode) leave most
rows idle, as they do in the generated kernel. (This model used to take the faster of that and a
split-K mapping, K-slices of one token on the rows closed by an adder tree, which no generated
kernel implements; ``docs/ARCHITECTURE.md``, "FPGA model", has the comparison with the schedule.)
Each GEMM/attention instance pays one in-circuit stage switch (``DEFAULT_SWITCH_CYCLES``).
Element-wise work runs on ``C`` fabric lanes, one operation per lane and cycle.

**Memory**: weights stream from their tier (HBM, else DDR, else host), KV cache from main memory;
activations stay on chip (BRAM/URAM at the ``sram`` tier's bandwidth) when an operator's
activation bytes fit the on-chip capacity, else they go to main memory. There are no kernel
launches. Collectives use the device's links as in the roofline model.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..devices.args import DeviceArgs
from ..devices.gpu import UNIT_OF_KIND as _GPU_UNITS, RooflineModel, _link
from ..optable import OpSpec, ep, tp
from ..parallel import Parallelism
from ..precision import Precision
from .budget import DEFAULT_SWITCH_CYCLES, make_budget
from .resources import default_array
from .timing import pe_tile_cycles, tile_grid
from accelerators.kinds.fpga import FpgaSpec

__all__ = ["FPGAArgs", "FPGAModel", "macs_per_dsp"]

CLK, AR, AC, BWw, BWm, BWs, CAP, BWtp, LATtp, BWep, LATep = sp.symbols(
    "f_clk R_pe C_pe BW_w BW_m BW_s CAP_s BW_tp LAT_tp BW_ep LAT_ep", positive=True)
DEVICE_SYMBOLS = (CLK, AR, AC, BWw, BWm, BWs, CAP, BWtp, LATtp, BWep, LATep)
UNITS = {"gemm": "pe", "attention": "pe", "elementwise": "fabric", "gather": "fabric",
         "allreduce": "link", "alltoall": "link"}
assert set(UNITS) == set(_GPU_UNITS)


def macs_per_dsp(fpga, dtype: str) -> float:
    """MACs one DSP slice performs per cycle for ``dtype`` operands (see the module docstring)."""
    if dtype in ("int8", "int4"):
        return float(fpga.int8_macs_per_dsp)
    if dtype == "fp32":
        return 1.0 if fpga.dsp_type == "DSP58" else 0.5
    return 1.0


def _ceiling(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return sp.ceiling(a / b)


def op_time_exprs(op: OpSpec) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """(compute, memory, comm, switch) seconds of one instance of ``op``."""
    zero = sp.Integer(0)
    if op.kind == "allreduce":
        return zero, zero, 2 * (tp - 1) / tp * op.comm / BWtp + 2 * (tp - 1) * LATtp, zero
    if op.kind == "alltoall":
        return zero, zero, op.comm / BWep + LATep * sp.Min(ep - 1, 1), zero
    act = op.act_in + op.act_out
    act_time = sp.Piecewise((act / BWs, act <= CAP), (act / BWm, True))
    memory = op.weights / BWw + act_time + (op.kv_read + op.kv_write) / BWm
    if op.kind in ("gemm", "attention"):
        m, n, kk = sp.Max(op.m, 1), sp.Max(op.n, 1), sp.Max(op.kdim, 1)
        inst = sp.Max(op.instances, 1)
        work = (op.flops / 2) / (inst * m * n * kk)  # 1 for a plain GEMM, about 1/2 for causal attention
        tiles = work * tile_grid(m, n, AR, AC, ceil=_ceiling)
        cycles = inst * pe_tile_cycles(tiles, kk, AR, maximum=sp.Max)
        return cycles / CLK, memory, zero, inst * sp.Integer(DEFAULT_SWITCH_CYCLES) / CLK
    return op.flops / (AC * CLK), memory, zero, zero


@dataclass(frozen=True)
class FPGAArgs(DeviceArgs):
    """Values of the FPGA's DEVICE_SYMBOLS, in their order."""

    clock: float  # f_clk, Hz
    rows: float  # R_pe, PE array rows
    cols: float  # C_pe, PE array columns
    weight_bw: float  # BW_w, B/s from the weights' tier
    main_bw: float  # BW_m, B/s of main memory
    sram_bw: float  # BW_s, B/s of on-chip memory (main memory's without an sram tier)
    sram_capacity: float  # CAP_s, bytes (0 without an sram tier)
    tp_bw: float  # BW_tp
    tp_latency: float  # LAT_tp
    ep_bw: float  # BW_ep
    ep_latency: float  # LAT_ep


class FPGAModel(RooflineModel):
    """The FPGA model of one operator table; compiled once, evaluated on arrays."""

    device_symbols = DEVICE_SYMBOLS
    units = UNITS

    def op_exprs(self, op: OpSpec) -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
        return op_time_exprs(op)

    @staticmethod
    def device_args(device, precision: Precision, parallel: Parallelism,  # type: ignore[override]
                    weight_tier: str | None = None) -> FPGAArgs:
        fpga = device.section(FpgaSpec)
        if fpga is None:
            raise ValueError(f"{device.name}: the FPGA model needs an 'fpga' section in the device file")
        packing = macs_per_dsp(fpga, precision.compute_dtype)
        # the array for the dtype's packing; fp32 on DSP48E2 halves the MACs per DSP
        budget = make_budget(device, 1, 1, macs_per_dsp=max(1, int(packing)) if packing >= 1 else 1)
        rows, cols = default_array(budget)
        if packing < 1:
            cols = max(1, int(cols * packing))
        main = device.main_memory
        tier = weight_tier or main.name
        w_bw = device.interconnect.host.bandwidth if tier == "host" else device.tier(tier).read_bandwidth
        sram = device.tier("sram") if device.has_tier("sram") else None
        bw_s = sram.read_bandwidth if sram else main.read_bandwidth
        cap = sram.capacity if sram else 0.0
        bw_tp, lat_tp = _link(device, parallel.tp)
        bw_ep, lat_ep = _link(device, parallel.ep)
        return FPGAArgs(fpga.clock, rows, cols, w_bw, main.read_bandwidth, bw_s, cap, bw_tp, lat_tp, bw_ep, lat_ep)
