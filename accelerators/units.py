"""Quantities with units: parse strings such as ``'3.35 TB/s'`` into SI floats, by dimension.

Decimal prefixes (k, M, G, T, P) are powers of 1000; binary prefixes (Ki, Mi, Gi, Ti, Pi) are
powers of 1024. A capital ``B`` is a byte and a lower-case ``b`` (or ``bit``) is a bit, so
``'400 Gb/s'`` and ``'400 Gbps'`` are 50e9 bytes per second. Results are in SI base units:
bytes, bytes/s, operations/s, seconds, watts, hertz, joules per operation, joules per bit.

``parse_quantity`` is the public entry point; it raises
:class:`accelerators.errors.ConfigError` naming the file, the field, the value and the allowed
form. ``QuantityError`` is the bare error (no file or field) used inside the pydantic schema.
"""
from __future__ import annotations

import math
import re
from typing import Final, Literal, get_args

from accelerators.errors import ConfigError

Dimension = Literal[
    "size", "bandwidth", "compute", "time", "power", "frequency", "energy_per_op", "energy_per_bit"
]
DIMENSIONS: Final[tuple[str, ...]] = get_args(Dimension)

_DECIMAL: Final[dict[str, float]] = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BINARY: Final[dict[str, float]] = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_SMALL: Final[dict[str, float]] = {"": 1.0, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


def _byte_units() -> dict[str, float]:
    units = {f"{p}B": s for p, s in {**_DECIMAL, **_BINARY}.items()}
    units.update({f"{p}bit": s / 8 for p, s in {**_DECIMAL, **_BINARY}.items()})
    units.update({f"{p}b": s / 8 for p, s in _DECIMAL.items()})
    return units


def _bandwidth_units() -> dict[str, float]:
    units = {f"{u}/s": s for u, s in _byte_units().items()}
    units.update({f"{p}bps": s / 8 for p, s in _DECIMAL.items()})
    return units


def _compute_units() -> dict[str, float]:
    return {f"{p}{name}": s for p, s in _DECIMAL.items() for name in ("FLOPS", "FLOP/s", "OPS", "OP/s")}


_UNITS: Final[dict[str, dict[str, float]]] = {
    "size": _byte_units(),
    "bandwidth": _bandwidth_units(),
    "compute": _compute_units(),
    "time": {f"{p}s": s for p, s in _SMALL.items()},
    "power": {"W": 1.0, "mW": 1e-3, "kW": 1e3, "MW": 1e6},
    "frequency": {f"{p}Hz": s for p, s in _DECIMAL.items()},
    "energy_per_op": {
        f"{p}J{suffix}": s for p, s in _SMALL.items() for suffix in ("", "/op", "/OP", "/FLOP")
    },
    "energy_per_bit": {f"{p}J/{b}": s for p, s in _SMALL.items() for b in ("bit", "b")},
}

_EXAMPLES: Final[dict[str, str]] = {
    "size": "a size such as '80 GB' or '512 MiB'",
    "bandwidth": "a bandwidth such as '3.35 TB/s', '450 GB/s' or '400 Gbps'",
    "compute": "a compute rate such as '989 TFLOPS' or '1979 TOPS'",
    "time": "a time such as '2 us', '500 ns' or '1.5 ms'",
    "power": "a power such as '700 W'",
    "frequency": "a frequency such as '300 MHz' or '1.41 GHz'",
    "energy_per_op": "an energy per operation such as '4 pJ'",
    "energy_per_bit": "an energy per bit moved such as '7 pJ/bit'",
}

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY_RE: Final = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>[A-Za-zµ/]+)\s*$")
_BARE_NUMBER_RE: Final = re.compile(rf"^\s*{_NUMBER}\s*$")


class QuantityError(ValueError):
    """A quantity string that does not parse; ``allowed`` says what would."""

    def __init__(self, allowed: str):
        self.allowed = allowed
        super().__init__(allowed)


def allowed_form(dimension: Dimension, *, allow_zero: bool = False) -> str:
    """Human description of what a field of this dimension accepts (used in error messages)."""
    _check_dimension(dimension)
    units = ", ".join(_canonical_units(dimension))
    sign = "zero or more" if allow_zero else "greater than zero"
    return f"{_EXAMPLES[dimension]}; a number {sign} followed by one of: {units}"


