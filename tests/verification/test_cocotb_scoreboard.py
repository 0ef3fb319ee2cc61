"""verification.cocotb_lib.scoreboard: comparison and the mismatch report."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verification.cocotb_lib.scoreboard import (MISSING, Mismatch, Scoreboard,
                                                ScoreboardError, compare)


def test_compare_reports_wrong_missing_and_extra_words() -> None:
    assert compare([1, 2, 3], [1, 2, 3]) == []
    assert compare([1, 2, 3], [1, 5, 3]) == [Mismatch(1, 2, 5)]
    assert compare([1, 2, 3], [1, 2]) == [Mismatch(2, 3, MISSING)]
    assert compare([1], [1, 9]) == [Mismatch(1, MISSING, 9)]
    assert compare([{"a": 1}], [{"a": 1}]) == []


def test_scoreboard_report_lists_index_expected_got() -> None:
    board = Scoreboard("o", max_report=2)
    board.expect([0x10, 0x11, 0x12, 0x13])
    for v in (0x10, 0x21, 0x12):
        board.receive(v)
    with pytest.raises(ScoreboardError) as err:
        board.check()
    assert str(err.value).splitlines() == [
        "scoreboard 'o': 2 mismatch(es); expected 4 words, received 3",
        "  index 1: expected 17 (0x11), got 33 (0x21)",
        "  index 3: expected 19 (0x13), got nothing",
    ]
    board.max_report = 1
    assert board.report().splitlines()[-1] == "  ... and 1 more"


def test_scoreboard_passes_on_equal_streams_and_formats_negatives() -> None:
    board = Scoreboard()
    board.expect([-3, 4])
    board.receive(-3)
    board.receive(4)
    board.check()
    board.receive(-1)
    assert "index 2: expected nothing, got -1" in board.report()


@given(expected=st.lists(st.integers(0, 3), max_size=8),
       got=st.lists(st.integers(0, 3), max_size=8))
def test_compare_is_empty_exactly_when_equal(expected: list[int], got: list[int]) -> None:
    bad = compare(expected, got)
    assert (bad == []) == (expected == got)
    assert len(bad) >= abs(len(expected) - len(got))
    for m in bad:  # every reported index really differs
        e = expected[m.index] if m.index < len(expected) else MISSING
        g = got[m.index] if m.index < len(got) else MISSING
        assert (m.expected, m.got) == (e, g) and (e is MISSING or g is MISSING or e != g)
