"""The generator's ROM tables equal the golden model's, entry by entry."""
from __future__ import annotations

import pytest

from codegen.hdl import tables
from verification import golden


@pytest.mark.parametrize("name", sorted(tables.ACTIVATIONS))
def test_activation_tables_match_golden(name: str) -> None:
    assert list(tables.activation_table(name)) == golden.activation_lut(name).tolist()


def test_activation_names_match_golden() -> None:
    assert tuple(sorted(tables.ACTIVATIONS)) == golden.activation_names()


def test_exp_table_matches_golden() -> None:
    table = tables.exp_table()
    assert list(table) == golden.exp_lut().tolist()
    assert table[0] == tables.EXP_ONE and 1 <= min(table) and max(table) < 2**16


def test_unknown_activation() -> None:
    with pytest.raises(ValueError, match="allowed"):
        tables.activation_table("softplus")
