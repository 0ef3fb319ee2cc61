"""One expert's stages, as the expert styles (:mod:`codegen.schedule.styles`) build them: the sequential
engine and the lockstep dataflow expert ``df``."""
from __future__ import annotations

from dataclasses import dataclass

from accelerators.errors import ConfigError
from archmodel.fpga.budget import Budget
from archmodel.fpga.styles import split_columns
from archmodel.moe_layer import MoELayer
from archmodel.fpga.timing import BUFFER_READ_LATENCY, ceil_div

from .stages import POST_DOWN, POST_GATE, POST_UP_GATED, POST_UP_PLAIN, Stage, mem_cycles, pe_stage

__all__ = ["dataflow_stages", "df_split", "df_timing", "sequential_stages"]


def df_split(s: MoELayer, cols: int) -> tuple[int, ...] | None:
    parts = 3 if s.gated else 2
    if cols < parts:
        return None
    return split_columns([s.hidden * s.ffn] * parts, cols)


def sequential_stages(shape: MoELayer, expert: int, count: int, budget: Budget, variant: str,
                      start: int = 0, index: int = 0, group: int = 0) -> tuple[Stage, ...]:
    """up, [gate,] down of one expert on the whole array, column tiles outer (the sequential styles)."""
    s = shape
    R, C, d, f = budget.rows, budget.cols, s.hidden, s.ffn
    e = f"e{expert}"
    order = "n,m"
    out: list[Stage] = []
    t = start
    up_dst = "up_q" if s.gated else "h"
    out.append(pe_stage(index, f"{e}.up", group, expert, variant, count, f, d, R, C, 0, ("x", f"w:{e}.up"),
                         up_dst, POST_UP_GATED if s.gated else POST_UP_PLAIN, t, budget, True, order))
    if s.gated:
        t = out[-1].end + budget.switch_cycles
        out.append(pe_stage(index + 1, f"{e}.gate", group + 1, expert, variant, count, f, d, R, C, 0,
                             ("x", f"w:{e}.gate", "up_q"), "h", POST_GATE, t, budget, True, order))
    t = out[-1].end + budget.switch_cycles
    out.append(pe_stage(index + len(out), f"{e}.down", group + len(out), expert, variant, count, d, f, R, C, 0,
                         ("h", f"w:{e}.down"), "y", POST_DOWN, t, budget, True, order))
    return tuple(out)


def dataflow_stages(shape: MoELayer, expert: int, count: int, budget: Budget, variant: str = "df",
                    start: int = 0, index: int = 0, group: int = 0) -> tuple[Stage, ...]:
    """The lockstep dataflow expert: up/gate and down on column groups at once (the ``df`` style)."""
    split = df_split(shape, budget.cols)
    if split is None:
        raise ConfigError(None, "variant", variant, f"df needs at least {3 if shape.gated else 2} PE columns")
    return _expert_dataflow(shape, expert, count, budget, split, start, index, group, variant)


@dataclass(frozen=True)
class _DfTimes:
    """Event cycles of one dataflow expert (absolute; see :func:`df_timing`)."""

    acc_a: tuple[int, ...]      # accumulate cycle of each A tile's last beat, in order
    acc_d: tuple[int, ...]      # the same for D tiles
    first_d_beat: int           # first beat of sub-array D


