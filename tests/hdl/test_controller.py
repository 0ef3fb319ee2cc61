"""The controller and schedule ROM: stage order, switch cycles, zero-token experts skipped,
variant selection by token count, rejected schedules, the schedule's front/variants options."""
from typing import Any

import pytest
from amaranth.sim import Simulator

from accelerators.errors import ConfigError
from archmodel.fpga.budget import make_budget
from codegen.schedule import schedule_moe_layer
from codegen.hdl.controller import Controller
from codegen.hdl.interface import KernelGeometry, requests_for_layer
from codegen.hdl.schedule_rom import (EXPERT_TASKS, SUPPORTED_VARIANTS, StageTask,
                                      UnsupportedSchedule, build_program)
from hdl_kernel_cases import Case, run_case
from verification import golden

SHAPE = golden.MoEShape(6, 8, 16, 4, 2, True)


def _program(counts: Any, *, rows: int = 2, front: str | None = "sequential", switch: int = 2,
             shape: golden.MoEShape = SHAPE) -> Any:
    budget = make_budget("alveo-u280", rows, 4, switch_cycles=switch)
    sched = schedule_moe_layer(shape, counts, budget, stream_bytes=8, front=front,
                               variants=SUPPORTED_VARIANTS)
    return build_program(sched)


def _drive(program: Any, counts: list[int], stage_len: int = 3, layers: int = 1) -> list[tuple]:
    """Run the controller alone: every stage lasts ``stage_len`` cycles; returns
    (first cycle, row, expert, cycles) per stage."""
    ctrl = Controller(program)
    spans: list[tuple] = []

    async def bench(ctx: Any) -> None:
        for e, c in enumerate(counts):
            ctx.set(ctrl.counts[e], c)
        cycle, in_stage, start = 0, 0, 0
        total = layers * len(program.stage_sequence(counts))
        while len(spans) < total:
            run = ctx.get(ctrl.run)
            if run:
                if in_stage == 0:
                    start = cycle
                    assert ctx.get(ctrl.first)
                in_stage += 1
                done = in_stage == stage_len
                ctx.set(ctrl.done, int(done))
                if done:
                    spans.append((start, int(ctx.get(ctrl.row)), int(ctx.get(ctrl.expert)),
                                  in_stage))
                    in_stage = 0
            else:
                ctx.set(ctrl.done, 0)
            await ctx.tick()
            cycle += 1
            assert cycle < 10_000

    sim = Simulator(ctrl)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return spans


@pytest.mark.parametrize("counts", [[3, 0, 5, 4], [0, 0, 6, 6], [6, 2, 0, 4], [1, 1, 5, 5]])
def test_controller_stage_order_skips_empty_experts(counts: list[int]) -> None:
    program = _program(counts)
    spans = _drive(program, counts)
    want = program.stage_sequence(counts)
    got = [(row, exp if program.rows[row].task in EXPERT_TASKS else None)
           for _, row, exp, _ in spans]
    assert got == want
    # experts with no tokens run nothing; the others run their count's variant block
    for e, c in enumerate(counts):
        rows = [row for row, exp in want if exp == e]
        assert rows == list(program.expert_rows(c))
        if c:
            variant = "seq-stream" if c <= 2 else "seq-tiled"
            assert {program.rows[r].variant for r in rows} == {variant}


@pytest.mark.parametrize("switch", [2, 3, 5])
def test_stages_are_separated_by_the_switch_cycles(switch: int) -> None:
    counts = [3, 0, 5, 4]
    program = _program(counts, switch=switch)
    spans = _drive(program, counts, stage_len=4, layers=2)
    for (s0, _, _, n0), (s1, _, _, _) in zip(spans, spans[1:]):
        assert s1 - (s0 + n0) == switch
    assert spans[0][0] == switch  # after reset: one switch into row 0
    # the second layer starts again at row 0
    per_layer = len(program.stage_sequence(counts))
    assert spans[per_layer][1] == 0


def test_rom_rows_follow_the_schedule() -> None:
    program = _program([3, 0, 5, 4])
    names = [r.name for r in program.rows]
    assert names == ["load", "router", "topk", "gate_norm", "up", "gate", "down", "up", "gate",
                     "down", "combine"]
    assert [(r.min_tokens, r.max_tokens, r.name) for r in program.ranges] == \
        [(1, 2, "seq-stream"), (3, 6, "seq-tiled")]
    up = program.rows[4]
    assert (up.k, up.col_tiles, up.n) == (8, 4, 16)
    down = program.rows[6]
    assert (down.k, down.col_tiles, down.n, down.last) == (16, 2, 8, True)
    df = _program([3, 0, 5, 4], front="dataflow")
    assert [r.name for r in df.rows][0] == "front" and df.front_rows == (0,)


