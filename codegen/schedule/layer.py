"""``schedule_moe_layer``: the whole layer's stage table, variant table, cycles and resources."""
from __future__ import annotations

from collections.abc import Sequence

from accelerators.errors import ConfigError
from archmodel.fpga.budget import Budget, make_budget
from archmodel.fpga.resources import DesignParts, estimate_resources
from archmodel.moe_layer import MoELayer, check_counts
from archmodel.fpga.timing import BUFFER_READ_LATENCY, COMBINER_LATENCY, ceil_div

from .buffers import buffer_blocks, fixed_buffers
from .front import front_dataflow, front_sequential
from .stages import ScheduleResult, unit_stage
from .styles import STYLES, expert_stages, expert_style
from .variants import check_fixed_buffers, choose_variants, variant_table

__all__ = ["schedule_moe_layer"]


def schedule_moe_layer(shape: MoELayer, tokens_per_expert: Sequence[int], budget: Budget | str, *,
                       rows: int | None = None, cols: int | None = None, style: str = "intar",
                       stream_bytes: int = 16, variant_counts: Sequence[int] | None = None,
                       front: str | None = None, variants: Sequence[str] | None = None) -> ScheduleResult:
    """Schedule one MoE layer for the kernel generator.

    ``shape``: tokens ``T``, hidden ``d``, ffn ``f``, experts ``E``, ``top_k``, ``gated`` (the
    contract :class:`archmodel.moe_layer.MoELayer`; ``verification.golden.MoEShape`` is that
    class). ``tokens_per_expert``: ``E`` counts summing to ``T * top_k``. ``budget``: a
    :class:`Budget`, or a device name (then ``rows`` x ``cols`` is the PE array, default
    :func:`~archmodel.fpga.resources.default_array`).
    ``style``: ``intar`` (per group, the faster of dataflow and sequential), ``dataflow`` or
    ``sequential``. ``stream_bytes``: token stream width ``W`` (a power of two, 1..64).
    ``variant_counts``: the token counts the variant table covers (default ``1..T``).
    ``front``: ``"dataflow"`` or ``"sequential"`` forces that front mode (default: by style).
    ``variants``: the expert variants the schedule may use (default all of :data:`VARIANTS`);
    a generator whose RTL lacks a variant passes the ones it implements.
    """
    s = shape
    counts = check_counts(s, tokens_per_expert)
    if isinstance(budget, str):
        budget = make_budget(budget, rows, cols)
    elif rows is not None or cols is not None:
        budget = budget.with_array(rows or budget.rows, cols or budget.cols)
        if budget.rows < 1 or budget.cols < 1 or budget.pe_dsps > budget.fpga.dsp:
            most = budget.fpga.dsp * budget.macs_per_dsp
            raise ConfigError(None, "rows x cols", f"{budget.rows} x {budget.cols}",
                              f"at least 1 x 1 and at most {most} MACs on {budget.device}")
    if style not in ("intar", "dataflow", "sequential"):
        raise ConfigError(None, "style", style, "one of intar, dataflow, sequential")
    if stream_bytes not in (1, 2, 4, 8, 16, 32, 64):
        raise ConfigError(None, "stream_bytes", stream_bytes, "a power of two 1..64 (token stream word bytes)")
    W = stream_bytes
    b = budget
    if front not in (None, "dataflow", "sequential"):
        raise ConfigError(None, "front", front, "dataflow or sequential")
    allowed = tuple(STYLES if variants is None else variants)
    if not allowed or any(v not in STYLES for v in allowed):
        raise ConfigError(None, "variants", list(allowed), f"a non-empty subset of {', '.join(STYLES)}")

    # front group: dataflow or sequential (whichever is faster under intar)
    df_front_ok = style in ("dataflow", "intar") if front is None else front == "dataflow"
    front_df = front_dataflow(s, b, W, 0, 0) if df_front_ok else None
    if front_df is None and (front == "dataflow" or (front is None and style == "dataflow")):
        raise ConfigError(None, "front" if front else "style", front or style,
                          f"E <= cols for a streaming router (E = {s.experts}, cols = {b.cols})")
    seq_front_ok = style in ("sequential", "intar") if front is None else front == "sequential"
    front_sq = front_sequential(s, b, W, 0, 0) if seq_front_ok else None
    if front_df is not None and (front_sq is None or front_df[-1].end <= front_sq[-1].end):
        front_stages = front_df
    else:
        assert front_sq is not None
        front_stages = front_sq
    front_is_seq = front_stages is front_sq
    fixed = buffer_blocks(fixed_buffers(s, b, W, front_is_seq))
    check_fixed_buffers(b, fixed)  # before the variant table, whose size grows with the tokens
    table_counts = sorted(set(variant_counts if variant_counts is not None else range(1, s.tokens + 1))
                          | {c for c in counts if c > 0})
    for c in table_counts:
        if not isinstance(c, int) or not 1 <= c <= s.tokens:
            raise ConfigError(None, "variant_counts", c, f"token counts in 1..{s.tokens}")
    chosen = choose_variants(s, b, table_counts, style, fixed, allowed)

    stages = list(front_stages)
    clock = stages[-1].end
    group = stages[-1].group + 1
    per_expert: list[str | None] = []
    for e, c in enumerate(counts):
        if c == 0:
            per_expert.append(None)
            continue
        v = chosen[c]
        per_expert.append(v)
        st = expert_stages(s, e, c, b, v, clock + b.switch_cycles, len(stages), group)
        stages.extend(st)
        clock = st[-1].end
        group = st[-1].group + 1
    beats = s.tokens * ceil_div(s.hidden, W) * s.top_k
    stages.append(unit_stage(len(stages), "combine", "combiner", group, W, s.tokens, s.hidden, ("y", "dispatch"),
                              "out", clock + b.switch_cycles, BUFFER_READ_LATENCY + beats + COMBINER_LATENCY))
    total = stages[-1].end
    table = variant_table(s, b, chosen)

    bufs = fixed_buffers(s, b, W, front_is_seq)
    # the sequential styles share one engine and its buffers (sized by their largest count); each
    # dataflow style adds its own
    seq_counts = [c for c, v in chosen.items() if expert_style(v).mode == "sequential"]
    if seq_counts:
        bufs += expert_style(chosen[max(seq_counts)]).buffers(s, b, max(seq_counts))
    for name in sorted({v for v in chosen.values() if expert_style(v).mode == "dataflow"}, key=list(STYLES).index):
        bufs += expert_style(name).buffers(s, b, max(c for c, v in chosen.items() if v == name))
    dataflow = any(expert_style(v).mode == "dataflow" for v in set(chosen.values()))
    # one physical R x C array; a dataflow style re-routes its column groups (in-circuit switch)
    splits = (3 if s.gated else 2) - 1 if dataflow else 0
    parts = DesignParts(pe_arrays=((b.rows, b.cols),), requant_lanes=b.cols * (2 if s.gated else 1), lut_lanes=b.cols,
                        hidden_product_lanes=b.cols if s.gated else 0, combiner_lanes=W,
                        topk=(s.experts, s.top_k), gate_norm=(s.experts, s.top_k),
                        controllers=(3 if s.gated else 2) if dataflow else 1, mode_switch_splits=splits,
                        buffers=tuple(bufs), serializer_lanes=0 if front_is_seq else s.experts,
                        datapath=(W, b.cols, b.rows, s.tokens, s.gated))
    return ScheduleResult(s, b, style, W, counts, tuple(stages), table, tuple(per_expert), total,
                          estimate_resources(parts, b), tuple(bufs))