def dimension_of(unit: str) -> Dimension | None:
    """The dimension a unit symbol belongs to, or None if the symbol is unknown."""
    for dimension, units in _UNITS.items():
        if unit in units:
            return dimension  # type: ignore[return-value]
    return None


def parse_quantity_value(value: object, dimension: Dimension, *, allow_zero: bool = False) -> float:
    """Parse ``value`` (a string with a unit) into an SI float; raise QuantityError if it is bad."""
    _check_dimension(dimension)
    allowed = allowed_form(dimension, allow_zero=allow_zero)
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise QuantityError(f"a bare number has no unit; write {_EXAMPLES[dimension]}")
    if not isinstance(value, str):
        raise QuantityError(allowed)
    if _BARE_NUMBER_RE.match(value):
        raise QuantityError(f"a bare number has no unit; write {_EXAMPLES[dimension]}")
    match = _QUANTITY_RE.match(value)
    if match is None:
        raise QuantityError(allowed)
    number = float(match["number"])
    unit = match["unit"]
    scale = _UNITS[dimension].get(unit)
    if scale is None:
        other = dimension_of(unit)
        if other is not None:
            raise QuantityError(f"'{unit}' is a unit of {other.replace('_', ' ')}, not of "
                                f"{dimension.replace('_', ' ')}; expected {allowed}")
        raise QuantityError(f"unknown unit '{unit}'; expected {allowed}")
    result = number * scale
    if not math.isfinite(result):
        raise QuantityError(allowed)
    if result < 0 or (result == 0 and not allow_zero):
        raise QuantityError(f"must be {'zero or more' if allow_zero else 'greater than zero'}; "
                            f"expected {allowed}")
    return result


def parse_quantity(value: object, dimension: Dimension, *, file: str | None = None,
                   field: str | None = None, allow_zero: bool = False) -> float:
    """Parse a quantity string into an SI float, or raise ConfigError(file, field, value, allowed)."""
    try:
        return parse_quantity_value(value, dimension, allow_zero=allow_zero)
    except QuantityError as error:
        raise ConfigError(file, field, value, error.allowed) from None


_FORMAT_UNITS: Final[dict[str, tuple[tuple[float, str], ...]]] = {
    "size": ((1e15, "PB"), (1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B")),
    "bandwidth": ((1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s"), (1.0, "B/s")),
    "compute": ((1e15, "PFLOPS"), (1e12, "TFLOPS"), (1e9, "GFLOPS"), (1e6, "MFLOPS"), (1.0, "FLOPS")),
    "time": ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"), (1e-12, "ps")),
    "power": ((1e3, "kW"), (1.0, "W"), (1e-3, "mW")),
    "frequency": ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz"), (1.0, "Hz")),
    "energy_per_op": ((1e-9, "nJ"), (1e-12, "pJ"), (1e-15, "fJ")),
    "energy_per_bit": ((1e-9, "nJ/bit"), (1e-12, "pJ/bit"), (1e-15, "fJ/bit")),
}


def format_quantity(value: float, dimension: Dimension, digits: int = 4) -> str:
    """Render an SI float with the largest decimal unit that keeps the number >= 1 ('3.35 TB/s')."""
    _check_dimension(dimension)
    steps = _FORMAT_UNITS[dimension]
    scale, unit = steps[-1]
    for candidate_scale, candidate_unit in steps:
        if abs(value) >= candidate_scale:
            scale, unit = candidate_scale, candidate_unit
            break
    return f"{value / scale:.{digits}g} {unit}"


def _canonical_units(dimension: str) -> list[str]:
    return [unit for _, unit in reversed(_FORMAT_UNITS[dimension])] + (
        ["KiB", "MiB", "GiB", "TiB"] if dimension == "size"
        else ["GiB/s", "Gbps", "Gb/s"] if dimension == "bandwidth"
        else ["TOPS"] if dimension == "compute" else []
    )


def _check_dimension(dimension: str) -> None:
    if dimension not in _UNITS:
        raise ValueError(f"unknown dimension {dimension!r}; one of {', '.join(DIMENSIONS)}")
