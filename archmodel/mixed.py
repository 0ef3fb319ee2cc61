"""Continuous (mixed) batching: one forward step over prefill chunks and decodes together.

An iteration-level scheduler (Orca; chunked prefill as in Sarathi-Serve) runs, in one step,
``prefill_seqs`` sequences that each bring a chunk of ``prefill_tokens`` new prompt tokens (after
``prefill_context`` prompt tokens of earlier chunks already cached) and ``decode_seqs`` sequences
that each bring one token over ``context`` cached tokens. The step is built from the existing
operator table, evaluated several times and combined row by row:

* **token operators** (every GEMM, norm, router, expert, collective, embedding: rows whose cost
  depends on the batch only through the token count ``b s``) see the concatenated tokens
  ``T = prefill_seqs x prefill_tokens + decode_seqs`` in one GEMM, weights read once;
* **sequence operators** (final norm and lm_head: logits for each sequence's last token; rows whose
  cost depends on ``b`` otherwise) see ``prefill_seqs + decode_seqs`` rows;
* **attention operators** (kind ``attention``) are evaluated per group (the prefill chunks with
  causal attention over their prefix, the decodes over their contexts) and summed: costs add;
  times are combined by the device model's ``combine_groups`` when it has one (Duplex: attention
  co-processing, groups on different units concurrently), else as one kernel over both groups
  (compute and memory times add, one launch).

So the Op/B of an MoE layer fluctuates with the prefill share: ``T`` and thus the tokens per expert
jump when a prefill chunk joins the decodes (Duplex, Section on continuous batching).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from accelerators.errors import ConfigError

from .devices.gpu import StepTimes, weights_tier
from .optable import COST_FIELDS, ROLES, OpCosts, OperatorTable
from .parallel import Parallelism
from .precision import Precision
from .routing import Routing
from .step import DEVICE_MODELS, Step, device_model, operator_table, stored_weight_bytes, touched_experts
from .step_base import check_model_split
from .workload import ModelConfig

BASE_TIME_FIELDS = ("compute", "memory", "comm", "launch")
SUMMED_FIELDS = ("flops",) + ROLES + ("comm", "instances")
SHAPE_FIELDS = ("m", "n", "kdim")


def row_kinds(table: OperatorTable) -> tuple[str, ...]:
    """``token``, ``sequence`` or ``attention`` per operator, found by probing the table: a row whose
    costs differ between (2 sequences x 1 token) and (1 sequence x 2 tokens) depends on ``b`` other
    than through ``b s``."""
    one = table.evaluate(b=2.0, s=1.0, c=0.0, u=1.0)
    two = table.evaluate(b=1.0, s=2.0, c=0.0, u=1.0)
    kinds = []
    for i, kind in enumerate(one.kinds):
        if kind == "attention":
            kinds.append("attention")
            continue
        same = all(np.allclose(one.values[f][i], two.values[f][i]) for f in COST_FIELDS)
        kinds.append("token" if same else "sequence")
    return tuple(kinds)


def _check_count(name: str, value, minimum: int = 0) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if not (np.all(np.isfinite(arr)) and np.all(arr >= minimum) and np.all(arr == np.round(arr))):
        raise ConfigError(None, name, value, f"a whole number >= {minimum} (or an array of them)")
    return arr


def _timed(table: OperatorTable, dm, device, precision: Precision, parallel: Parallelism, tier: str,
           *, b, s, c, u) -> StepTimes:
    kw = dict(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes, kvB=precision.kv_bytes,
              tp=parallel.tp, ep=parallel.ep, u=u)
    args = table.step_inputs(**kw)
    with np.errstate(divide="ignore", invalid="ignore"):
        costs = table.evaluate(**kw)
        return dm.step_times(costs, args, dm.device_args(device, precision, parallel, tier), tier,
                             device.main_memory.name)


def _masked(times: StepTimes, active: np.ndarray, shape: tuple) -> StepTimes:
    """``times`` with every per-operator array broadcast to ``(n_ops, *shape)`` and zero where
    ``active`` is false (costs included)."""
    keep = np.broadcast_to(active, shape)
    n = len(times.costs.names)

    def zero(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a)
        a = a.reshape(a.shape + (1,) * (len(shape) + 1 - a.ndim))  # points axes after the operator axis
        return np.where(keep, np.broadcast_to(a, (n,) + shape), np.zeros((), a.dtype))
    costs = dataclasses.replace(times.costs, values={k: zero(v) for k, v in times.costs.values.items()})
    arrays: dict[str, Any] = {f.name: zero(getattr(times, f.name)) for f in dataclasses.fields(times)
                              if f.name not in ("costs", "units", "tiers")}
    return dataclasses.replace(times, costs=costs, **arrays)


def _default_combine(parts: list[StepTimes], i: int) -> tuple[dict[str, np.ndarray], str]:
    """Groups in one kernel: compute and memory times add, one launch."""
    extra = {f.name for f in dataclasses.fields(parts[0])} - set(BASE_TIME_FIELDS) - {"costs", "units", "tiers"}
    if extra:
        raise TypeError(f"{type(parts[0]).__name__} has fields {sorted(extra)}; its device model must "
                        "define combine_groups(parts, i) to time mixed batches")
    row = {f: np.stack([getattr(p, f)[i] for p in parts]).sum(0) for f in ("compute", "memory", "comm")}
    row["launch"] = np.stack([p.launch[i] for p in parts]).max(0)
    return row, parts[0].units[i]


def mixes_steps(kind: str) -> bool:
    """Whether the device model of ``kind`` can time a mixed prefill and decode step (its
    ``mixes_steps`` attribute, true unless it says otherwise: the RDU's fused sections cannot)."""
    return bool(getattr(DEVICE_MODELS[kind], "mixes_steps", True))


def mixed_step(model: ModelConfig, device, prefill_seqs, prefill_tokens, decode_seqs, context, *,
               prefill_context=0, precision: Precision = Precision(), parallel: Parallelism = Parallelism(),
               routing: Routing = Routing(), weight_tier: str | None = None) -> Step:
    """Time one continuous-batching step (per tensor-parallel group): ``prefill_seqs`` chunks of
    ``prefill_tokens`` tokens each (``prefill_context`` tokens of each prompt already cached) and
    ``decode_seqs`` decodes over ``context`` cached tokens. Arrays broadcast, as in ``model_step``."""
    p_seqs = _check_count("prefill_seqs", prefill_seqs)
    p_tok = _check_count("prefill_tokens", prefill_tokens)
    d_seqs = _check_count("decode_seqs", decode_seqs)
    ctx = _check_count("context", context)
    p_ctx = _check_count("prefill_context", prefill_context)
    tokens = p_seqs * p_tok + d_seqs
    if np.any(tokens < 1):
        raise ConfigError(None, "prefill_seqs x prefill_tokens + decode_seqs", tokens.tolist() if tokens.ndim else float(tokens),
                          "at least one token in the step")
    # Every sequence in the step yields one logit row, as in ``model_step``.
    seqs = np.where(p_tok > 0, p_seqs, 0.0) + d_seqs

    table = operator_table(model, parallel.pp)
    dm = device_model(model, device.kind, parallel.pp)
    check_model_split(model, parallel, dm)
    if not mixes_steps(device.kind):
        raise ConfigError(None, "schedule", "inflight",
                          f"'static' on a {device.kind} device ({device.name}): its model times whole static "
                          "batches, not mixed prefill and decode steps")
    tier = weight_tier or weights_tier(device, stored_weight_bytes(model, precision, parallel))
    timed = lambda **kw: _timed(table, dm, device, precision, parallel, tier, **kw)  # noqa: E731
    by_token = timed(b=tokens, s=1.0, c=0.0, u=touched_experts(model, tokens, 1.0, parallel, routing))
    by_seq = timed(b=seqs, s=1.0, c=0.0, u=1.0)
    # Attention groups: an empty group (no sequences or no tokens) is evaluated at one token and
    # masked to zero work, so no kernel shape degenerates.
    group_sizes = ((p_seqs, p_tok, p_ctx), (d_seqs, np.ones_like(d_seqs), ctx))
    raw = [timed(b=np.maximum(gb, 1.0), s=np.maximum(gs, 1.0), c=gc, u=1.0) for gb, gs, gc in group_sizes]

    kinds = row_kinds(table)
    shape = np.broadcast_shapes(tokens.shape, seqs.shape, ctx.shape, p_ctx.shape, by_token.compute.shape[1:],
                                by_seq.compute.shape[1:], *(g.compute.shape[1:] for g in raw))
    groups = [_masked(g, (gb * gs) > 0, shape) for g, (gb, gs, _) in zip(raw, group_sizes)]
    bc = lambda a: np.broadcast_to(a, shape)  # noqa: E731

    # Costs: token and sequence rows from their evaluation; attention rows summed over groups, the
    # GEMM shape (m, n, k) of the group with the most FLOPs.
    values = {}
    for fld in COST_FIELDS:
        rows = []
        for i, kind in enumerate(kinds):
            if kind == "token":
                rows.append(bc(by_token.costs.values[fld][i]))
            elif kind == "sequence":
                rows.append(bc(by_seq.costs.values[fld][i]))
            elif fld in SUMMED_FIELDS:
                rows.append(bc(sum(np.nan_to_num(g.costs.values[fld][i]) for g in groups)))
            else:
                first = groups[0].costs.values["flops"][i] >= groups[1].costs.values["flops"][i]
                rows.append(bc(np.where(first, groups[0].costs.values[fld][i], groups[1].costs.values[fld][i])))
        values[fld] = np.stack(rows)
    base = by_token.costs
    costs = OpCosts(names=base.names, kinds=base.kinds, groups=base.groups, count=base.count, values=values)

    # Times: the same rows; attention rows by the device model's group combination.
    combine = getattr(dm, "combine_groups", _default_combine)
    fields = [f.name for f in dataclasses.fields(by_token) if f.name not in ("costs", "units", "tiers")]
    out: dict[str, list[np.ndarray]] = {f: [] for f in fields}
    units = []
    for i, kind in enumerate(kinds):
        if kind == "attention":
            row, unit = combine(groups, i)
            row = {f: bc(row[f]) for f in fields}
        else:
            src = by_token if kind == "token" else by_seq
            row, unit = {f: bc(getattr(src, f)[i]) for f in fields}, src.units[i]
        for f in fields:
            out[f].append(row[f])
        units.append(unit)
    times = type(by_token)(costs, **{f: np.stack(v) for f, v in out.items()}, units=tuple(units),
                           tiers=by_token.tiers)
    return Step(times, tier)


def layer_op_per_byte(costs: OpCosts, group: str = "moe") -> np.ndarray:
    """Op/B of one layer of ``group`` (``moe``, ``attention``, ``ffn``): its FLOPs over its bytes,
    one instance of each of its operators (collectives move no HBM bytes and do no FLOPs)."""
    rows = np.array([g == group for g in costs.groups])
    if not rows.any():
        raise ConfigError(None, "group", group, f"allowed: {', '.join(sorted(set(costs.groups)))}")
    flops = costs.flops[rows].sum(0)
    nbytes = costs.bytes[rows].sum(0)
    return np.divide(flops, nbytes, out=np.zeros_like(nbytes), where=nbytes > 0)
