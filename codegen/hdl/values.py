"""Amaranth constants as plain Python values (the Amaranth stream simulator's and cocotb's view of a
payload)."""
from __future__ import annotations

from typing import Any

from amaranth.hdl import Const
from amaranth.lib import data

__all__ = ["to_python"]


def to_python(value: data.Const | Const | int) -> Any:
    """An Amaranth constant as Python: ints, lists for arrays, dicts for structs."""
    if isinstance(value, data.Const):
        layout = value.shape()
        if isinstance(layout, data.ArrayLayout):
            return [to_python(value[i]) for i in range(layout.length)]
        if isinstance(layout, data.StructLayout):
            return {name: to_python(value[name]) for name in layout.members}
        raise TypeError(f"unsupported layout {layout!r}")
    return value.value if isinstance(value, Const) else int(value)
