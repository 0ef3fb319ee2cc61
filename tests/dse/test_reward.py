"""The shared team reward stays bounded and rewards only real improvement."""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dse.reward import TeamReward


def test_by_hand():
    r = TeamReward()
    assert r((10.0,), True) == 1.0              # first feasible design
    assert r((12.0,), True) == 0.0              # worse: no reward, spread now 2
    assert r((9.0,), True) == pytest.approx(1 / 3)   # improves 10 -> 9, spread 9..12
    assert r(None, False) == -0.1               # infeasible
    assert r((9.0,), True) == 0.0               # a repeat improves nothing
    assert r((float("nan"),), True) == -0.1


@given(st.lists(st.one_of(st.none(), st.floats(-1e300, 1e300, allow_nan=False)), max_size=60))
def test_bounded_whatever_the_values(values):
    r = TeamReward()
    for v in values:
        reward = r(None if v is None else (v,), v is not None)
        assert -0.1 <= reward <= 1.0


def test_state_round_trip():
    a = TeamReward()
    for v in (5.0, 7.0, 4.0):
        a((v,), True)
    b = TeamReward()
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert a((3.0,), True) == b((3.0,), True)
