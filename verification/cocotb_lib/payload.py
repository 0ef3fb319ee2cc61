"""Payload codecs: Python values <-> the bit vector of an Amaranth shape or layout.

A stream payload of a ``data.StructLayout``/``ArrayLayout`` becomes one flat vector
(``<name>__payload``) in Verilog; :func:`codec` gives the functions a :class:`StreamDriver`
(``encode``) and :class:`StreamMonitor` (``decode``) use to speak in dicts and lists instead.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amaranth.hdl import Const, Shape, ShapeCastable
from amaranth.lib import data

from codegen.hdl.values import to_python

__all__ = ["codec", "to_python"]


def codec(shape: ShapeCastable | Shape | int) -> tuple[Callable[[Any], int], Callable[[int], Any]]:
    """``(encode, decode)`` for ``shape``: encode gives the unsigned bits, decode the value back.

    For a plain signed shape ``decode`` returns a negative int when the sign bit is set.
    """
    if isinstance(shape, data.Layout):
        layout = shape

        def encode_layout(value: Any) -> int:
            return int(Const.cast(layout.const(value)).value) & ((1 << layout.size) - 1)

        def decode_layout(bits: int) -> Any:
            return to_python(layout.from_bits(bits))
        return encode_layout, decode_layout

    plain = Shape.cast(shape)
    mask = (1 << plain.width) - 1

    def encode(value: Any) -> int:
        v = int(value)
        lo = -(1 << (plain.width - 1)) if plain.signed else 0
        hi = (1 << (plain.width - 1)) - 1 if plain.signed else mask
        if not lo <= v <= hi:
            raise ValueError(f"{v} does not fit {plain}")
        return v & mask

    def decode(bits: int) -> int:
        b = int(bits) & mask
        return b - (1 << plain.width) if plain.signed and b >> (plain.width - 1) else b
    return encode, decode
