"""Cycle formulas of the hardware components, written from their timing contracts.

Every formula here restates a clause of ``docs/kernel-arithmetic.md`` section 3 ("Hardware
timing"), which ``codegen/hdl/`` implements; the cycle model of every execution style and of the
MoE schedule is built from these functions only, so that the RTL's measured cycles can be
compared with the predictions.

PEArray(R, C), output-stationary, broadcast: a tile of ``K`` beats accepted from cycle ``c0`` has
output row ``r`` valid at ``c0 + K + 1 + r``; back-to-back tiles have a period of ``max(K, R)``
(the drain bank overlaps the next tile; a tile with ``K < R`` waits for the bank). Hence ``n``
back-to-back tiles, counted from the first beat to the cycle the last row leaves, inclusive, take

    gemm_cycles = (n - 1) * max(K, R) + K + R + 1

(``n = 1``: the isolated tile's ``K + 1 + R``). A GEMM ``Y[M, N] = X[M, K] @ W[K, N]`` on an
``R x C`` array is ``ceil(M / R) * ceil(N / C)`` such tiles (``instances`` independent GEMMs
multiply the count); padding rows and columns still cost their beats.

:func:`pe_tile_cycles` and :func:`tile_grid` are that formula's two halves with the ``max`` and the
``ceil`` passed in, so that the symbolic :class:`~archmodel.fpga.device_model.FPGAModel` (SymPy)
and the kernel schedule (``codegen.schedule``, integers) evaluate the same datapath.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "BUFFER_READ_LATENCY", "COMBINER_LATENCY", "GATE_NORM_II", "GATE_NORM_LATENCY",
    "GATED_PRODUCT_LATENCY", "LUT_LATENCY", "REQUANT_LATENCY", "TOPK_LATENCY", "ceil_div",
    "gemm_cycles", "gemm_tiles", "pe_tile_cycles", "pipeline_finish", "tile_grid", "tile_output_times",
]

#: Requantizer: three stages (multiply; round+shift; saturate), "latency 3" (contract).
REQUANT_LATENCY = 3
#: LookupTable: one synchronous ROM read, "latency 1" (contract).
LUT_LATENCY = 1
#: TopK: the last logit of a token at cycle c gives ``out.valid`` from c + 1 (contract).
TOPK_LATENCY = 1
#: GateNormalizer: accepted at c, ``out.valid`` from c + 19; initiation interval 20 (contract).
GATE_NORM_LATENCY = 19
GATE_NORM_II = 20
#: Combiner: last beat at c -> ``out.valid`` from c + 3 (contract).
COMBINER_LATENCY = 3
#: A buffer read is a synchronous block-RAM port (UG573: BRAM reads are registered; the same
#: one-cycle read as the LookupTable ROM): data for an address issued at c is usable at c + 1.
BUFFER_READ_LATENCY = 1
#: The gated hidden product ``a * up_q`` (int8 x int8) is one registered multiply between the
#: activation LUT and the RQhid requantiser: one cycle. This is an assumption about the kernel's
#: datapath (no contract for it yet); docs/ARCHITECTURE.md ("archmodel/fpga") lists it.
GATED_PRODUCT_LATENCY = 1


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for non-negative integers."""
    return -(-a // b)


def tile_grid(m: Any, n: Any, rows: Any, cols: Any, ceil: Callable[[Any, Any], Any] = ceil_div) -> Any:
    """Output tiles of one ``m x n`` GEMM on a ``rows x cols`` array: ``ceil(m/R) * ceil(n/C)``."""
    return ceil(m, rows) * ceil(n, cols)


def pe_tile_cycles(tiles: Any, k: Any, rows: Any, maximum: Callable[[Any, Any], Any] = max) -> Any:
    """PE contract: ``tiles`` back-to-back tiles of ``k`` beats, first beat to last row out,
    ``(tiles - 1) * max(K, R) + K + R + 1``."""
    return (tiles - 1) * maximum(k, rows) + k + rows + 1


def gemm_tiles(m: int, n: int, rows: int, cols: int, instances: int = 1) -> int:
    """Output tiles of ``instances`` GEMMs of ``m x n`` outputs on an ``rows x cols`` array."""
    if m <= 0 or n <= 0 or instances <= 0:
        return 0
    return instances * tile_grid(m, n, rows, cols)


def gemm_cycles(m: int, n: int, k: int, rows: int, cols: int, instances: int = 1) -> int:
    """Cycles from the first beat to the last output row of a GEMM on the PE array (contract).

    ``(tiles - 1) * max(K, R) + K + R + 1``; zero when there is nothing to compute (an expert
    with no tokens costs no cycles).
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"PE array needs rows, cols >= 1, got {rows} x {cols}")
    tiles = gemm_tiles(m, n, rows, cols, instances)
    if tiles == 0 or k <= 0:
        return 0
    return pe_tile_cycles(tiles, k, rows)


def tile_output_times(tiles: int, k: int, rows: int) -> np.ndarray:
    """Cycle (relative to the first beat) at which the last row of each tile leaves the array,
    for ``tiles`` back-to-back tiles with an always-ready consumer: ``t * max(K, R) + K + R``."""
    t = np.arange(tiles, dtype=np.int64)
    return t * max(k, rows) + k + rows


def pipeline_finish(arrivals: np.ndarray, ii: int) -> np.ndarray:
    """Completion cycles of items through a unit with initiation interval ``ii`` that starts an
    item when it has arrived and the previous one has been started ``ii`` cycles before:
    ``f[t] = max(a[t], f[t-1] + ii)``, i.e. ``f[t] = t*ii + cummax(a[j] - j*ii)`` (max-plus
    recurrence of a deterministic tandem stage; exact for in-order streams)."""
    a = np.asarray(arrivals, dtype=np.int64)
    if a.size == 0:
        return a
    t = np.arange(a.size, dtype=np.int64)
    return t * ii + np.maximum.accumulate(a - t * ii)
