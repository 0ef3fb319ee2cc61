"""On-chip buffers of a schedule and the choice of expert variant per token count."""
from __future__ import annotations

from collections.abc import Sequence

from accelerators.errors import ConfigError
from archmodel.fpga.budget import Budget
from archmodel.fpga.resources import Buffer, bram36_blocks
from archmodel.moe_layer import MoELayer
from archmodel.fpga.timing import ceil_div

from .experts import df_split, expert_cycles
from .stages import VARIANTS, ExpertVariant

__all__ = ["buffer_blocks", "choose_variants", "df_buffers", "fixed_buffers", "seq_buffers", "variant_table"]


def fixed_buffers(s: MoELayer, b: Budget, W: int, front_seq: bool) -> list[Buffer]:
    T, d, E, k = s.tokens, s.hidden, s.experts, s.top_k
    tbits = max(1, (T - 1).bit_length())
    bufs = [
        Buffer("x", 8 * T, d, banks=W, lane_bits=8),         # one word per hidden index: any R rows gather
        Buffer("dispatch.tokens", tbits, T * k),             # per-expert token lists
        Buffer("dispatch.gates", 16, T * k),                 # Q1.15 gate weight per (token, rank)
        Buffer("y", 8 * W, T * k * ceil_div(d, W), lane_bits=8),  # expert outputs awaiting combine
        Buffer("exp_rom", 16, 256, rom=True),                # GateNormalizer EXP table (a ROM in logic)
    ]
    if front_seq:
        bufs += [Buffer("logits", 32 * min(E, b.cols), T * ceil_div(E, b.cols)),
                 Buffer("sel", k * (32 + max(1, (E - 1).bit_length())), T)]
    return bufs


def seq_buffers(s: MoELayer, b: Budget, count: int) -> list[Buffer]:
    R, C, f = b.rows, b.cols, s.ffn
    rt = ceil_div(count, R)
    bufs = [Buffer("h", 8 * R, rt * f, banks=C, lane_bits=8)]       # LaneBanks: C banks of R byte lanes
    if s.gated:
        bufs.append(Buffer("up_q", 8 * R, rt * f, banks=C, lane_bits=8))
    if count > R:
        bufs.append(Buffer("wtile", 8 * C, max(s.hidden, f)))
    return bufs


def df_buffers(s: MoELayer, b: Budget) -> list[Buffer]:
    R, f = b.rows, s.ffn
    bufs = [Buffer("h.blocks", 8 * R, 2 * f)]
    if s.gated:
        bufs.append(Buffer("up_q.blocks", 8 * R, 2 * f))
    return bufs


def _capacity_blocks(b: Budget) -> float:
    return b.bram36 + 8.0 * b.uram  # a URAM288 holds eight BRAM36's bits (UG573)


def buffer_blocks(bufs: Sequence[Buffer]) -> float:
    return sum(bram36_blocks(x.width_bits, x.depth) for x in bufs if x.depth > 64)


# ----------------------------------------------------------------------------------------------
# the schedule


def choose_variants(s: MoELayer, b: Budget, counts: Sequence[int], style: str, fixed: float,
                     allowed: Sequence[str] = VARIANTS) -> dict[int, str]:
    """Variant per token count: the fastest whose buffers fit next to the fixed ones."""
    cap = _capacity_blocks(b)
    if fixed > cap:
        raise ConfigError(None, "budget", f"{b.device}: {b.bram36} BRAM36, {b.uram} URAM",
                          f"at least {fixed:g} BRAM36-equivalents for the token, dispatch and output buffers")
    df_ok = df_split(s, b.cols) is not None and fixed + buffer_blocks(df_buffers(s, b)) <= cap

    def pick(c: int, reserve: float) -> str | None:
        seq = "seq-stream" if c <= b.rows else "seq-tiled"
        options = []
        if style in ("sequential", "intar") and seq in allowed \
                and fixed + reserve + buffer_blocks(seq_buffers(s, b, c)) <= cap:
            options.append(seq)
        if style in ("dataflow", "intar") and df_ok and "df" in allowed:
            options.append("df")
        if not options:
            return None
        return min(options, key=lambda v: (expert_cycles(s, c, b, v), v != seq))

    reserve = 0.0
    chosen = {c: pick(c, reserve) for c in counts if c > 0}
    if any(v == "df" for v in chosen.values()) and any(v != "df" for v in chosen.values()):
        reserve = buffer_blocks(df_buffers(s, b))  # both kinds in one design: their buffers coexist
        chosen = {c: pick(c, reserve) for c in counts if c > 0}
    bad = sorted(c for c, v in chosen.items() if v is None)
    if bad:
        raise ConfigError(None, "budget", f"{b.device}: {b.rows}x{b.cols}, {b.bram36} BRAM36, {b.uram} URAM",
                          f"enough on-chip memory for an expert with {bad[0]} tokens in style {style!r} "
                          f"with variants {', '.join(allowed)} (the kernel keeps every intermediate on chip)")
    return chosen  # type: ignore[return-value]


def variant_table(s: MoELayer, b: Budget, chosen: dict[int, str]) -> tuple[ExpertVariant, ...]:
    out: list[ExpertVariant] = []
    counts = sorted(chosen)
    i = 0
    while i < len(counts):
        j = i
        while j + 1 < len(counts) and chosen[counts[j + 1]] == chosen[counts[i]] and counts[j + 1] == counts[j] + 1:
            j += 1
        name = chosen[counts[i]]
        split = df_split(s, b.cols) if name == "df" else (b.cols,)
        assert split is not None
        out.append(ExpertVariant(name, "dataflow" if name == "df" else "sequential", counts[i], counts[j], split,
                                 "m,n" if name == "df" else "n,m", expert_cycles(s, counts[i], b, name),
                                 expert_cycles(s, counts[j], b, name)))
        i = j + 1
    return tuple(out)
