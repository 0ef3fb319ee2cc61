"""Measured cycles per stage of MoEKernel (Amaranth simulation, weight memory answering in the
next cycle, no back-pressure) against archmodel.fpga.schedule's prediction for the same routing,
and PE-array utilisation against the MAC beats of the layer."""
import pytest

from hdl_kernel_cases import CASES, Case, mac_beats, predicted_spans, run_case

#: cases whose output rows always fit one output word (C divides W or W divides n*C)
EXACT = ["gated-E4-k2", "plain-E4-k2", "gated-E8-k2-seqfront", "plain-E8-k1",
         "gated-tiled-seqfront", "plain-tiled", "k-equals-E", "T1-k1"]
#: cases where a PE row spans two output words: the down drain's y writes take longer
MULTI_WORD = ["C-above-W", "odd-sizes"]


def _measured_vs_predicted(case: Case) -> tuple[list[tuple[str, int, int]], object]:
    out = run_case(case)
    counts = out.gold.expert_counts.tolist()
    pred = predicted_spans(case, counts, out.kernel.program.front)
    assert len(out.run.spans) == len(pred)
    rows = out.kernel.program.rows
    table = [(name, span.cycles, cycles) for span, (name, cycles) in zip(out.run.spans, pred)]
    for span, (name, _) in zip(out.run.spans, pred):
        assert name.split(".")[-1] == rows[span.row].name
    return table, out


@pytest.mark.parametrize("name", EXACT)
def test_every_stage_takes_the_predicted_cycles(name: str) -> None:
    case = CASES[name]
    table, out = _measured_vs_predicted(case)
    assert [m for _, m, _ in table] == [p for _, _, p in table], table
    spans = out.run.spans
    for a, b in zip(spans, spans[1:]):
        assert b.start - a.end == case.switch_cycles
    # the predicted layer plus the one switch after reset
    total = spans[-1].end - spans[0].start
    assert total + case.switch_cycles == sum(p for _, _, p in table) + \
        case.switch_cycles * len(table)


@pytest.mark.parametrize("name", MULTI_WORD)
def test_multi_word_rows_cost_at_most_ten_percent_more_in_down(name: str) -> None:
    table, _ = _measured_vs_predicted(CASES[name])
    for task, measured, predicted in table:
        if task.endswith(".down"):
            assert predicted <= measured <= 1.1 * predicted, (task, measured, predicted)
        else:
            assert measured == predicted, (task, measured, predicted)


@pytest.mark.parametrize("name", ["gated-E4-k2", "gated-tiled-seqfront", "odd-sizes"])
def test_pe_busy_counts_every_mac_beat(name: str) -> None:
    out = run_case(CASES[name])
    assert out.run.busy_cycles == mac_beats(out.case, out.gold.expert_counts.tolist())


def test_switch_cycles_follow_the_budget() -> None:
    case = Case(switch_cycles=4, front="sequential", seed=4)
    table, out = _measured_vs_predicted(case)
    assert [m for _, m, _ in table] == [p for _, _, p in table]
    assert all(b.start - a.end == 4 for a, b in zip(out.run.spans, out.run.spans[1:]))
