"""Amaranth-simulator bench for :class:`~codegen.hdl.top.MoEKernel`.

:func:`simulate_kernel` drives the token stream, serves the weight interface from parameters
(``golden.MoEParams``-like, through :func:`codegen.hdl.interface.weight_request_words`: the
response to a request accepted at cycle ``c`` is offered from cycle ``c + 1``, words in order),
collects the output stream and records, per cycle, the schedule row, ``stage_valid``, the expert
and ``pe_busy``. Rates below 1 insert seeded random gaps (inputs) and back-pressure (output).
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from amaranth.sim import Simulator

from .interface import WeightRequest, decode_request, weight_request_words
from .schedule_rom import EXPERT_TASKS

__all__ = ["KernelRun", "StageSpan", "simulate_kernel"]


@dataclass(frozen=True)
class StageSpan:
    """One stage as the kernel ran it: ROM row, expert, first cycle, cycles (``stage_valid``)."""

    row: int
    expert: int | None
    start: int
    cycles: int

    @property
    def end(self) -> int:
        return self.start + self.cycles


@dataclass
class KernelRun:
    cycles: int
    outputs: list[int]                      # y_out words, in order
    output_cycles: list[int]
    requests: list[tuple[int, WeightRequest]]  # (cycle, request)
    spans: list[StageSpan]
    busy_cycles: int
    probes: dict[str, list[int]] = field(default_factory=dict)  # cycles each probe was high

    def spans_of_layer(self, layer: int, stages_per_layer: Sequence[int]) -> list[StageSpan]:
        start = sum(stages_per_layer[:layer])
        return self.spans[start:start + stages_per_layer[layer]]


def simulate_kernel(kernel: Any, x_words: Sequence[int], params: Any | Sequence[Any], *,
                    layers: int = 1, x_rate: float = 1.0, w_rate: float = 1.0,
                    y_rate: float = 1.0, seed: int = 0, max_cycles: int = 200_000,
                    probes: Sequence[str] = ()) -> KernelRun:
    """Run ``layers`` layers: ``x_words`` (token-stream words of one layer, or ``layers`` times
    as many) and ``params`` (one, or one per layer). Returns when every output word arrived."""
    geom = kernel.geom
    per_layer = geom.tokens * geom.words_per_token
    words = list(x_words)
    if len(words) == per_layer:
        words = words * layers
    if len(words) != per_layer * layers:
        raise ValueError(f"{len(words)} input words; one layer takes {per_layer}")
    plist = list(params) if isinstance(params, (list, tuple)) else [params] * layers
    rng = random.Random(seed)
    result = KernelRun(0, [], [], [], [], 0, {name: [] for name in probes})

    async def bench(ctx: Any) -> None:
        x_pos, x_offer = 0, False
        pending: deque[tuple[int, deque[int]]] = deque()
        w_offer = False
        requests_seen = 0
        layer_no = -1
        cycle = 0
        span_row, span_exp, span_start = None, None, 0
        while True:
            # ---- drive inputs
            if x_pos < len(words) and not x_offer:
                x_offer = rng.random() < x_rate
            ctx.set(kernel.x_in.valid, int(x_offer))
            if x_offer:
                ctx.set(kernel.x_in.payload, words[x_pos])
            head_ready = bool(pending) and pending[0][0] <= cycle
            if head_ready and not w_offer:
                w_offer = rng.random() < w_rate
            if not head_ready:
                w_offer = False
            ctx.set(kernel.wdata.valid, int(w_offer))
            if w_offer:
                ctx.set(kernel.wdata.payload, pending[0][1][0])
            y_ready = rng.random() < y_rate
            ctx.set(kernel.y_out.ready, int(y_ready))
            ctx.set(kernel.wreq.ready, 1)
            # ---- observe transfers
            if x_offer and ctx.get(kernel.x_in.ready):
                x_pos += 1
                x_offer = False
            if w_offer and ctx.get(kernel.wdata.ready):
                pending[0][1].popleft()
                if not pending[0][1]:
                    pending.popleft()
                w_offer = False
            if ctx.get(kernel.wreq.valid):
                value = ctx.get(kernel.wreq.payload.as_value())
                req = decode_request(geom, int(value))
                # the first request of a layer: the parameter block (sequential front) or the
                # router's tile 0 (dataflow front)
                first_kind = 0 if kernel.program.front == "sequential" else 1
                if req.tensor == first_kind and req.tile == 0:
                    layer_no += 1
                layer_params = plist[min(max(layer_no, 0), len(plist) - 1)]
                pending.append((cycle + 1, deque(weight_request_words(layer_params, req))))
                result.requests.append((cycle, req))
                requests_seen += 1
            if y_ready and ctx.get(kernel.y_out.valid):
                result.outputs.append(int(ctx.get(kernel.y_out.payload)))
                result.output_cycles.append(cycle)
            if ctx.get(kernel.pe_busy):
                result.busy_cycles += 1
            for name in probes:
                if ctx.get(kernel.probes[name]):
                    result.probes[name].append(cycle)
            valid = ctx.get(kernel.stage_valid)
            row, exp = int(ctx.get(kernel.stage)), int(ctx.get(kernel.expert))
            if valid and span_row is None:
                span_row, span_exp, span_start = row, exp, cycle
            elif not valid and span_row is not None:
                result.spans.append(StageSpan(span_row, span_exp, span_start, cycle - span_start))
                span_row = None
            await ctx.tick()
            cycle += 1
            if len(result.outputs) >= len(words):
                # let the combine stage close
                if span_row is None or cycle > result.output_cycles[-1] + 2:
                    if span_row is not None:
                        result.spans.append(StageSpan(span_row, span_exp, span_start,
                                                      cycle - span_start))
                    break
            if cycle >= max_cycles:
                raise TimeoutError(f"kernel produced {len(result.outputs)} of {len(words)} words "
                                   f"in {max_cycles} cycles (requests: {requests_seen})")
        result.cycles = cycle

    sim = Simulator(kernel)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # expert index is meaningful only for expert rows
    rows = kernel.program.rows
    fixed = []
    for s in result.spans:
        is_expert = rows[s.row].task in EXPERT_TASKS if s.row < len(rows) else False
        fixed.append(StageSpan(s.row, s.expert if is_expert else None, s.start, s.cycles))
    result.spans = fixed
    return result
