"""Quantity parsing: every dimension, decimal vs binary prefixes, bits vs bytes, and the errors."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelerators.errors import ConfigError
from accelerators.units import (
    DIMENSIONS,
    QuantityError,
    allowed_form,
    dimension_of,
    format_quantity,
    parse_quantity,
    parse_quantity_value,
)


@pytest.mark.parametrize(
    ("text", "dimension", "expected"),
    [
        ("80 GB", "size", 80e9),
        ("80GB", "size", 80e9),
        ("512 MiB", "size", 512 * 2**20),
        ("8 GiB", "size", 8 * 2**30),
        ("43632 KiB", "size", 44_679_168),
        ("36 Kbit", "size", 4500),
        ("1.5 TB", "size", 1.5e12),
        ("3.35 TB/s", "bandwidth", 3.35e12),
        ("450 GB/s", "bandwidth", 450e9),
        ("14.375 GB/s", "bandwidth", 14.375e9),
        ("400 Gbps", "bandwidth", 50e9),
        ("200 Gb/s", "bandwidth", 25e9),
        ("1 GiB/s", "bandwidth", 2**30),
        ("989 TFLOPS", "compute", 989e12),
        ("1979 TOPS", "compute", 1979e12),
        ("10.8288 TOPS", "compute", 10.8288e12),
        ("2 PFLOP/s", "compute", 2e15),
        ("2 us", "time", 2e-6),
        ("2 µs", "time", 2e-6),
        ("500 ns", "time", 5e-7),
        ("1.5 ms", "time", 1.5e-3),
        ("700 W", "power", 700.0),
        ("10 kW", "power", 1e4),
        ("300 MHz", "frequency", 3e8),
        ("1.41 GHz", "frequency", 1.41e9),
        ("4 pJ", "energy_per_op", 4e-12),
        ("0.5 pJ/FLOP", "energy_per_op", 5e-13),
        ("7 pJ/bit", "energy_per_bit", 7e-12),
        ("1e3 GB", "size", 1e12),
    ],
)
def test_parses_each_dimension_into_si(text: str, dimension: str, expected: float) -> None:
    assert parse_quantity(text, dimension) == pytest.approx(expected, rel=1e-12)


def test_binary_prefixes_are_powers_of_1024_and_decimal_of_1000() -> None:
    assert parse_quantity("1 KiB", "size") == 1024
    assert parse_quantity("1 kB", "size") == 1000
    assert parse_quantity("1 GiB", "size") / parse_quantity("1 GB", "size") == pytest.approx(2**30 / 1e9)
    assert parse_quantity("1 TiB", "size") == 2**40


def test_lower_case_b_is_a_bit() -> None:
    assert parse_quantity("8 Gb/s", "bandwidth") == parse_quantity("1 GB/s", "bandwidth")
    assert parse_quantity("8 Mb", "size") == parse_quantity("1 MB", "size")


def test_dimension_of_names_the_units_home() -> None:
    assert dimension_of("TB/s") == "bandwidth"
    assert dimension_of("GiB") == "size"
    assert dimension_of("pJ/bit") == "energy_per_bit"
    assert dimension_of("furlongs") is None


@pytest.mark.parametrize(
    ("value", "dimension", "fragment"),
    [
        ("3 TB/s", "size", "'TB/s' is a unit of bandwidth, not of size"),
        ("80 GB", "bandwidth", "'GB' is a unit of size, not of bandwidth"),
        ("700 W", "time", "unit of power"),
        ("80", "size", "a bare number has no unit"),
        (80, "size", "a bare number has no unit"),
        (2.5, "time", "a bare number has no unit"),
        ("-1 GB", "size", "greater than zero"),
        ("0 GB/s", "bandwidth", "greater than zero"),
        ("GB 80", "size", "a size such as '80 GB'"),
        ("80 XB", "size", "unknown unit 'XB'"),
        ("", "power", "a power such as '700 W'"),
        ("1.2.3 GB", "size", "a size such as"),
        (None, "frequency", "a frequency such as '300 MHz'"),
        (True, "size", "a bare number"),
    ],
)
def test_bad_values_raise_config_error_naming_all_four(value: object, dimension: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_quantity(value, dimension, file="my.yaml", field="memory.hbm.capacity")
    message = str(caught.value)
    assert "my.yaml" in message
    assert "memory.hbm.capacity" in message
    assert repr(value) in message
    assert fragment in message
    assert caught.value.allowed and caught.value.field == "memory.hbm.capacity"


def test_zero_is_accepted_only_when_allowed() -> None:
    assert parse_quantity("0 us", "time", allow_zero=True) == 0.0
    with pytest.raises(ConfigError, match="greater than zero"):
        parse_quantity("0 us", "time")
    with pytest.raises(ConfigError, match="zero or more"):
        parse_quantity("-1 us", "time", allow_zero=True)


def test_unknown_dimension_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown dimension"):
        parse_quantity_value("1 GB", "volume")  # type: ignore[arg-type]


def test_allowed_form_lists_units_for_every_dimension() -> None:
    for dimension in DIMENSIONS:
        text = allowed_form(dimension)  # type: ignore[arg-type]
        assert "such as" in text and "followed by one of" in text


def test_quantity_error_carries_allowed() -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity_value("5 parsecs", "time")
    assert "a time such as" in caught.value.allowed


def test_format_quantity_picks_readable_units() -> None:
    assert format_quantity(3.35e12, "bandwidth") == "3.35 TB/s"
    assert format_quantity(989e12, "compute") == "989 TFLOPS"
    assert format_quantity(2e-6, "time") == "2 us"
    assert format_quantity(80e9, "size") == "80 GB"


@given(st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
       st.sampled_from(["B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"]))
def test_scaling_is_linear_in_the_number(number: float, unit: str) -> None:
    one = parse_quantity(f"1 {unit}", "size")
    assert parse_quantity(f"{number!r} {unit}", "size") == pytest.approx(number * one, rel=1e-12)


@given(st.floats(min_value=1e-12, max_value=1e18, allow_nan=False, allow_infinity=False),
       st.sampled_from(DIMENSIONS))
def test_format_then_parse_round_trips(value: float, dimension: str) -> None:
    text = format_quantity(value, dimension, digits=12)  # type: ignore[arg-type]
    assert math.isclose(parse_quantity(text, dimension), value, rel_tol=1e-9)  # type: ignore[arg-type]
