"""The kernel generator's scheduler: the schedule of one MoE layer on a PE-array budget.

It knows the RTL's latencies and buffers, so it lives in ``codegen`` (it was
``archmodel.fpga.schedule``); the FPGA cost model it calls stays in :mod:`archmodel.fpga`.

``schedule_moe_layer(shape, tokens_per_expert, budget)`` returns a table of :class:`Stage` rows
(task, unit, mode, PE sub-array, loop bounds, source and destination buffers, start and end
cycles), the per-token-count :class:`ExpertVariant` table the kernel selects from at run time,
the predicted total cycles and the resource estimate. Every cycle count follows the hardware
timing contract of ``docs/kernel-arithmetic.md`` section 3 through :mod:`archmodel.fpga.timing`.

Stage cycles count from the stage's first cycle (the controller issues the first buffer read)
to its last cycle (the last result is written), inclusive; consecutive groups are separated by
``budget.switch_cycles`` (the in-circuit switch: schedule-ROM read + loop-bound load). Stages in
one dataflow group overlap. The datapath this model assumes (the generator should build it, or
this model must change with it):

* ``load``: the token stream (``stream_bytes`` int8 a word, ``docs/kernel-arithmetic.md`` §2)
  fills buffer ``x``: ``T * ceil(d / W)`` cycles, one word a cycle. The requantiser parameter
  block (:func:`param_block_words` words, ``codegen/hdl/interface.py``) is requested in the
  stage's first cycle and arrives on the weight stream meanwhile: ``max(T * ceil(d / W),
  1 + param words)``. In a dataflow front it follows the router's weight tile:
  the front ends no earlier than ``first router beat + d + param words``.
* ``router``: GEMM ``M=T, N=E, K=d`` on the whole array, A operand from ``x``; the int32 logits
  go to buffer ``logits``: ``1 + gemm_cycles`` (one buffer-read latency).
* ``topk``: one logit a cycle from ``logits``: ``T*E + 2`` (read latency, TopK latency 1).
* ``gate_norm``: one token every 20 cycles from ``sel``: ``20*T + 1``; the results fill the
  per-expert token lists and gate weights (``dispatch``).
  In **dataflow** the four stream (``E <= C``): router row blocks start when their tokens are
  loaded, each logit row is serialised to TopK (``E`` cycles a token), TopK feeds the
  GateNormalizer (II 20, latency 19); max-plus recurrences give the exact finish.
* Per expert with ``c > 0`` tokens (an expert without tokens has no stages and costs nothing),
  **sequential** variants run ``up`` (``M=c, N=f, K=d``; requantised into ``up_q``), ``gate``
  (gated only; its drain does requant, activation LUT, the product with ``up_q`` and RQhid into
  ``h``) and ``down`` (``M=c, N=d, K=f`` from ``h``, requantised into the ``y`` slots), each on
  the whole array: ``1 + gemm_cycles + post`` with post = 3 (up; 3 + 1 when not gated, the
  activation follows), 3 + 1 + 1 + 3 (gate), 3 (down). ``seq-stream`` (``c <= R``: one row tile)
  streams weights straight into the array; ``seq-tiled`` (``c > R``) runs column tiles outer,
  row tiles inner with a ``K x C`` weight-tile buffer so that weights are read once. The
  **dataflow** variant ``df`` splits the columns between up, gate and down in proportion to their
  MACs (sub-array A = up + gate, which share the ``x`` operand and ``K = d``; sub-array D =
  down) and pipelines row blocks in lockstep *phases*: the single weight port carries one word
  of ``C`` lanes a cycle, holding A's and D's weights side by side, so both sub-arrays advance
  on the same words. Phase ``p = 0 .. B`` (``B = ceil(c / R)``) runs A on row block ``p`` and D
  on row block ``p - 1``: ``nA * d``, ``max(nA * d, nD * f)`` and ``nD * f`` words for the first,
  middle and last phases (``nA`` gate tiles, or up tiles when not gated; ``nD`` down tiles). A
  beat waits only when its sub-array's drain bank is busy (``K < R``) or when a D beat would
  read an ``h`` column not yet written (:func:`df_timing`); buffers hold two row blocks of
  ``up_q`` and ``h`` instead of all ``c`` rows, and weights are re-streamed for every row block.
  (An earlier version of this model let down's first tile consume ``h`` while gate produced
  it, at its own pace; with one weight port that needs a second weight stream or a buffer of
  down's weights, so the model now describes the lockstep datapath the RTL builds.)
* ``combine``: Combiner with ``W`` lanes: ``T * ceil(d / W) * k`` beats from the ``y`` slots,
  ``+ 1`` read latency ``+ 3`` combiner latency; the results leave on the output token stream.

No intermediate may go off chip (the kernel has no memory port besides its streams): a variant
whose buffers do not fit the budget's BRAM/URAM is not used; if none fits, ConfigError. Memory
bandwidth still limits a stage whose weights stream faster than the budget's off-chip bytes per
cycle: ``cycles = max(compute, weight bytes / bytes per cycle)``; ``compute_cycles`` is what an
RTL simulation with an always-valid weight stream measures.
"""
from .experts import df_timing
from .front import param_block_words
from .layer import schedule_moe_layer
from .stages import ExpertVariant, ScheduleResult, Stage
from .styles import STYLES, VARIANTS, ExpertStyle, expert_cycles, expert_stages, expert_style, register_style

__all__ = ["STYLES", "VARIANTS", "ExpertStyle", "ExpertVariant", "ScheduleResult", "Stage", "df_timing",
           "expert_cycles", "expert_stages", "expert_style", "param_block_words", "register_style",
           "schedule_moe_layer"]
