"""emit_verilog: the plan's kernel as Verilog without absolute paths, lint-clean under Verilator
(codegen.hdl.export.lint_verilog: default warnings fatal, WIDTHEXPAND waived)."""
from pathlib import Path

import pytest

from accelerators.errors import ConfigError
from codegen.hdl.export import WALL_STYLE_WARNINGS, absolute_paths, lint_verilog
from codegen.plan import build_plan
from codegen.rtl import emit_verilog, rtl_description
from codegen.spec import KernelSpec
from verification.pytest_plugin import ensure_simulator

REPO = Path(__file__).resolve().parents[2]

SPECS = {
    "gated-E4-k2": KernelSpec(tokens=4, hidden=8, ffn=16, experts=4, top_k=2, gated=True,
                              pe_rows=4, pe_cols=4, stream_bytes=8, name="moe_g4"),
    "plain-E8-k1": KernelSpec(tokens=4, hidden=8, ffn=16, experts=8, top_k=1, gated=False,
                              activation="relu", pe_rows=4, pe_cols=8, stream_bytes=2,
                              name="moe_p8"),
    "gated-E8-k2-tiled": KernelSpec(tokens=8, hidden=8, ffn=16, experts=8, top_k=2, gated=True,
                                    pe_rows=2, pe_cols=4, stream_bytes=4, name="moe_g8"),
    # style="dataflow": every expert runs df (array split 2/2/1, two-row blocks)
    "gated-df": KernelSpec(tokens=6, hidden=8, ffn=16, experts=4, top_k=2, gated=True,
                           pe_rows=2, pe_cols=5, stream_bytes=2, style="dataflow", name="moe_gdf"),
    "plain-df": KernelSpec(tokens=4, hidden=8, ffn=16, experts=4, top_k=2, gated=False,
                           activation="relu", pe_rows=4, pe_cols=4, stream_bytes=8,
                           style="dataflow", name="moe_pdf"),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_emitted_verilog_is_portable_and_lint_clean(name: str, tmp_path: Path) -> None:
    plan = build_plan(SPECS[name])
    paths = emit_verilog(plan, tmp_path / "rtl")
    assert paths == [tmp_path / "rtl" / f"{plan.name}.v"]
    assert sorted(p.name for p in (tmp_path / "rtl").iterdir()) == [f"{plan.name}.v"]
    text = paths[0].read_text()
    assert f"module {plan.name}(" in text
    assert absolute_paths(text) == []
    assert str(REPO) not in text and str(Path.home()) not in text and str(tmp_path) not in text
    for port in ("x_in__payload", "y_out__ready", "wreq__payload", "wdata__valid", "stage",
                 "stage_valid", "pe_busy"):
        assert port in text
    verilator = ensure_simulator("verilator").executable
    result = lint_verilog(text, top=plan.name, verilator=verilator)
    assert result.ok, result.messages
    # -Wall: nothing beyond the style warnings of Yosys-written Verilog
    strict = lint_verilog(text, top=plan.name, verilator=verilator, wall=True,
                          waive=WALL_STYLE_WARNINGS)
    assert strict.ok, strict.messages


def test_the_shapes_use_both_fronts_and_every_variant() -> None:
    fronts = {build_plan(s).schedule.stages[0].mode for s in SPECS.values()}
    assert fronts == {"dataflow", "sequential"}
    variants = {v.name for s in SPECS.values() for v in build_plan(s).schedule.variants}
    assert variants == {"seq-stream", "seq-tiled", "df"}
    desc = rtl_description(build_plan(SPECS["gated-E8-k2-tiled"]))
    assert {r["variant"] for r in desc["rom"]} >= {"seq-stream", "seq-tiled"}
    assert desc["param_block"]["words"] == 1 + 8 * 4
    assert [f["name"] for f in desc["weight_request"]["fields"]] == ["tensor", "expert", "tile",
                                                                     "cols"]


def test_a_dataflow_plan_emits_its_split_array(tmp_path: Path) -> None:
    plan = build_plan(SPECS["gated-df"])
    assert {v.name for v in plan.schedule.variants} == {"df"}
    desc = rtl_description(plan)
    assert [r["name"] for r in desc["rom"]] == ["front", "expert_df", "combine"]
    assert desc["rom"][1]["variant"] == "df" and desc["rom"][1]["mode"] == 1
    assert desc["weight_request"]["tensors"]["df_up"] == 5
    # split 2 / 2 / 1: A tiles are 2-column gate tiles (8 of f = 16), D tiles 1 column (8 of d)
    assert desc["dataflow_expert"]["col_split"] == [2, 2, 1]
    assert desc["dataflow_expert"]["words"] == {"df_up": 8 * 8, "df": 8 * 16, "df_down": 8 * 16}
    assert rtl_description(build_plan(SPECS["plain-E8-k1"]))["dataflow_expert"] is None
    text = emit_verilog(plan, tmp_path)[0].read_text()
    # one physical array as two column groups (up+gate: 4 columns, down: 1)
    assert text.count("module moe_gdf") == 1


def test_a_schedule_the_rtl_does_not_implement_is_refused(tmp_path: Path) -> None:
    import dataclasses
    plan = build_plan(SPECS["gated-df"])
    odd = dataclasses.replace(plan.schedule, variants=tuple(
        dataclasses.replace(v, col_split=(1, 1, 3)) for v in plan.schedule.variants))
    bad = dataclasses.replace(plan, schedule=odd)
    with pytest.raises(ConfigError, match="split"):
        emit_verilog(bad, tmp_path)
    assert not tmp_path.joinpath(f"{plan.name}.v").exists()