def test_dataflow_experts_are_one_rom_row() -> None:
    budget = make_budget("alveo-u280", 2, 4)
    df = schedule_moe_layer(SHAPE, [3, 0, 5, 4], budget, stream_bytes=8, style="dataflow")
    assert {v.name for v in df.variants} == {"df"}
    program = build_program(df)
    assert [r.name for r in program.rows] == ["front", "expert_df", "combine"]
    row = program.rows[1]
    # split 2 / 1 / 1: A tiles are gate tiles of one column, 16 of them per row block
    assert (row.task, row.mode, row.variant, row.last, row.k, row.col_tiles, row.n) == \
        (StageTask.DF, 1, "df", True, 8, 16, 16)
    assert program.has_df and not program.has_seq
    assert program.stage_sequence([3, 0, 5, 4]) == [(0, None), (1, 0), (1, 2), (1, 3), (2, None)]


def test_unsupported_schedules_are_rejected() -> None:
    import dataclasses
    budget = make_budget("alveo-u280", 2, 4)
    df = schedule_moe_layer(SHAPE, [3, 0, 5, 4], budget, stream_bytes=8, style="dataflow")
    other_split = dataclasses.replace(df, variants=tuple(dataclasses.replace(v, col_split=(1, 2, 1))
                                                         for v in df.variants))
    with pytest.raises(UnsupportedSchedule, match="split"):
        build_program(other_split)  # the RTL splits the columns as the schedule model does
    partial = schedule_moe_layer(SHAPE, [3, 0, 5, 4], budget, stream_bytes=8,
                                 variants=SUPPORTED_VARIANTS, variant_counts=[3, 5])
    with pytest.raises(UnsupportedSchedule):
        build_program(partial)  # counts 1, 2, 4, 6 have no variant
    slow_switch = make_budget("alveo-u280", 2, 4, switch_cycles=1)
    with pytest.raises(UnsupportedSchedule):
        build_program(schedule_moe_layer(SHAPE, [3, 0, 5, 4], slow_switch, stream_bytes=8,
                                         variants=SUPPORTED_VARIANTS))


def test_schedule_options_restrict_front_and_variants() -> None:
    budget = make_budget("alveo-u280", 2, 4)
    for front in ("sequential", "dataflow"):
        r = schedule_moe_layer(SHAPE, [3, 0, 5, 4], budget, stream_bytes=8, front=front)
        assert {s.mode for s in r.stages if s.expert is None and s.task != "combine"} == {front}
    r = schedule_moe_layer(SHAPE, [3, 0, 5, 4], budget, stream_bytes=8, style="intar",
                           variants=("df",))
    assert {v.name for v in r.variants} == {"df"}
    r = schedule_moe_layer(SHAPE, [3, 0, 5, 4], budget, stream_bytes=8, style="dataflow",
                           front="dataflow", variants=SUPPORTED_VARIANTS + ("df",))
    assert set(r.expert_variant) == {None, "df"}
    with pytest.raises(ConfigError, match="seq-stream, seq-tiled"):
        schedule_moe_layer(SHAPE, [3, 0, 5, 4], budget, stream_bytes=8, style="dataflow",
                           variants=("seq-stream", "seq-tiled"))
    with pytest.raises(ConfigError, match="front"):
        schedule_moe_layer(SHAPE, [3, 0, 5, 4], budget, front="systolic")


@pytest.mark.parametrize("case", [Case(tokens=6, rows=2, front="sequential", seed=3),
                                  Case(tokens=6, rows=2, seed=3, style="dataflow")],
                         ids=["sequential", "df"])
def test_kernel_requests_in_order_and_none_for_empty_experts(case: Case) -> None:
    out = run_case(case)
    counts = out.gold.expert_counts.tolist()
    geom = KernelGeometry.from_schedule(out.kernel.schedule)
    want = requests_for_layer(geom, counts, out.kernel.program.front,
                              variants=out.kernel.schedule.variants)
    assert [r for _, r in out.run.requests] == want
    if case.style == "dataflow":  # B + 1 phase requests per expert: DF_UP, DF x (B - 1), DF_DOWN
        kinds = [r.tensor.name for _, r in out.run.requests if r.expert == 2 and r.tensor >= 5]
        assert kinds == ["DF_UP"] + ["DF"] * (-(-counts[2] // 2) - 1) + ["DF_DOWN"]


def test_kernel_stage_order_matches_the_program() -> None:
    case = Case(seed=12)
    out = run_case(case)
    counts = out.gold.expert_counts.tolist()
    assert 0 in counts  # this seed leaves an expert without tokens
    got = [(s.row, s.expert) for s in out.run.spans]
    assert got == out.kernel.program.stage_sequence(counts)
