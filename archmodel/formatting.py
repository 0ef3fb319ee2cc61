"""Numbers as people read them in tables and charts."""
from __future__ import annotations


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``1.23 T`` style formatting."""
    if value == 0 or value != value:
        return f"0 {unit}".strip()
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""),
                           (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}".strip()
    return f"{value:.{digits}g} {unit}".strip()
