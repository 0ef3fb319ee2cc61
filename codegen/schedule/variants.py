"""The choice of kernel style (expert variant) per token count, and the table of chosen variants."""
from __future__ import annotations

from collections.abc import Sequence

from accelerators.errors import ConfigError
from archmodel.fpga.budget import Budget
from archmodel.moe_layer import MoELayer

from .buffers import buffer_blocks, capacity_blocks
from .stages import ExpertVariant
from .styles import STYLES, expert_style

__all__ = ["check_fixed_buffers", "choose_variants", "variant_table"]

#: which styles each schedule style may use, by their mode
POLICY_MODES = {"intar": ("sequential", "dataflow"), "sequential": ("sequential",), "dataflow": ("dataflow",)}


def check_fixed_buffers(b: Budget, fixed: float) -> None:
    """ConfigError when the buffers every schedule needs (tokens, dispatch, output) exceed the part."""
    if fixed > capacity_blocks(b):
        raise ConfigError(None, "budget", f"{b.device}: {b.bram36} BRAM36, {b.uram} URAM",
                          f"at least {fixed:g} BRAM36-equivalents for the token, dispatch and output buffers")


def choose_variants(s: MoELayer, b: Budget, counts: Sequence[int], style: str, fixed: float,
                    allowed: Sequence[str] | None = None) -> dict[int, str]:
    """Style per token count: the fastest registered one (ties: a sequential one first, then the
    registration order) that may run the count and whose buffers fit next to the fixed ones.

    A sequential style's buffers must also leave room for the dataflow styles' when the design uses
    both kinds (their buffers coexist); a dataflow style's buffers do not depend on the count."""
    allowed = tuple(STYLES) if allowed is None else tuple(allowed)
    cap = capacity_blocks(b)
    check_fixed_buffers(b, fixed)
    modes = POLICY_MODES[style]
    candidates = [st for name, st in STYLES.items() if name in allowed and st.mode in modes]  # registration order

    def pick(c: int, reserve: float) -> str | None:
        options = [st for st in candidates if st.runs(s, b, c)
                   and fixed + (reserve if st.mode == "sequential" else 0.0) + buffer_blocks(st.buffers(s, b, c)) <= cap]
        if not options:
            return None
        return min(options, key=lambda st: (st.cycles(s, c, b), st.mode != "sequential")).name  # min keeps the first of ties

    positive = [c for c in counts if c > 0]
    chosen = {c: pick(c, 0.0) for c in positive}
    used = [expert_style(v) for v in set(chosen.values()) if v is not None]
    if {st.mode for st in used} == {"sequential", "dataflow"}:
        reserve = sum(max(buffer_blocks(st.buffers(s, b, c)) for c in positive) for st in used if st.mode == "dataflow")
        chosen = {c: pick(c, reserve) for c in positive}
    bad = sorted(c for c, v in chosen.items() if v is None)
    if bad:
        raise ConfigError(None, "budget", f"{b.device}: {b.rows}x{b.cols}, {b.bram36} BRAM36, {b.uram} URAM",
                          f"enough on-chip memory for an expert with {bad[0]} tokens in style {style!r} "
                          f"with variants {', '.join(allowed)} (the kernel keeps every intermediate on chip)")
    return chosen  # type: ignore[return-value]


def variant_table(s: MoELayer, b: Budget, chosen: dict[int, str]) -> tuple[ExpertVariant, ...]:
    """Runs of consecutive token counts with the same style, each one :class:`ExpertVariant`."""
    out: list[ExpertVariant] = []
    counts = sorted(chosen)
    i = 0
    while i < len(counts):
        j = i
        while j + 1 < len(counts) and chosen[counts[j + 1]] == chosen[counts[i]] and counts[j + 1] == counts[j] + 1:
            j += 1
        st = expert_style(chosen[counts[i]])
        split = st.col_split(s, b)
        assert split is not None
        out.append(ExpertVariant(st.name, st.mode, counts[i], counts[j], split, st.loop_order,
                                 st.cycles(s, counts[i], b), st.cycles(s, counts[j], b)))
        i = j + 1
    return tuple(out)