def df_timing(blocks: int, tiles_a: int, tiles_d: int, d: int, f: int, rows: int, width_h: int,
               post_h: int, start: int) -> _DfTimes:
    """Beat times of the lockstep dataflow expert (the RTL's ``expert_df`` stage).

    One word of the weight stream a cycle feeds both sub-arrays: phase ``p = 0 .. blocks`` has
    A (up and gate, ``K = d``, ``tiles_a`` tiles) on row block ``p`` (``p < blocks``) and D
    (down, ``K = f``, ``tiles_d`` tiles) on row block ``p - 1`` (``p >= 1``); its words are the
    ``max`` of the two parts' beats, back to back. The first beat is at ``start + 1`` (one
    buffer read) and a beat follows the previous one a cycle later unless (PE contract) the
    sub-array's previous tile still occupies the drain bank (``acc[n] = max(last beat + 1,
    acc[n-1] + R)``; the next beat of that sub-array waits for ``acc[n-1]``), or a D beat of the
    first D tile reads an ``h`` column not yet written (``h`` tile ``t`` of a block is written
    at ``acc + R + post_h``; the read is issued a cycle later, the beat a cycle after that).
    Either wait holds both sub-arrays (they share the word). Work is proportional to the
    number of tiles, not of beats; without possible waits (``d, f >= R`` and every ``h``
    column written early enough) the beats are simply consecutive.
    """
    la, ld = tiles_a * d, tiles_d * f
    lens = [max(la if p < blocks else 0, ld if p >= 1 else 0) for p in range(blocks + 1)]
    lag = post_h + rows + 3  # last A beat of an h tile -> earliest D beat reading it
    fast = d >= rows and f >= rows and all(
        lens[p - 1] - (t + 1) * d + t * width_h + 1 >= lag
        for p in range(1, blocks + 1) for t in (0, tiles_a - 1))
    if fast:
        acc_a: list[int] = []
        acc_d: list[int] = []
        base = start + 1  # beat time of the phase's slot 0
        for p, n in enumerate(lens):
            if p < blocks:
                acc_a += [base + (t + 1) * d for t in range(tiles_a)]
            if p >= 1:
                acc_d += [base + (t + 1) * f for t in range(tiles_d)]
            base += n
        return _DfTimes(tuple(acc_a), tuple(acc_d), start + 1 + lens[0])
    acc_a, acc_d = [], []
    first_d, first_d_slot = -1, -1
    t_prev, g_prev, base = start, -1, 0
    for p, n in enumerate(lens):
        ev: list[tuple[int, int, str, int]] = []  # (slot, 0 = bound / 1 = tile end, kind, tile)
        if p < blocks:
            for t in range(tiles_a):
                ev += [(t * d, 0, "a", t), (t * d + d - 1, 1, "A", t)]
        if p >= 1:
            for t in range(tiles_d):
                ev += [(t * f, 0, "d", t), (t * f + f - 1, 1, "D", t)]
            ev += [(t * width_h, 0, "h", t) for t in range(tiles_a)]
        ev.sort()
        for slot, _, kind, t in ev:
            g = base + slot
            now = t_prev + (g - g_prev)
            if kind == "a" and acc_a:
                now = max(now, acc_a[-1])
            elif kind == "d" and acc_d:
                now = max(now, acc_d[-1])
            elif kind == "h":
                now = max(now, acc_a[(p - 1) * tiles_a + t] + rows + post_h + 2)
            elif kind == "A":
                acc_a.append(max(now + 1, acc_a[-1] + rows) if acc_a else now + 1)
            elif kind == "D":
                acc_d.append(max(now + 1, acc_d[-1] + rows) if acc_d else now + 1)
            if kind in "dh" and (first_d < 0 or g == first_d_slot):
                first_d, first_d_slot = now, g  # after every bound at D's first slot
            t_prev, g_prev = now, g
        base += n
    return _DfTimes(tuple(acc_a), tuple(acc_d), first_d)


def _expert_dataflow(s: MoELayer, expert: int, count: int, b: Budget, split: tuple[int, ...], start: int,
                     index: int, group: int, variant: str = "df") -> tuple[Stage, ...]:
    R, d, f = b.rows, s.hidden, s.ffn
    e = f"e{expert}"
    blocks = ceil_div(count, R)
    cu = split[0]
    cg = split[1] if s.gated else 0
    cd = split[-1]
    width_h = cg if s.gated else cu
    tiles_a, tiles_up, tiles_d = ceil_div(f, width_h), ceil_div(f, cu), ceil_div(d, cd)
    h_post = POST_GATE if s.gated else POST_UP_PLAIN
    tm = df_timing(blocks, tiles_a, tiles_d, d, f, R, width_h, h_post, start)
    last_a = blocks * tiles_a - 1
    # row r of a tile leaves the array at acc + 1 + r; the last row's drain writes at + post
    up_end = (tm.acc_a[(blocks - 1) * tiles_a + tiles_up - 1] + R + POST_UP_GATED + 1 if s.gated
              else tm.acc_a[last_a] + R + POST_UP_PLAIN + 1)
    h_end = tm.acc_a[last_a] + R + h_post + 1
    y_end = tm.acc_d[-1] + R + POST_DOWN + 1
    wbytes_up = d * f * blocks
    mem = mem_cycles(wbytes_up * (3 if s.gated else 2), b)
    end = int(max(y_end, start + mem))
    out = [Stage(index, f"{e}.up", "pe", "dataflow", group, expert, variant, R, cu, 0, count, f, d, blocks, tiles_up,
                 "m,n", ("x", f"w:{e}.up"), "up_q" if s.gated else "h", start, up_end, up_end - start, wbytes_up)]
    if s.gated:
        out.append(Stage(index + 1, f"{e}.gate", "pe", "dataflow", group, expert, variant, R, cg, cu, count, f, d,
                         blocks, tiles_a, "m,n", ("x", f"w:{e}.gate", "up_q"), "h", start, h_end, h_end - start,
                         wbytes_up))
    down_start = tm.first_d_beat - BUFFER_READ_LATENCY
    out.append(Stage(index + len(out), f"{e}.down", "pe", "dataflow", group, expert, variant, R, cd, b.cols - cd, count,
                     d, f, blocks, tiles_d, "m,n", ("h", f"w:{e}.down"), "y", down_start, end,
                     y_end - down_start, wbytes_up))
    return tuple(out)
