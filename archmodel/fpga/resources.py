"""Resource estimate (DSP, LUT, FF, BRAM36, URAM) of a generated design, per documented unit.

Written so that Yosys ``synth_xilinx`` of the generated RTL can check it, unit by unit:

* **DSP** is exact for the PE array: ``ceil(R * C / macs_per_dsp)`` (``macs_per_dsp = 1`` is what
  Yosys does with the Amaranth RTL, see :mod:`archmodel.fpga.budget`). Other multipliers follow
  Yosys' ``mul2dsp`` for UltraScale+ (``DSP_A_MAXWIDTH=27``, ``DSP_B_MAXWIDTH=18``,
  ``DSP_A_MAXWIDTH_PARTIAL=18``, ``DSP_Y_MINWIDTH=9``): an ``a x b`` product with ``a >= b`` takes
  ``1`` DSP when ``a <= 27`` and ``b <= 18``, otherwise ``ceil(a / 18)`` partial DSPs when
  ``b <= 18`` (see :func:`mul_dsps`).
* **LUT / FF** are per-unit costs of the RTL (``codegen/hdl/``), listed in :data:`UNIT_COSTS`
  with their derivation; a design's total is the sum of its units times their counts. The
  per-unit numbers are the per-module counts of Yosys ``synth_xilinx`` on the generated kernels
  (``verification/resources.py``, ``moearch verify --resources``; the table is in
  ``docs/validation.md``), where the first, register-level derivation missed what ABC maps
  (adder and mux LUTs, ROMs in logic).
* **BRAM** from buffer sizes with the block-RAM aspect rules of UG573 (RAMB36E2: 32Kx1, 16Kx2,
  8Kx4, 4Kx9, 2Kx18, 1Kx36, 512x72 simple dual port; RAMB18E2 = half a BRAM36: 16Kx1, 8Kx2, 4Kx4,
  2Kx9, 1Kx18, 512x36): the cheapest configuration of ``ceil(depth / d) * ceil(width / w)``
  blocks. A buffer split into ``banks`` memories (the kernel's byte-lane banks) is placed per
  bank; memories of depth <= 64 become LUT RAM the way Yosys maps them (UG574: RAM32M16 = 32
  deep x 14 bits in 8 LUTs, RAM64M8 = 64 deep x 7 bits in 8 LUTs; a column with its own write
  enable, e.g. a byte lane, takes its own primitives) plus a registered read of the word.
  Constant tables read through logic (``rom``) are counted with their unit, not as RAM. When
  the BRAM36 budget is spent, the largest remaining buffers go to URAM288 (4K x 72).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .budget import Budget, default_array

__all__ = ["Buffer", "DesignParts", "Resources", "UNIT_COSTS", "UnitCost", "bram36_blocks",
           "default_array", "estimate_resources", "lutram_luts", "mul_dsps", "uram_blocks"]


def mul_dsps(a_bits: int, b_bits: int) -> int:
    """DSP48E2 slices Yosys ``mul2dsp`` uses for an ``a_bits x b_bits`` signed multiply."""
    a, b = max(a_bits, b_bits), min(a_bits, b_bits)
    if a + b < 9 or b < 2:
        return 0  # below DSP_Y_MINWIDTH / DSP_B_MINWIDTH: soft logic
    if a <= 27 and b <= 18:
        return 1
    if b <= 18:
        return -(-a // 18)  # partial products of DSP_A_MAXWIDTH_PARTIAL = 18 bits
    return -(-a // 18) * -(-b // 18)


@dataclass(frozen=True)
class UnitCost:
    """Fabric cost of one unit instance (DSPs are computed separately where they depend on width)."""

    lut: int
    ff: int
    dsp: int
    derivation: str


#: Per-unit LUT/FF/DSP costs. Each entry says where its numbers come from.
UNIT_COSTS: Mapping[str, UnitCost] = {
    # PEArray, one MAC (codegen/hdl/pe_array.py): registers `prod` (16 b: Yosys drops the
    # sign-extension copies of the int8 x int8 product), `acc` (32 b) and the drain-bank word
    # (32 b) = 80 FF; the accumulate adder with the `fresh` select (32), the bank's
    # load/shift/hold mux (32) and the product's sign extension into the adder (24) = 88 LUT.
    # Synthesis: 80.4 FF and 80-92 LUT per PE for 4x4, 2x8 and 8x8 arrays. DSP: the int8 x int8
    # product, counted by the budget's packing.
    "pe": UnitCost(lut=88, ff=80, dsp=0, derivation="pe_array.py: prod 16 + acc 32 + bank 32 FF; adder, bank mux, "
                                                    "sign extension 88 LUT (Yosys synth_xilinx: 80-92 LUT, 80 FF)"),
    # PEArray control, per array: row counter, p_valid/p_last/fresh/bank_valid, ready logic.
    "pe_control": UnitCost(lut=16, ff=12, dsp=0, derivation="pe_array.py: row counter + 4 flags + en/ready"),
    # Requantizer, per lane (codegen/hdl/requantizer.py): product 49 b, shifted 49 b, out 8 b = 106
    # FF; arithmetic shift by 0..63 over 49 bits as three 4:1 LUT6 mux levels (3 x 49 = 147), the
    # rounding subtract t - (t >> 1) (50), the shift==0 bypass mux (49), saturation (8 out + 14 for
    # the 41-bit all-ones/all-zeros test), the sum of the two partial products (49) = 317 LUT.
    # DSP: 32 x 17 (uint16 as signed) -> mul_dsps(32, 17) = 2.
    # Synthesis maps the 49-bit shifter and the partial-product sum less densely: 368-371 LUT a
    # lane (4- and 8-lane requantisers), FF as derived.
    "requant_lane": UnitCost(lut=368, ff=106, dsp=2,
                             derivation="requantizer.py: 49+49+8 FF; shifter, round, bypass, saturation and partial "
                                        "sum 317 LUT by hand, 368 in Yosys synth_xilinx"),
    # Requantizer control: three valid bits and the 6-bit shift register.
    "requant_control": UnitCost(lut=4, ff=9, dsp=0, derivation="requantizer.py: v1..v3 + shift1"),
    # LookupTable, per lane: a 256 x 8 ROM read port in LUTs (an 8-input function per output bit =
    # four LUT6 + F7/F8 muxes: 4 x 8 = 32 LUT) and the 8-bit output register.
    "lut_lane": UnitCost(lut=32, ff=8, dsp=0, derivation="256x8 ROM: 4 LUT6 per output bit; 8 FF out"),
    # Gated hidden product per lane: int8 x int8 registered product (16 FF), 1 DSP (Y = 16 >= 9).
    "hidden_product_lane": UnitCost(lut=0, ff=16, dsp=1, derivation="int8 x int8 -> 1 DSP48E2; 16 FF"),
    # Combiner, per lane (contract: product, accumulate, round+saturate): uint16 x int8 product
    # (25 b FF, 1 DSP: 17 x 8), int32 accumulator (32 FF, 32 LUT adder), output int8 (8 FF) and
    # round/saturate (16 LUT), the accumulate/restart select and the rounding add (30 LUT):
    # Yosys synth_xilinx 78-79 LUT and 64-65 FF a lane for 4, 8 and 16 lanes.
    "combiner_lane": UnitCost(lut=78, ff=65, dsp=1, derivation="25+32+8 FF; adder, round/sat, restart select "
                                                               "78 LUT (Yosys); 17x8 -> 1 DSP"),
    # Controller (controller.py + schedule_rom.py): the one-hot sequencer, ROM address and the
    # registered ROM row; the loop counters live in the datapath (counted in "datapath").
    # Yosys synth_xilinx: 43-101 LUT, 26-30 FF.
    "controller": UnitCost(lut=64, ff=28, dsp=0,
                           derivation="one-hot FSM + ROM address/row (Yosys: 43-101 LUT, 26-30 FF)"),
    # Serializer of the dataflow front (serializer.py): one int32 logit register per expert and
    # the shift/select network: Yosys synth_xilinx 104 LUT / 131 FF for E = 4, 231 / 260 for
    # E = 8, i.e. 28 LUT and 32 FF per expert (+3 FF of control).
    "serializer_lane": UnitCost(lut=28, ff=32, dsp=0, derivation="serializer.py: int32 register + select per expert"),
    # The kernel's own datapath outside the units and buffers (top.py): stream handshakes, the
    # loop counters and address generation of the stages, the A-operand gather from x, the drain
    # routing into h / up_q / y. Fitted to the residual of the top module of the four generated
    # kernels of docs/validation.md (within 500 LUT / 60 FF of each): a fixed part, per
    # token-stream byte (word assembly, y packing), per PE column (drain routing, request path),
    # per column again when gated (hidden product and the up_q cross read), and the gather of R
    # rows out of T tokens (a T:1 byte mux per row: ~2 LUT per row and token).
    "datapath_fixed": UnitCost(lut=150, ff=100, dsp=0, derivation="top.py control and counters (Yosys fit)"),
    "datapath_stream_byte": UnitCost(lut=30, ff=10, dsp=0, derivation="top.py per token-stream byte (Yosys fit)"),
    "datapath_column": UnitCost(lut=40, ff=15, dsp=0, derivation="top.py per PE column (Yosys fit)"),
    "datapath_gated_column": UnitCost(lut=60, ff=10, dsp=0, derivation="top.py per PE column, gated (Yosys fit)"),
    "datapath_gather": UnitCost(lut=2, ff=0, dsp=0, derivation="top.py x gather, per PE row and token"),
    # Buffer port address generator: two counters (read, write) of the address width are added
    # per buffer by estimate_resources (1 FF + 1 LUT per address bit and counter).
    # In-circuit mode switch (InTAR): per PE column a 2:1 select of the 8-bit b operand source
    # (8 LUT), per PE row a 2:1 select of the a operand (8 LUT) for every extra sub-array.
    "mode_mux_column": UnitCost(lut=8, ff=0, dsp=0, derivation="8-bit 2:1 mux per column"),
    "mode_mux_row": UnitCost(lut=8, ff=0, dsp=0, derivation="8-bit 2:1 mux per row and extra sub-array"),
    # Vector unit lane (softmax-style row reductions on int8/int32): a 32-bit max/add (32 LUT),
    # an exp ROM read (32 LUT), a 32-bit register pair (64 FF).
    "vector_lane": UnitCost(lut=64, ff=64, dsp=0, derivation="32-bit add/max 32 LUT + ROM 32 LUT; 2 x 32 FF"),
}


def topk_cost(experts: int, k: int) -> UnitCost:
    """TopK (codegen/hdl/topk.py): a k-entry sorted list of (int32 logit, index) plus the output
    register (2 k (32 + idx) FF, + the beat counter), k 32-bit comparators (32 LUT each), the
    insertion muxes (32 + idx LUT per entry) and the position flags (6): Yosys synth_xilinx
    63 / 150 / 154 / 642 LUT for (E, k) = (4, 1), (4, 2), (8, 2), (8, 8)."""
    idx = max(1, (experts - 1).bit_length())
    return UnitCost(lut=k * (32 + 32 + 6 + idx), ff=2 * k * (32 + idx) + idx, dsp=0,
                    derivation="topk.py: list + output regs; comparators + insertion muxes + flags")


def gate_norm_cost(experts: int, k: int) -> UnitCost:
    """GateNormalizer (codegen/hdl/gate_normalizer.py), k lanes: 32-bit difference (32 LUT, 32 FF),
    32 x 16 scaling product (mul_dsps(33, 17) = 2 DSP), rounding/saturation (48 LUT), the
    sum (18 b) and a 16-step restoring divider per lane (trial subtract 19 LUT, remainder and
    quotient 18 + 16 FF), the index pass-through, and one read port of the 256 x 16 EXP table
    per lane, which Yosys builds in logic (a ROM of 8-input functions, ~470 LUT with its
    MUXF7/F8 trees; the table's Buffer is marked ``rom``). Yosys synth_xilinx: 567 / 1183 /
    1268 / 5213 LUT and 129 / 214 / 216 / 738 FF for (E, k) = (4, 1), (4, 2), (8, 2), (8, 8)."""
    idx = max(1, (experts - 1).bit_length())
    return UnitCost(lut=k * (32 + 48 + 19 + 470) + 40, ff=k * (32 + 18 + 16 + 19 + idx) + 40,
                    dsp=k * mul_dsps(33, 17),
                    derivation="gate_normalizer.py: per weight diff, scale, divider and an EXP ROM port in logic")


@dataclass(frozen=True)
class Buffer:
    """An on-chip buffer: ``depth`` words of ``width_bits`` (simple dual port).

    ``banks``: the RTL splits it into that many memories of ``ceil(depth / banks)`` words each
    (the kernel's ``LaneBanks``: x in ``W`` banks, h and up_q in ``C``); ``lane_bits``: width of
    a column with its own write enable (8 for byte lanes; 0: the whole word); ``rom``: a
    constant table read through logic, counted with its unit (no RAM). Capacity checks
    (``codegen.schedule``) use the bits, which banking does not change.
    """

    name: str
    width_bits: int
    depth: int
    banks: int = 1
    lane_bits: int = 0
    rom: bool = False

    @property
    def bytes(self) -> int:
        return -(-self.width_bits * self.depth // 8)


_BRAM36 = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))
_BRAM18 = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
LUTRAM_MAX_DEPTH = 64


def bram36_blocks(width_bits: int, depth: int) -> float:
    """BRAM36 tiles (a RAMB18 counts 0.5) for a ``width_bits x depth`` buffer (UG573 aspects)."""
    if width_bits <= 0 or depth <= 0:
        return 0.0
    best = min(-(-depth // d) * -(-width_bits // w) for d, w in _BRAM36)
    half = min(-(-depth // d) * -(-width_bits // w) for d, w in _BRAM18)
    return float(min(best, half / 2))


def uram_blocks(width_bits: int, depth: int) -> int:
    """URAM288 blocks (4K x 72) for a buffer."""
    if width_bits <= 0 or depth <= 0:
        return 0
    return -(-depth // 4096) * -(-width_bits // 72)


def lutram_luts(width_bits: int, depth: int, lane_bits: int = 0) -> int:
    """LUTs of a memory of depth <= 64 in LUT RAM as Yosys ``synth_xilinx`` maps it (UG574):
    per column (``lane_bits`` wide with its own write enable, or the whole word) RAM32M16
    primitives of 14 bits for up to 32 words, RAM64M8 primitives of 7 bits per 64 words above;
    8 LUTs each."""
    if width_bits <= 0 or depth <= 0:
        return 0
    col = lane_bits if 0 < lane_bits < width_bits else width_bits
    cols = -(-width_bits // col)
    per_col = -(-col // 14) if depth <= 32 else -(-col // 7) * -(-depth // 64)
    return 8 * cols * per_col


@dataclass(frozen=True)
class Resources:
    dsp: int = 0
    lut: int = 0
    ff: int = 0
    bram36: float = 0.0
    uram: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.dsp + other.dsp, self.lut + other.lut, self.ff + other.ff,
                         self.bram36 + other.bram36, self.uram + other.uram)

    def fits(self, budget: Budget) -> bool:
        f = budget.fpga
        return (self.dsp <= f.dsp and self.lut <= f.lut and self.ff <= f.ff and self.bram36 <= budget.bram36
                and self.uram <= budget.uram)

    def as_dict(self) -> dict[str, float]:
        return {"dsp": self.dsp, "lut": self.lut, "ff": self.ff, "bram": self.bram36, "uram": self.uram}


@dataclass(frozen=True)
class DesignParts:
    """The units of one generated design; :func:`estimate_resources` prices them."""

    pe_arrays: tuple[tuple[int, int], ...]          # (rows, cols) of each physical PE array
    requant_lanes: int = 0
    lut_lanes: int = 0
    hidden_product_lanes: int = 0
    combiner_lanes: int = 0
    vector_lanes: int = 0
    topk: tuple[int, int] | None = None             # (experts, k)
    gate_norm: tuple[int, int] | None = None        # (experts, k)
    controllers: int = 1
    mode_switch_splits: int = 0                      # extra sub-arrays the in-circuit switch selects
    buffers: tuple[Buffer, ...] = field(default=())
    serializer_lanes: int = 0                        # dataflow front: one per expert
    datapath: tuple[int, int, int, int, bool] | None = None  # the kernel's datapath: (W, C, R, T, gated)


def _unit(name: str, count: int) -> Resources:
    c = UNIT_COSTS[name]
    return Resources(dsp=c.dsp * count, lut=c.lut * count, ff=c.ff * count)


def _buffers(buffers: Iterable[Buffer], bram_budget: float) -> Resources:
    lut = ff = 0
    placed: list[tuple[Buffer, float]] = []
    for b in buffers:
        if b.depth <= 0 or b.width_bits <= 0 or b.rom:
            continue
        banks = max(1, b.banks)
        depth = -(-b.depth // banks)
        addr = max(1, (depth - 1).bit_length())
        lut += 2 * addr
        ff += 2 * addr
        if depth <= LUTRAM_MAX_DEPTH:
            # LUT RAM reads asynchronously: the synchronous read port is a register per bank;
            # selecting one bank's word and decoding the per-lane write enables costs ~0.7 LUT
            # per bit and extra bank (Yosys synth_xilinx of LaneBanks: 0.65-0.8 for 8 and 16
            # banks, 0.3 for 4)
            lut += banks * lutram_luts(b.width_bits, depth, b.lane_bits)
            ff += banks * b.width_bits
            lut += 7 * b.width_bits * (banks - 1) // 10
        else:
            placed.append((b, banks * bram36_blocks(b.width_bits, depth)))
    bram = sum(blocks for _, blocks in placed)
    uram = 0
    # Spill the largest buffers to URAM until the BRAM budget holds the rest.
    for b, blocks in sorted(placed, key=lambda item: -item[1]):
        if bram <= bram_budget:
            break
        bram -= blocks
        uram += uram_blocks(b.width_bits, b.depth)
    return Resources(lut=lut, ff=ff, bram36=bram, uram=uram)


def estimate_resources(parts: DesignParts, budget: Budget) -> Resources:
    """Sum of the documented unit costs of ``parts`` (DSP exact for the PE arrays)."""
    total = Resources()
    for rows, cols in parts.pe_arrays:
        total += Resources(dsp=-(-rows * cols // budget.macs_per_dsp))
        total += _unit("pe", rows * cols) + _unit("pe_control", 1)
    if parts.requant_lanes:
        total += _unit("requant_lane", parts.requant_lanes) + _unit("requant_control", 1)
    total += _unit("lut_lane", parts.lut_lanes) + _unit("hidden_product_lane", parts.hidden_product_lanes)
    total += _unit("combiner_lane", parts.combiner_lanes) + _unit("vector_lane", parts.vector_lanes)
    total += _unit("controller", parts.controllers) + _unit("serializer_lane", parts.serializer_lanes)
    if parts.datapath is not None:
        w, c, r, t, gated = parts.datapath
        total += (_unit("datapath_fixed", 1) + _unit("datapath_stream_byte", w) + _unit("datapath_column", c)
                  + _unit("datapath_gated_column", c if gated else 0) + _unit("datapath_gather", r * t))
    if parts.mode_switch_splits:
        cols = sum(c for _, c in parts.pe_arrays)
        rows = max(r for r, _ in parts.pe_arrays)
        total += _unit("mode_mux_column", cols) + _unit("mode_mux_row", rows * parts.mode_switch_splits)
    for spec, fn in ((parts.topk, topk_cost), (parts.gate_norm, gate_norm_cost)):
        if spec is not None:
            unit = fn(*spec)
            total += Resources(dsp=unit.dsp, lut=unit.lut, ff=unit.ff)
    return total + _buffers(parts.buffers, budget.bram36)
