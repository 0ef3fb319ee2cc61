"""Kernel styles are classes in a registry: the schedule, the emitters and the RTL read them, and a
new style is chosen by the schedule without an edit to the schedule's modules."""
from __future__ import annotations

import pytest

from accelerators.errors import ConfigError
from archmodel.fpga.budget import make_budget
from archmodel.moe_layer import MoELayer
from codegen.hdl.schedule_rom import SUPPORTED_VARIANTS, VARIANT_CODES, UnsupportedSchedule, build_program
from codegen.schedule import STYLES, VARIANTS, ExpertStyle, expert_style, schedule_moe_layer
from codegen.schedule.styles import register_style, unregister_style
from codegen.schedule.styles.seq_tiled import SeqTiled

S = MoELayer(tokens=64, hidden=256, ffn=512, experts=8, top_k=2, gated=True)
B = make_budget("alveo-u280", 16, 16)
COUNTS = [30, 0, 20, 10, 16, 16, 16, 20]


def test_the_three_styles_are_registered_with_their_rtl():
    assert VARIANTS == tuple(STYLES) == ("seq-stream", "seq-tiled", "df") == SUPPORTED_VARIANTS
    assert all(isinstance(st, ExpertStyle) for st in STYLES.values())
    assert VARIANT_CODES == {None: 0, "seq-stream": 1, "seq-tiled": 2, "df": 3}
    assert {st.mode for st in STYLES.values()} == {"sequential", "dataflow"}


@pytest.mark.parametrize("style", ["sequential", "dataflow"])
def test_each_style_times_and_buffers_what_the_schedule_reports(style):
    r = schedule_moe_layer(S, COUNTS, B, style=style)
    for v in r.variants:
        st = expert_style(v.name)
        assert st.mode == v.mode and st.loop_order == v.loop_order and st.col_split(S, B) == v.col_split
        assert (st.cycles(S, v.min_tokens, B), st.cycles(S, v.max_tokens, B)) == (v.cycles_at_min, v.cycles_at_max)
        assert all(st.runs(S, B, c) for c in range(v.min_tokens, v.max_tokens + 1))
    names = {b.name for b in r.buffers}
    for v in r.variants:
        assert {b.name for b in expert_style(v.name).buffers(S, B, v.max_tokens)} <= names


def test_an_unknown_style_is_one_error_naming_the_allowed():
    with pytest.raises(ConfigError) as e:
        expert_style("systolic")
    assert e.value.field == "variant" and e.value.value == "systolic"
    assert "seq-stream, seq-tiled, df" in e.value.allowed


class HalfTiled(SeqTiled):
    """A style with no RTL block: the schedule may choose it, the RTL generator must refuse it."""

    name = "seq-tiled-half"
    rom_code = 9
    rtl_block = "none"

    def cycles(self, shape, count, budget):
        return super().cycles(shape, count, budget) // 2  # claims to be faster, so it is chosen


@pytest.fixture
def half_tiled():
    style = register_style(HalfTiled())
    yield style
    unregister_style(style.name)


def test_a_registered_style_is_chosen_without_editing_the_schedule(half_tiled):
    r = schedule_moe_layer(S, COUNTS, B, style="sequential")
    chosen = {v.name for v in r.variants}
    assert "seq-tiled-half" in chosen and "seq-tiled" not in chosen  # faster for every count > R
    assert all(v.name == "seq-stream" for v in r.variants if v.max_tokens <= B.rows)
    with pytest.raises(UnsupportedSchedule, match="seq-tiled-half"):
        build_program(r)
    assert "seq-tiled-half" not in SUPPORTED_VARIANTS  # the RTL's list is of the blocks it has


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered already"):
        register_style(SeqTiled())
