"""Shared set-up of the MoEKernel tests: schedules, golden references, runs, predictions.

Not a test module; ``tests/hdl/test_top*.py`` and ``test_controller.py`` import it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from archmodel.fpga.budget import make_budget
from codegen.schedule import schedule_moe_layer
from codegen.hdl.kernel_sim import KernelRun, simulate_kernel
from codegen.hdl.schedule_rom import SUPPORTED_VARIANTS
from codegen.hdl.top import MoEKernel
from verification import golden

DEVICE = "alveo-u280"


@dataclass(frozen=True)
class Case:
    tokens: int = 4
    hidden: int = 8
    ffn: int = 16
    experts: int = 4
    top_k: int = 2
    gated: bool = True
    rows: int = 4
    cols: int = 4
    stream_bytes: int = 8
    front: str | None = None  # None: what the schedule picks
    activation: str = "silu"
    seed: int = 1
    switch_cycles: int = 2
    style: str = "intar"      # "dataflow": every expert runs the df variant
    variants: tuple[str, ...] = SUPPORTED_VARIANTS  # the expert variants the schedule may use

    @property
    def shape(self) -> golden.MoEShape:
        return golden.MoEShape(self.tokens, self.hidden, self.ffn, self.experts, self.top_k,
                               self.gated)

    def budget(self) -> Any:
        return make_budget(DEVICE, self.rows, self.cols, switch_cycles=self.switch_cycles)

    def schedule(self, counts: Any) -> Any:
        return schedule_moe_layer(self.shape, list(counts), self.budget(),
                                  stream_bytes=self.stream_bytes, front=self.front,
                                  variants=self.variants, style=self.style)


#: the test shapes (tests/hdl/test_top.py, test_top_cycles.py)
CASES = {
    # the brief's shape: T=4, d=8, f=16, E=4, k=2 on a 4x4 array (dataflow front chosen)
    "gated-E4-k2": Case(),
    "plain-E4-k2": Case(gated=False, activation="gelu"),
    # E=8 > C=4: the router needs two column tiles, a sequential front
    "gated-E8-k2-seqfront": Case(experts=8, stream_bytes=4, front="sequential"),
    "plain-E8-k1": Case(experts=8, top_k=1, gated=False, cols=8, activation="relu"),
    # counts above R=2: seq-tiled (row tiles inner, weight tile buffered)
    "gated-tiled-seqfront": Case(tokens=6, rows=2, front="sequential", seed=3),
    "plain-tiled": Case(tokens=6, rows=2, gated=False, seed=5),
    "k-equals-E": Case(tokens=3, top_k=4),
    "T1-k1": Case(tokens=1, top_k=1, gated=False),
    # C > W: every PE row spans two output words (banked y buffer)
    "C-above-W": Case(gated=False, stream_bytes=2),
    # odd sizes: C = 3 does not divide W = 2, d = 7, f = 10
    "odd-sizes": Case(tokens=5, hidden=7, ffn=10, rows=2, cols=3, stream_bytes=2, gated=False,
                      front="sequential", activation="identity"),
    # dataflow experts (df): the array split up+gate | down, lockstep phases per row block
    "df-gated": Case(style="dataflow"),                                   # split 2/1/1, one block
    "df-plain": Case(gated=False, activation="gelu", style="dataflow"),   # split 2/2
    "df-gated-blocks": Case(tokens=6, rows=2, seed=3, style="dataflow"),  # 2 row blocks
    "df-plain-blocks-seqfront": Case(tokens=6, rows=2, gated=False, seed=5, front="sequential",
                                     variants=("df",)),
    # split 2/2/1 on 5 columns: gate tiles (2 columns) straddle up tiles; C = 5 > W = 2
    "df-odd-sizes": Case(tokens=5, hidden=7, ffn=10, rows=2, cols=5, stream_bytes=2, seed=7,
                         style="dataflow"),
    # split 3/2/2 on 7 columns: a gate tile's up_q window wraps around the 3 up_q banks
    "df-window-wrap": Case(tokens=6, hidden=6, ffn=11, rows=2, cols=7, stream_bytes=2, seed=7,
                           style="dataflow"),
    # K < R in both sub-arrays and h read right after it is written: the lockstep waits
    "df-short-k": Case(tokens=7, hidden=3, ffn=2, experts=3, rows=4, cols=3, stream_bytes=1,
                       seed=9, style="dataflow", activation="relu"),
    # the model picks df for 1..2 tokens and seq-tiled above (tiny d, f): the array is split
    # and joined again between experts (counts [2, 3, 2, 1])
    "mixed-df-seq": Case(tokens=4, hidden=2, ffn=4, rows=2, cols=4, stream_bytes=2, seed=8),
    # one row per block: five phases for five tokens; split 3/3/2
    "df-one-row": Case(tokens=6, hidden=8, ffn=16, rows=1, cols=8, stream_bytes=2, seed=11,
                       style="dataflow"),
}


@dataclass
class Outcome:
    case: Case
    kernel: MoEKernel
    params: Any
    x: np.ndarray
    gold: Any
    run: KernelRun
    outputs: list[np.ndarray]  # per layer, int8 [T, d]


def words_to_tokens(words: list[int], case: Case) -> np.ndarray:
    lanes = np.array([[(w >> (8 * lane)) & 0xFF for lane in range(case.stream_bytes)]
                      for w in words], dtype=np.int64)
    return golden.unpack_tokens(lanes, case.hidden)


def token_words(x: np.ndarray, case: Case) -> list[int]:
    return [golden.word_value(w) for w in golden.pack_tokens(x, case.stream_bytes)]


def make_inputs(case: Case, router: np.ndarray | None = None,
                x: np.ndarray | None = None) -> tuple[Any, np.ndarray, Any]:
    params = golden.random_params(case.shape, seed=case.seed, activation=case.activation)
    if router is not None:
        params = dataclasses.replace(params, router=np.asarray(router, dtype=np.int64))
    if x is None:
        x = golden.random_tokens(case.shape, seed=case.seed + 1000)
    return params, x, golden.moe_layer(x, params, case.shape)


def run_case(case: Case, *, router: np.ndarray | None = None, x: np.ndarray | None = None,
             nominal: Any = None, rates: tuple[float, float, float] = (1.0, 1.0, 1.0),
             probes: tuple[str, ...] = ()) -> Outcome:
    """Build the kernel for ``case`` (schedule at ``nominal`` counts, default the actual ones),
    run one layer and return everything."""
    params, x, gold = make_inputs(case, router, x)
    counts = [int(c) for c in gold.expert_counts]
    kernel = MoEKernel(case.schedule(nominal if nominal is not None else counts),
                       activation=case.activation)
    run = simulate_kernel(kernel, token_words(x, case), params, x_rate=rates[0],
                          w_rate=rates[1], y_rate=rates[2], seed=case.seed, probes=probes)
    return Outcome(case, kernel, params, x, gold, run, [words_to_tokens(run.outputs, case)])


def predicted_spans(case: Case, counts: Any, front: str) -> list[tuple[str, int]]:
    """(task, cycles) per kernel stage from ``schedule_moe_layer`` for the actual counts; a
    dataflow group is one stage spanning it (the front: ``front``; a df expert:
    ``e<i>.expert_df``)."""
    sched = schedule_moe_layer(case.shape, list(counts), case.budget(),
                               stream_bytes=case.stream_bytes, front=front,
                               variants=case.variants, style=case.style)
    groups: dict[int, list[Any]] = {}
    for s in sched.stages:
        groups.setdefault(s.group, []).append(s)
    out: list[tuple[str, int]] = []
    for _, group in sorted(groups.items()):
        span = max(s.end for s in group) - min(s.start for s in group)
        if len(group) == 1:
            out.append((group[0].task, span))
        elif group[0].expert is None:
            out.append(("front", span))
        else:
            out.append((f"e{group[0].expert}.expert_df", span))
    return out


def mac_beats(case: Case, counts: Any) -> int:
    """PE-array beats (cycles of R*C MACs) one layer takes: every GEMM tile is K beats."""
    T, d, f, E, R, c = case.tokens, case.hidden, case.ffn, case.experts, case.rows, case.cols

    def tiles(m: int, n: int) -> int:
        return -(-m // R) * -(-n // c)

    beats = tiles(T, E) * d
    sched = case.schedule(counts)
    for n in counts:
        if n and sched.variant_for(n).name == "df":
            beats += df_words(case, n)
        elif n:
            beats += tiles(n, f) * d * (2 if case.gated else 1) + tiles(n, d) * f
    return beats


def df_words(case: Case, count: int) -> int:
    """Weight words (lockstep beats) of a df expert with ``count`` tokens: phase 0 has the A
    sub-array's ``tiles_a * d``, the last phase D's ``tiles_d * f``, the ``B - 1`` others the
    larger of the two."""
    from codegen.hdl.interface import DfLayout
    lay = DfLayout.of(case.hidden, case.ffn, case.gated, case.cols)
    blocks = -(-count // case.rows)
    return lay.words_a + (blocks - 1) * max(lay.words_a, lay.words_d) + lay.words_d
