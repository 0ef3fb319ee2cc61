"""The front of the layer: load, router, top-k and gate normalisation, sequential or streaming."""
from __future__ import annotations

import numpy as np

from archmodel.fpga.budget import Budget
from archmodel.moe_layer import MoELayer
from archmodel.fpga.timing import (BUFFER_READ_LATENCY, GATE_NORM_II, GATE_NORM_LATENCY, TOPK_LATENCY, ceil_div,
                                   pipeline_finish)

from .stages import Stage, mem_cycles, pe_stage, unit_stage

__all__ = ["front_dataflow", "front_sequential", "param_block_words"]


def param_block_words(shape: MoELayer) -> int:
    """Words of the per-layer requantiser parameter block the kernel reads on its weight stream:
    the gate requantiser, then ``RQup``, (``RQgate``, ``RQhid``,) ``RQdown`` per expert."""
    return 1 + shape.experts * (4 if shape.gated else 2)


def front_sequential(s: MoELayer, b: Budget, W: int, start: int, group0: int) -> list[Stage]:
    T, d, E = s.tokens, s.hidden, s.experts
    words = max(T * ceil_div(d, W), 1 + param_block_words(s))
    out = [unit_stage(0, "load", "stream", group0, W, T, d, ("in",), "x", start, words)]
    t = out[-1].end + b.switch_cycles
    out.append(pe_stage(1, "router", group0 + 1, None, None, T, E, d, b.rows, b.cols, 0, ("x", "w:router"),
                         "logits", 0, t, b, True, "n,m"))
    t = out[-1].end + b.switch_cycles
    out.append(unit_stage(2, "topk", "topk", group0 + 2, 1, T, E, ("logits",), "sel", t,
                           BUFFER_READ_LATENCY + T * E + TOPK_LATENCY))
    t = out[-1].end + b.switch_cycles
    out.append(unit_stage(3, "gate_norm", "gate_norm", group0 + 3, s.top_k, T, s.top_k, ("sel",), "dispatch",
                           t, BUFFER_READ_LATENCY + GATE_NORM_II * (T - 1) + GATE_NORM_LATENCY + 1))
    return out


def front_dataflow(s: MoELayer, b: Budget, W: int, start: int, group: int) -> list[Stage] | None:
    """load -> router -> serializer -> TopK -> GateNormalizer streaming (needs E <= C)."""
    T, d, E, R = s.tokens, s.hidden, s.experts, b.rows
    if E > b.cols:
        return None
    wpt = ceil_div(d, W)
    blocks = ceil_div(T, R)
    m = np.arange(blocks, dtype=np.int64)
    last_token = np.minimum((m + 1) * R, T) - 1
    loaded = start + (last_token + 1) * wpt - 1              # cycle of each block's last word
    ready = loaded + 1 + BUFFER_READ_LATENCY                 # first beat may enter the array
    first_beat = pipeline_finish(ready, max(d, R))           # tiles back to back at period max(K, R)
    # weight stream: E x d router weights, once (one column tile; the tile is buffered when blocks > 1)
    mem = mem_cycles(d * E, b)
    tok = np.arange(T, dtype=np.int64)
    row_out = first_beat[tok // R] + d + 1 + tok % R        # contract: row r valid at c0 + K + 1 + r
    ser = pipeline_finish(row_out, E)                        # serializer takes a row when the last left
    topk_out = ser + E + TOPK_LATENCY                        # last logit at ser + E; out valid + 1
    gate_acc = pipeline_finish(topk_out, GATE_NORM_II)
    gate_out = gate_acc + GATE_NORM_LATENCY
    params_end = int(first_beat[0]) + d + param_block_words(s)  # the block follows the router tile
    end = int(max(gate_out[-1] + 1, start + mem, params_end))
    load_end = start + T * wpt
    router_end = int(row_out[-1]) + 1
    return [
        unit_stage(0, "load", "stream", group, W, T, d, ("in",), "x", start, load_end - start, "dataflow"),
        Stage(1, "router", "pe", "dataflow", group, None, None, R, b.cols, 0, T, E, d, blocks, 1, "m,n",
              ("x", "w:router"), "serializer", int(first_beat[0]) - BUFFER_READ_LATENCY, router_end,
              router_end - int(first_beat[0]) + BUFFER_READ_LATENCY, d * E),
        unit_stage(2, "topk", "topk", group, 1, T, E, ("serializer",), "gate_norm", int(ser[0]),
                    int(topk_out[-1]) + 1 - int(ser[0]), "dataflow"),
        unit_stage(3, "gate_norm", "gate_norm", group, s.top_k, T, s.top_k, ("topk",), "dispatch",
                    int(gate_acc[0]), end - int(gate_acc[0]), "dataflow"),
    ]
