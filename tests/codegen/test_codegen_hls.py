"""The emitted HLS C++: structure (one switch, tables from the plan, pragmas) and the interface."""
from __future__ import annotations

import re

import pytest

from codegen.paths import absolute_paths
from codegen.hls.emit import emit_hls, hls_files, hls_interface, render_hls, requant_order
from codegen.plan import build_plan
from codegen.spec import KernelSpec

SEQ = KernelSpec(16, 64, 128, 8, 2, True, pe_rows=8, pe_cols=8)          # seq-stream / seq-tiled
DF = KernelSpec(16, 64, 128, 8, 2, False, pe_rows=64, pe_cols=128)        # df variant, the U280's largest array
SEQ_FRONT = KernelSpec(12, 40, 72, 8, 1, False, pe_rows=4, pe_cols=4, style="sequential")


def table_rows(text: str, table: str) -> list[str]:
    body = re.search(table + r"\[[A-Z_]+\] = \{\n(.*?)\n\};", text, re.S)
    assert body, table
    return [ln for ln in body.group(1).splitlines() if ln.strip().startswith("{")]


@pytest.mark.parametrize("spec", [SEQ, DF, SEQ_FRONT], ids=["seq", "df", "seqfront"])
def test_one_switch_driven_by_tables_from_the_plan(spec: KernelSpec) -> None:
    plan = build_plan(spec)
    cpp = render_hls(plan)[f"{plan.name}.cpp"]
    code = re.sub(r"//[^\n]*", "", cpp)
    assert len(re.findall(r"\bswitch\s*\(", code)) == 1
    steps = table_rows(cpp, "STEP_TABLE")
    n_steps = len(plan.front) + sum(len(v.steps) for v in plan.variants) + 1
    assert len(steps) == n_steps
    stages = table_rows(cpp, "STAGE_TABLE")
    assert len(stages) == sum(len(s.stages) for s in plan.front) + sum(
        len(st.stages) for v in plan.variants for st in v.steps) + 1
    variants = table_rows(cpp, "VARIANT_TABLE")
    assert len(variants) == len(plan.variants)
    for row, v in zip(variants, plan.variants):
        nums = [int(x) for x in re.findall(r"-?\d+", row.split("//")[0])]
        assert nums[:2] == [v.variant.min_tokens, v.variant.max_tokens]
    # loop bounds of the first expert stage row are the variant's
    first_expert = plan.variants[0].steps[0].stages[0]
    row = stages[sum(len(s.stages) for s in plan.front)]
    nums = [int(x) for x in re.findall(r"-?\d+", row.split("//")[0].replace("TASK_UP", ""))]
    assert nums[:6] == [first_expert.m, first_expert.n, first_expert.k, first_expert.rows, first_expert.cols,
                        first_expert.col_offset]
    # run-time selection and skipping
    assert "select_variant(count)" in cpp and "if (count == 0)" in cpp


def test_pragmas_where_they_belong() -> None:
    for spec, dataflow_expert in ((SEQ, False), (DF, True)):
        plan = build_plan(spec)
        cpp = render_hls(plan)[f"{plan.name}.cpp"]
        for pragma in ("HLS INTERFACE axis port=tokens_in", "HLS INTERFACE axis port=tokens_out",
                       "HLS INTERFACE m_axi port=weights", "HLS INTERFACE m_axi port=rq",
                       "HLS INTERFACE s_axilite port=return", "HLS PIPELINE II=1", "HLS UNROLL",
                       "HLS ARRAY_PARTITION variable=acc complete dim=0", "HLS DATAFLOW", "HLS STREAM"):
            assert f"MOEARCH_HLS_PRAGMA({pragma}" in cpp, pragma
        assert ("df_block" in cpp) == dataflow_expert
        assert ("expert_seq" in cpp) == (not dataflow_expert)
        assert f"depth={plan.weight_words}" in cpp
        assert "#pragma" not in cpp  # every pragma goes through the macro (g++ -Wall -Werror)


def test_files_are_deterministic_and_path_free(tmp_path) -> None:
    plan = build_plan(SEQ)
    a = emit_hls(plan, tmp_path / "a")
    b = emit_hls(plan, tmp_path / "b")
    assert [p.relative_to(tmp_path / "a").as_posix() for p in a] == list(hls_files(plan))
    for pa, pb in zip(a, b):
        text = pa.read_text()
        assert text == pb.read_text()
        assert absolute_paths(text) == [], pa.name
        assert str(tmp_path) not in text


def test_kernel_name_is_the_top_function() -> None:
    plan = build_plan(KernelSpec(8, 16, 32, 4, 1, False, pe_rows=2, pe_cols=4, name="layer7"))
    files = render_hls(plan)
    assert set(files) >= {"layer7.h", "layer7.cpp", "layer7_tb.cpp", "run_hls.tcl", "Makefile"}
    assert "void layer7(hls::stream<layer7_cfg::token_word>& tokens_in" in files["layer7.h"]
    assert "set_top layer7" in files["run_hls.tcl"]
    assert "set_part xcu280-fsvh2892-2L-e" in files["run_hls.tcl"]


def test_interface_description() -> None:
    plan = build_plan(SEQ)
    itf = hls_interface(plan)
    ports = {p["name"]: p for p in itf["ports"]}
    assert ports["tokens_in"]["protocol"] == "axis" and ports["tokens_in"]["width_bits"] == 128
    assert ports["weights"]["protocol"] == "m_axi" and ports["weights"]["width_bits"] == 64
    assert ports["weights"]["words"] == plan.weight_words
    assert ports["rq"]["words"] == 1 + 8 * 4
    assert itf["formats"]["requant_block"]["order"][:5] == ["gate_weight", "e0.up", "e0.gate", "e0.hidden",
                                                           "e0.down"]
    assert len(requant_order(build_plan(DF))) == 1 + 8 * 2
    lanes = [f for f in itf["formats"]["token_stream"]["fields"] if f["name"].startswith("lane")]
    assert len(lanes) == 16 and lanes[1]["bits"] == [8, 15] and lanes[0]["signed"]
