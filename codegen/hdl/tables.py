"""The 256-entry tables of the kernel (spec: ``docs/kernel-arithmetic.md`` 1.3 and 1.5).

The generator takes its ROM contents from here (``codegen`` does not import ``verification``);
``tests/hdl/test_tables.py`` checks these against the golden model's own tables entry by entry.
"""
from __future__ import annotations

import math
from typing import Callable

__all__ = ["ACTIVATIONS", "EXP_ONE", "EXP_STEPS_PER_NAT", "activation_table", "exp_table"]

EXP_ONE = 1 << 15  #: EXP[0]; entries are uint16
EXP_STEPS_PER_NAT = 32  #: index q stands for exp(-q / 32)
ACT_SCALE = 16.0  #: activation tables read and write int8 values with scale 1/16

ACTIVATIONS: dict[str, Callable[[float], float]] = {
    "identity": lambda v: v,
    "relu": lambda v: max(v, 0.0),
    "silu": lambda v: v / (1.0 + math.exp(-v)),
    "gelu": lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))),
}


def exp_table() -> tuple[int, ...]:
    """``EXP[q] = floor(32768 * exp(-q / 32) + 1/2)`` for q in 0..255 (uint16)."""
    return tuple(math.floor(EXP_ONE * math.exp(-q / EXP_STEPS_PER_NAT) + 0.5) for q in range(256))


def activation_table(name: str) -> tuple[int, ...]:
    """int8 table indexed by the input's unsigned byte: ``sat8(round_half_away(16 F(v/16)))``."""
    try:
        fn = ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}, allowed: {sorted(ACTIVATIONS)}") from None
    entries = []
    for byte in range(256):
        y = ACT_SCALE * fn((byte - 256 if byte >= 128 else byte) / ACT_SCALE)
        rounded = int(math.copysign(math.floor(abs(y) + 0.5), y))
        entries.append(max(-128, min(127, rounded)))
    return tuple(entries)
