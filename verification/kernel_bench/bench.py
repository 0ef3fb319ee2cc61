"""cocotb harness for a generated MoE kernel (``codegen.hdl.top.MoEKernel`` as Verilog).

It mirrors the protocol of the Amaranth bench ``codegen.hdl.kernel_sim``, cycle for cycle, so
that a cocotb run measures exactly what the Amaranth simulation measures:

* **token driver** (``x_in``): the layer's token-stream words in order; before each word an idle
  cycle with probability ``x_gap``;
* **weight memory** (``wreq`` -> ``wdata``): a request accepted at the clock edge ending cycle
  ``c`` is answered from cycle ``c + 1`` with ``codegen.hdl.interface.weight_request_words`` of
  the current layer's golden parameters, responses in request order; ``wreq.ready`` is high with
  probability ``wreq_ready`` and each response word is preceded by an idle cycle with probability
  ``w_gap``. A new layer starts at its first request (the parameter block for a sequential front,
  the router's tile 0 for a dataflow front), as the interface defines;
* **output monitor** (``y_out``): ``ready`` high with probability ``y_ready`` (back-pressure);
* **stage probe**: every cycle the ``stage``, ``stage_valid``, ``expert`` and ``pe_busy`` ports,
  folded into :class:`Span` records (one per stage the controller ran, with its PE busy cycles).

All of it runs in **one** coroutine that does, per clock cycle, "drive after the rising edge,
sample at ``ReadOnly``, wait for the edge" (the timing model of ``verification.cocotb_lib``'s
drivers): four agents with their own coroutines cost four times the simulator round trips, and
simulation speed is what bounds how much of the kernel CI can run.
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cocotb.triggers import ReadOnly, RisingEdge

from codegen.hdl.interface import Tensor, WeightRequest, decode_request, weight_request_words
from verification.cocotb_lib import drive_inputs, start_clock

from .kernel import KernelDir, tokens_to_words

__all__ = ["BenchError", "KernelBench", "Span", "start_kernel_bench"]


class BenchError(AssertionError):
    """The kernel broke the interface protocol (an undecodable request, an X on a valid ...)."""


@dataclass
class Span:
    """One stage the kernel ran: ROM row, expert, first cycle, cycles, PE busy cycles."""

    row: int
    expert: int
    start: int
    cycles: int = 0
    busy: int = 0

    @property
    def end(self) -> int:
        return self.start + self.cycles


def _int(handle: Any, what: str) -> int:
    try:
        return int(handle.value)
    except ValueError:
        raise BenchError(f"{what} has unresolved bits (X/Z): {handle.value}") from None


@dataclass
class _Stats:
    requests: list[tuple[int, int, WeightRequest]] = field(default_factory=list)  # (cycle, layer, req)
    outputs: list[tuple[int, int]] = field(default_factory=list)                  # (cycle, word)
    inputs: list[int] = field(default_factory=list)                               # cycles of x beats
    spans: list[Span] = field(default_factory=list)
    busy_outside: int = 0


class KernelBench:
    """Drive one kernel instance. Create it after the clock runs; call :meth:`reset` first."""

    def __init__(self, dut: Any, kernel: KernelDir, *, rng: random.Random | None = None,
                 x_gap: float = 0.0, w_gap: float = 0.0, y_ready: float = 1.0,
                 wreq_ready: float = 1.0) -> None:
        for name, p in (("x_gap", x_gap), ("w_gap", w_gap), ("y_ready", y_ready),
                        ("wreq_ready", wreq_ready)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if y_ready == 0.0 or wreq_ready == 0.0 or x_gap == 1.0 or w_gap == 1.0:
            raise ValueError("rates that stop a stream forever make no progress")
        self.dut, self.kernel = dut, kernel
        self.geom = kernel.geometry()
        self.rng = rng if rng is not None else random.Random(0)
        self.x_gap, self.w_gap, self.y_ready, self.wreq_ready = x_gap, w_gap, y_ready, wreq_ready
        self._first_kind = Tensor.PARAMS if kernel.front == "sequential" else Tensor.ROUTER
        h = dut
        self._clk, self._rst = h.clk, h.rst
        self._x = (h.x_in__payload, h.x_in__valid, h.x_in__ready)
        self._y = (h.y_out__payload, h.y_out__valid, h.y_out__ready)
        self._rq = (h.wreq__payload, h.wreq__valid, h.wreq__ready)
        self._w = (h.wdata__payload, h.wdata__valid, h.wdata__ready)
        self._stage, self._stage_valid, self._expert, self._busy = (
            h.stage, h.stage_valid, h.expert, h.pe_busy)
        self.cycle = 0
        self._clear()

    # ------------------------------------------------------------------------------ state
    def _clear(self) -> None:
        self._x_queue: deque[int] = deque()
        self._x_offer = False
        self._pending: deque[tuple[int, deque[int]]] = deque()
        self._w_offer = False
        self._params: list[Any] = []
        self._layer = -1
        self._open: Span | None = None
        self._driven: dict[str, Any] = dict.fromkeys(("x_pay", "x_val", "w_pay", "w_val", "y_rdy",
                                                      "rq_rdy"))
        self.stats = _Stats()

    def queue_layer(self, x_words: Sequence[int], params: Any) -> None:
        """Queue one layer: its token words and the parameters its requests are served from."""
        self._x_queue.extend(int(w) for w in x_words)
        self._params.append(params)

    @property
    def layers_started(self) -> int:
        return self._layer + 1

    @property
    def open_stage(self) -> Span | None:
        """The stage running now (not yet in ``stats.spans``), if any."""
        return self._open

    # ------------------------------------------------------------------------------ reset
    async def reset(self, cycles: int = 2) -> None:
        """Hold ``rst`` for ``cycles`` rising edges with every input idle, then forget all
        bench state (queued words, outstanding responses, records): a reset in the middle of a
        layer leaves nothing behind on either side."""
        if cycles < 1:
            raise ValueError("reset needs at least one cycle")
        self._rst.value = 1
        self._x[1].value = 0
        self._w[1].value = 0
        self._y[2].value = 0
        self._rq[2].value = 0
        edge = RisingEdge(self._clk)
        for _ in range(cycles):
            await edge
            self.cycle += 1
        self._rst.value = 0
        self._clear()

    # ------------------------------------------------------------------------------ the loop
    async def run(self, *, outputs: int, max_cycles: int, settle: int = 16) -> None:
        """Run until ``outputs`` output words (counted since the last reset) have arrived and the
        stage that produced the last one has closed; ``TimeoutError`` after ``max_cycles``."""
        await self._loop(lambda: len(self.stats.outputs) >= outputs, max_cycles, settle)

    async def run_cycles(self, cycles: int) -> None:
        """Run exactly ``cycles`` clock cycles (e.g. into the middle of a layer)."""
        stop = self.cycle + cycles
        await self._loop(lambda: self.cycle >= stop, cycles + 1, 0, wait_span=False)

    async def _loop(self, done: Any, max_cycles: int, settle: int, wait_span: bool = True) -> None:
        x_pay, x_val, x_rdy = self._x
        y_pay, y_val, y_rdy = self._y
        rq_pay, rq_val, rq_rdy = self._rq
        w_pay, w_val, w_rdy = self._w
        rng = self.rng
        edge, settled = RisingEdge(self._clk), ReadOnly()
        stats = self.stats
        limit = self.cycle + max_cycles
        finished_at: int | None = None
        # last values driven onto each input (None: unknown); a write costs a simulator call,
        # so only changes are written
        drv = self._driven
        while True:
            cycle = self.cycle
            # ---- drive (just after the rising edge)
            if self._x_queue and not self._x_offer:
                self._x_offer = self.x_gap == 0.0 or rng.random() >= self.x_gap
            if self._x_offer and drv["x_pay"] != self._x_queue[0]:
                drv["x_pay"] = self._x_queue[0]
                x_pay.value = self._x_queue[0]
            if drv["x_val"] != self._x_offer:
                drv["x_val"] = self._x_offer
                x_val.value = int(self._x_offer)
            head = bool(self._pending) and self._pending[0][0] <= cycle
            if head and not self._w_offer:
                self._w_offer = self.w_gap == 0.0 or rng.random() >= self.w_gap
            if not head:
                self._w_offer = False
            if self._w_offer:
                word = self._pending[0][1][0]
                if word != drv["w_pay"]:
                    drv["w_pay"] = word
                    w_pay.value = word
            if drv["w_val"] != self._w_offer:
                drv["w_val"] = self._w_offer
                w_val.value = int(self._w_offer)
            y_ready = self.y_ready == 1.0 or rng.random() < self.y_ready
            if drv["y_rdy"] != y_ready:
                drv["y_rdy"] = y_ready
                y_rdy.value = int(y_ready)
            rq_ready = self.wreq_ready == 1.0 or rng.random() < self.wreq_ready
            if drv["rq_rdy"] != rq_ready:
                drv["rq_rdy"] = rq_ready
                rq_rdy.value = int(rq_ready)
            # ---- sample (everything settled before the edge)
            await settled
            x_fire = self._x_offer and _int(x_rdy, "x_in__ready") == 1
            w_fire = self._w_offer and _int(w_rdy, "wdata__ready") == 1
            request = None
            if rq_ready and _int(rq_val, "wreq__valid") == 1:
                request = _int(rq_pay, "wreq__payload (valid high)")
            out = None
            if y_ready and _int(y_val, "y_out__valid") == 1:
                out = _int(y_pay, "y_out__payload (valid high)")
            valid = _int(self._stage_valid, "stage_valid")
            busy = _int(self._busy, "pe_busy")
            # the controller separates stages by switch cycles (stage_valid low), so the row and
            # expert are read once, when a stage starts
            opening = valid and self._open is None
            row = _int(self._stage, "stage") if opening else 0
            exp = _int(self._expert, "expert") if opening else 0
            await edge
            self.cycle += 1
            # ---- update the bench state with what happened at that edge
            if x_fire:
                self._x_queue.popleft()
                self._x_offer = False
                stats.inputs.append(cycle)
            if w_fire:
                words = self._pending[0][1]
                words.popleft()
                if not words:
                    self._pending.popleft()
                self._w_offer = False
            if request is not None:
                self._serve(cycle, request)
            if out is not None:
                stats.outputs.append((cycle, out))
            span = self._open
            if valid:
                if span is None:
                    span = self._open = Span(row, exp, cycle)
                span.cycles += 1
                span.busy += busy
            else:
                stats.busy_outside += busy
                if span is not None:
                    stats.spans.append(span)
                    self._open = span = None
            if finished_at is None and done():
                finished_at = self.cycle
            if finished_at is not None and (not wait_span or self._open is None
                                            or self.cycle >= finished_at + settle):
                if self._open is not None and wait_span:
                    stats.spans.append(self._open)
                    self._open = None
                return
            if self.cycle >= limit:
                raise TimeoutError(
                    f"no finish after {max_cycles} cycles: {len(stats.outputs)} output words, "
                    f"{len(stats.inputs)} input words taken, {len(stats.requests)} requests, "
                    f"{len(stats.spans)} stages closed, open stage "
                    f"{None if self._open is None else self.kernel.row_name(self._open.row)}")

    def _serve(self, cycle: int, value: int) -> None:
        try:
            req = decode_request(self.geom, value)
        except ValueError as exc:
            raise BenchError(f"cycle {cycle}: invalid weight request {value:#x}: {exc}") from None
        if req.tensor == self._first_kind and req.tile == 0:
            self._layer += 1
        if not 0 <= self._layer < len(self._params):
            raise BenchError(f"cycle {cycle}: request {req} for layer {self._layer} but "
                             f"{len(self._params)} layer(s) were queued")
        self.stats.requests.append((cycle, self._layer, req))
        words = deque(weight_request_words(self._params[self._layer], req))
        self._pending.append((cycle + 1, words))

    # ------------------------------------------------------------------------------ results
    def output_words(self) -> list[int]:
        return [w for _, w in self.stats.outputs]

    def requests_of_layer(self, layer: int) -> list[WeightRequest]:
        return [r for _, n, r in self.stats.requests if n == layer]

    def timeout_cycles(self, layers: int = 1) -> int:
        """A generous cycle budget for ``layers`` layers at the bench's rates: four times the
        manifest's balanced-routing prediction (the worst routing stays below that) scaled by
        the slowest stream's duty cycle."""
        duty = min(1.0 - self.x_gap, 1.0 - self.w_gap, self.y_ready, self.wreq_ready)
        predicted = int(self.kernel.manifest["predicted"]["cycles"])
        return int((4 * predicted + 2000) * layers / max(duty, 0.05))

    async def run_layers(self, layers: Sequence[Any], *, max_cycles: int | None = None) -> list[int]:
        """Queue ``layers`` (objects with ``x`` and ``params``, e.g.
        :class:`~verification.kernel_bench.kernel.Layer`), run until all their output words
        arrived and return the words received since the last reset."""
        for layer in layers:
            self.queue_layer(tokens_to_words(layer.x, self.kernel.stream_bytes), layer.params)
        per_layer = self.geom.tokens * self.geom.words_per_token
        total = per_layer * (self.layers_queued_since_reset())
        await self.run(outputs=total, max_cycles=max_cycles or self.timeout_cycles(len(layers)))
        return self.output_words()

    def layers_queued_since_reset(self) -> int:
        return len(self._params)


async def start_kernel_bench(dut: Any, kernel: KernelDir | None = None, *, seed: int = 0,
                             period_ns: float = 10.0, reset_cycles: int = 3,
                             **rates: float) -> KernelBench:
    """Drive every input to 0, start the clock, reset, and return a :class:`KernelBench`.

    ``kernel`` defaults to the directory in ``MOEARCH_KERNEL_DIR`` (set by
    ``moearch_sim.run_kernel`` / ``moearch verify``); ``rates`` are ``x_gap``, ``w_gap``,
    ``y_ready``, ``wreq_ready``.
    """

    if kernel is None:
        kernel = KernelDir.from_env()
    drive_inputs(dut, 0)   # Icarus is 4-state: every input known before the clock runs
    start_clock(dut.clk, period_ns)
    bench = KernelBench(dut, kernel, rng=random.Random(seed), **rates)
    await bench.reset(reset_cycles)
    return bench
