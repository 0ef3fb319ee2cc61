"""Measured cycles per stage of MoEKernel (Amaranth simulation, weight memory answering in the
next cycle, no back-pressure) against codegen.schedule's prediction for the same routing,
and PE-array utilisation against the MAC beats of the layer."""
import pytest

from hdl_kernel_cases import CASES, Case, df_words, mac_beats, predicted_spans, run_case

#: every test shape: both fronts, both sequential variants, C <= W and C > W (a PE row spanning
#: two or three output words, written in one cycle to the banked y buffer)
EXACT = sorted(CASES)

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


def test_rows_spanning_several_output_words_keep_the_pace() -> None:
    # C = 8 lanes of PE output against W = 2 bytes a word: every down row covers 4 words
    case = Case(gated=True, cols=8, stream_bytes=2, seed=6)
    table, out = _measured_vs_predicted(case)
    assert [m for _, m, _ in table] == [p for _, _, p in table], table
    assert len(out.kernel.program.rows) > 2


@pytest.mark.parametrize("name", ["gated-E4-k2", "gated-tiled-seqfront", "odd-sizes", "df-gated",
                                  "df-plain-blocks-seqfront", "df-window-wrap", "mixed-df-seq"])
def test_pe_busy_counts_every_mac_beat(name: str) -> None:
    # a df stage: one cycle per weight word in which a sub-array performs its MACs (K >= R
    # here, so the two sub-arrays accumulate in the same cycles)
    out = run_case(CASES[name])
    assert out.run.busy_cycles == mac_beats(out.case, out.gold.expert_counts.tolist())


def test_switch_cycles_follow_the_budget() -> None:
    case = Case(switch_cycles=4, front="sequential", seed=4)
    table, out = _measured_vs_predicted(case)
    assert [m for _, m, _ in table] == [p for _, _, p in table]
    assert all(b.start - a.end == 4 for a, b in zip(out.run.spans, out.run.spans[1:]))


@pytest.mark.parametrize("name", ["gated-E4-k2", "plain-tiled", "T1-k1"])
def test_dataflow_front_internals_follow_the_model(name: str) -> None:
    case = CASES[name]
    out = run_case(case, probes=("x_fire", "pe_in_fire", "gn_in_fire", "gn_out_fire"))
    assert out.kernel.program.front == "dataflow"
    sched = case.schedule(out.gold.expert_counts.tolist())
    model = {s.task: s for s in sched.stages if s.group == 0}
    front = out.run.spans[0]
    rel = {k: [c - front.start for c in v if c < front.end] for k, v in out.run.probes.items()}
    assert rel["x_fire"][-1] + 1 == model["load"].end
    assert rel["pe_in_fire"][0] == model["router"].start + 1  # buffer read, then the first beat
    assert rel["gn_in_fire"][0] == model["gate_norm"].start
    assert rel["gn_out_fire"][-1] + 1 == model["gate_norm"].end == front.cycles
    # one token every 20 cycles once the normaliser is the bottleneck
    assert all(b - a >= 20 for a, b in zip(rel["gn_in_fire"], rel["gn_in_fire"][1:]))


@pytest.mark.parametrize("name", ["df-gated", "df-plain", "df-gated-blocks", "df-window-wrap",
                                  "df-short-k", "df-one-row"])
def test_dataflow_expert_internals_follow_the_model(name: str) -> None:
    """Inside each df stage: the last up_q row (up's end), the last h row (gate's end, or up's
    when not gated), D's first beat (down's start + the buffer read) and the sub-arrays' beats
    on the cycles codegen.schedule predicts."""
    case = CASES[name]
    out = run_case(case, probes=("df_a_beat", "df_d_beat", "df_upq_row", "df_h_row", "df_y_row"))
    counts = out.gold.expert_counts.tolist()
    sched = case.schedule(counts)
    rows = out.kernel.program.rows
    spans = [s for s in out.run.spans if s.expert is not None]
    assert spans and all(rows[s.row].name == "expert_df" for s in spans)
    for span in spans:
        model = {st.task.split(".")[1]: st for st in sched.stages if st.expert == span.expert}
        t0 = model["up"].start
        rel = {k: [c - span.start for c in v if span.start <= c < span.end]
               for k, v in out.run.probes.items()}
        h_end = model["gate"].end if case.gated else model["up"].end
        assert rel["df_h_row"][-1] + 1 == h_end - t0
        if case.gated:
            assert rel["df_upq_row"][-1] + 1 == model["up"].end - t0
        assert rel["df_d_beat"][0] - 1 == model["down"].start - t0
        assert span.cycles == model["down"].end - t0
        # every weight word drives a beat: DF_UP + (B - 1) x DF + DF_DOWN words
        beats = sorted(set(rel["df_a_beat"]) | set(rel["df_d_beat"]))
        assert len(beats) == df_words(case, counts[span.expert])
        # one y row per token and D tile (cd columns each)
        cd = sched.variant_for(counts[span.expert]).col_split[-1]
        assert len(rel["df_y_row"]) == counts[span.expert] * -(-case.hidden // cd)
