"""The kernel's geometry: sizes, bit widths and the dataflow column split of ``MoEKernel``.

:class:`KernelGeometry` (and the ``df`` variant's :class:`DfLayout`) are what the interface
(:mod:`codegen.hdl.interface`), the schedule ROM and the RTL size themselves from; the field
widths of a weight request and the parameter word are here too. Re-exported by
:mod:`codegen.hdl.interface`.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from archmodel.fpga.styles import split_columns
from archmodel.moe_layer import MoELayer

__all__ = [
    "DF_TENSORS", "DfLayout", "KernelGeometry", "MULT_BITS", "PARAM_WORD_BITS", "SHIFT_BITS", "STAGE_BITS",
    "TENSOR_BITS", "Tensor", "WeightRequest", "ceil_div", "df_split",
]

MULT_BITS, SHIFT_BITS = 16, 6
PARAM_WORD_BITS = MULT_BITS + SHIFT_BITS  #: bits of one requantiser in a parameter word
TENSOR_BITS = 3
STAGE_BITS = 5  #: schedule-ROM rows are at most 4 front + 3 variants x 3 + combine < 32


class Tensor(IntEnum):
    """What a weight request names (the ``tensor`` field)."""

    PARAMS = 0
    ROUTER = 1
    UP = 2
    GATE = 3
    DOWN = 4
    DF_UP = 5    #: dataflow expert, phase 0: sub-array A (up, gate) only
    DF = 6       #: dataflow expert, middle phase: A and D (down) interleaved
    DF_DOWN = 7  #: dataflow expert, last phase: D only


#: the request kinds of a dataflow (``df``) expert
DF_TENSORS = (Tensor.DF_UP, Tensor.DF, Tensor.DF_DOWN)


def _bits(n: int) -> int:
    """Bits to hold the values 0..n (at least 1)."""
    return max(1, int(n).bit_length())


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def df_split(hidden: int, ffn: int, gated: bool, cols: int) -> tuple[int, ...] | None:
    """PE columns of (up, [gate,] down) of a dataflow expert: the schedule's ``col_split``
    (``archmodel.fpga.schedule``: in proportion to the MACs, each at least one), or None when
    the array has fewer columns than GEMMs."""
    parts = 3 if gated else 2
    if cols < parts:
        return None
    return tuple(int(c) for c in split_columns([int(hidden) * int(ffn)] * parts, int(cols)))


@dataclass(frozen=True)
class DfLayout:
    """Sub-arrays and loop bounds of a dataflow expert (see the module docstring)."""

    hidden: int
    ffn: int
    gated: bool
    cols: int
    split: tuple[int, ...]

    @classmethod
    def of(cls, hidden: int, ffn: int, gated: bool, cols: int) -> DfLayout:
        split = df_split(hidden, ffn, gated, cols)
        if split is None:
            raise ValueError(f"a dataflow expert needs at least {3 if gated else 2} PE columns, "
                             f"got {cols}")
        return cls(int(hidden), int(ffn), bool(gated), int(cols), split)

    @property
    def cu(self) -> int:
        return self.split[0]

    @property
    def cg(self) -> int:
        return self.split[1] if self.gated else 0

    @property
    def cd(self) -> int:
        return self.split[-1]

    @property
    def lanes_a(self) -> int:
        """Columns of sub-array A (up and gate): ``cu + cg``."""
        return self.cu + self.cg

    @property
    def width_h(self) -> int:
        """Columns of ``h`` one A tile produces: ``cg`` (gated) or ``cu`` (plain)."""
        return self.cg if self.gated else self.cu

    @property
    def tiles_a(self) -> int:
        return ceil_div(self.ffn, self.width_h)

    @property
    def tiles_up(self) -> int:
        return ceil_div(self.ffn, self.cu)

    @property
    def tiles_d(self) -> int:
        return ceil_div(self.hidden, self.cd)

    @property
    def words_a(self) -> int:
        """A beats (words) of one row block: ``tiles_a * d``."""
        return self.tiles_a * self.hidden

    @property
    def words_d(self) -> int:
        """D beats (words) of one row block: ``tiles_d * f``."""
        return self.tiles_d * self.ffn

    def words(self, kind: Tensor) -> int:
        kind = Tensor(kind)
        if kind == Tensor.DF_UP:
            return self.words_a
        if kind == Tensor.DF_DOWN:
            return self.words_d
        if kind == Tensor.DF:
            return max(self.words_a, self.words_d)
        raise ValueError(f"{kind!r} is not a dataflow request kind")


@dataclass(frozen=True)
class KernelGeometry:
    """Everything the interface depends on: the layer shape, the PE array and the stream width."""

    tokens: int
    hidden: int
    ffn: int
    experts: int
    top_k: int
    gated: bool
    rows: int
    cols: int
    stream_bytes: int

    def __post_init__(self) -> None:
        MoELayer(self.tokens, self.hidden, self.ffn, self.experts, self.top_k, self.gated)  # the shape contract
        for name in ("rows", "cols"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"KernelGeometry.{name} = {getattr(self, name)} must be >= 1")
        w = self.stream_bytes
        if w < 1 or w > 64 or w & (w - 1):
            raise ValueError(f"KernelGeometry.stream_bytes = {w}; allowed: a power of two 1..64")

    @classmethod
    def from_schedule(cls, schedule: Any) -> KernelGeometry:
        """From an ``archmodel.fpga.schedule.ScheduleResult`` (duck-typed)."""
        s, b = schedule.shape, schedule.budget
        return cls(int(s.tokens), int(s.hidden), int(s.ffn), int(s.experts), int(s.top_k),
                   bool(s.gated), int(b.rows), int(b.cols), int(schedule.stream_bytes))

    @classmethod
    def from_plan(cls, plan: Any) -> KernelGeometry:
        """From a ``codegen.plan.KernelPlan`` (duck-typed: its ``schedule``)."""
        return cls.from_schedule(plan.schedule)

    # ------------------------------------------------------------------------------ derived
    @property
    def words_per_token(self) -> int:
        return ceil_div(self.hidden, self.stream_bytes)

    @property
    def requants_per_expert(self) -> int:
        return 4 if self.gated else 2

    @property
    def param_words(self) -> int:
        return 1 + self.experts * self.requants_per_expert

    @property
    def expert_bits(self) -> int:
        return _bits(self.experts - 1)

    @property
    def tile_bits(self) -> int:
        # a tile index is < ceil(N / cols) <= N for every tensor and every cols >= 1
        return _bits(max(self.experts, self.hidden, self.ffn) - 1)

    @property
    def cols_bits(self) -> int:
        return _bits(self.cols)

    @property
    def request_bits(self) -> int:
        return TENSOR_BITS + self.expert_bits + self.tile_bits + self.cols_bits

    @property
    def wdata_bits(self) -> int:
        return max(8 * self.cols, 32)

    @property
    def stream_bits(self) -> int:
        return 8 * self.stream_bytes

    def tensor_dims(self, tensor: Tensor) -> tuple[int, int]:
        """``(K, N)`` of a weight tensor as the GEMM sees it."""
        d, f = self.hidden, self.ffn
        return {Tensor.ROUTER: (d, self.experts), Tensor.UP: (d, f), Tensor.GATE: (d, f),
                Tensor.DOWN: (f, d)}[Tensor(tensor)]

    @property
    def df(self) -> DfLayout | None:
        """The dataflow-expert layout on this array (None when ``cols`` is too small)."""
        if df_split(self.hidden, self.ffn, self.gated, self.cols) is None:
            return None
        return DfLayout.of(self.hidden, self.ffn, self.gated, self.cols)

    def response_words(self, request: WeightRequest) -> int:
        if request.tensor == Tensor.PARAMS:
            return self.param_words
        if request.tensor in DF_TENSORS:
            layout = self.df
            if layout is None:
                raise ValueError(f"{request}: no dataflow layout on {self.cols} columns")
            return layout.words(request.tensor)
        return self.tensor_dims(request.tensor)[0]


@dataclass(frozen=True)
class WeightRequest:
    """One request on ``wreq``: a column tile (``tile``, ``cols`` wide) of a tensor."""

    tensor: Tensor
    expert: int = 0
    tile: int = 0
    cols: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "tensor", Tensor(self.tensor))
        if self.expert < 0 or self.tile < 0 or self.cols < 0:
            raise ValueError(f"negative field in {self}")
        if self.tensor == Tensor.PARAMS:
            if self.expert or self.tile or self.cols:
                raise ValueError(f"a PARAMS request has expert = tile = cols = 0, got {self}")
        elif self.tensor in DF_TENSORS and self.tile:
            raise ValueError(f"a dataflow request has tile = 0, got {self}")
        elif self.cols < 1:
            raise ValueError(f"a weight request needs cols >= 1, got {self}")
