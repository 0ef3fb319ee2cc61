"""Where operators cross a device's ridge point: the decode batch at which Op/B reaches peak/bandwidth."""
from __future__ import annotations

import numpy as np
import sympy as sp

from .parallel import Parallelism
from .precision import Precision
from .step import operator_table
from .workload import ModelConfig

MAX_BATCH = 65536


def ridge_point(device, precision: Precision) -> float:
    """Op/B at which the device's matrix peak and main-memory bandwidth meet."""
    return device.peak(precision.compute_dtype) / device.main_memory.read_bandwidth


def crossover_batches(model: ModelConfig, device, precision: Precision, parallel: Parallelism,
                      context: int) -> list[dict]:
    """Per operator with FLOPs: its Op/B formula, Op/B at batch 1 and the smallest decode batch
    (per tensor-parallel group, up to MAX_BATCH) whose Op/B reaches the ridge point (None if none)."""
    table = operator_table(model, parallel.pp)
    ridge = ridge_point(device, precision)
    batches = np.arange(1, MAX_BATCH + 1, dtype=float)
    costs = table.evaluate(b=batches, s=1, c=context, wB=precision.weight_bytes, aB=precision.activation_bytes,
                           kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep)
    opb = costs.op_per_byte
    rows = []
    for i, spec in enumerate(table.specs):
        if spec.kind in ("allreduce", "alltoall", "gather") or spec.flops == 0:
            continue
        above = np.nonzero(opb[i] >= ridge)[0]
        rows.append({
            "name": spec.name,
            "formula": sp.sstr(table.formula(spec.name, "op_per_byte")),
            "op_per_byte_b1": float(opb[i, 0]),
            "op_per_byte_max": float(opb[i, -1]),
            "crossover_batch": int(batches[above[0]]) if above.size else None,
            "ridge_op_per_byte": ridge,
        })
    return rows
