"""Small expression helpers that keep the generated Verilog clean under ``verilator --lint-only``.

Yosys rewrites ``x == 0`` into ``!x`` (a logical not of a multi-bit vector, which Verilator
reports as WIDTHTRUNC) and dynamic indexing of an array view into a wide right shift assigned to
a narrow wire (WIDTHTRUNC again). :func:`eq` spells a comparison with zero as a reduction
(``~|x``) and :func:`select` builds an explicit multiplexer chain.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from amaranth.hdl import Mux, Value

__all__ = ["eq", "is_zero", "select", "wrap_inc"]


def is_zero(value: Any) -> Value:
    """``value == 0`` written as a reduction (no logical not of a vector)."""
    return ~Value.cast(value).any()


def eq(value: Any, const: int) -> Value:
    """``value == const`` (a reduction when ``const`` is 0)."""
    v = Value.cast(value)
    if const == 0:
        return is_zero(v)
    if const >= 1 << len(v):
        return Value.cast(0)  # no such value
    return v == const


def select(items: Sequence[Any], index: Any) -> Value:
    """``items[index]`` as a multiplexer chain (``items[0]`` for an out-of-range index)."""
    if not items:
        raise ValueError("select needs at least one item")
    out = Value.cast(items[0])
    for i in range(1, len(items)):
        out = Mux(eq(index, i), items[i], out)
    return out


def wrap_inc(value: Any, n: int) -> Value:
    """``value + 1``, back to 0 after ``n - 1`` (a counter modulo ``n``)."""
    return Mux(eq(value, n - 1), 0, value + 1)
