"""Evaluate a chunk of designs: precheck, reject infeasible, evaluate the rest, check constraints.

:func:`evaluate_chunk` is what every backend runs (inline, in a worker process, in a Ray task):
a pure function of the space and the designs, so the same chunk gives the same numbers anywhere.

Per design, in order:

1. the adapter's cheap ``precheck`` metrics (resources, memory footprint); a design the adapter
   calls invalid (``InvalidDesign``) is ``infeasible`` with violation 1;
2. constraints that name only parameters and precheck metrics: a violated one makes the design
   ``infeasible`` and it is never evaluated;
3. the adapter's ``evaluate`` for the remaining designs, as one batch (vectorised);
4. every constraint again on the full metrics (a design that violates one is ``ok`` but not
   ``feasible``); objective metrics must be present and finite, else the design ``failed``.

An exception in one design becomes that design's ``failed`` result; the chunk goes on.

Who computes the metrics is the space's :class:`DesignEvaluator` (:func:`evaluator_for`): the
domain adapter for a model space (``evaluator: archmodel``), or the table file for a table space
(``evaluator: table``). A table's precheck rejects a design the file does not have (``not in the
table``) or has measured invalid (``measured invalid: compile``) as ``InvalidDesign``: infeasible,
never evaluated; its evaluation returns the row's metrics.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .evaluators import adapter_for
from .evaluators.base import InvalidDesign, Outcome, Scalar
from .measured import MeasuredTable, load_table
from .rtl.evaluator import RtlEvaluator
from .space import Design, Space, pre_constraints


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one design (no agent or round information: that is the job's)."""

    key: str
    status: str  # ok | failed | infeasible
    feasible: bool
    metrics: dict[str, float] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=dict)
    violation: float = 0.0
    violated: tuple[str, ...] = ()
    error: str | None = None
    eval_s: float = 0.0


class DesignEvaluator(Protocol):
    """What :func:`evaluate_chunk` asks of a space's evaluator; ``metrics`` maps each metric it
    returns to its unit, ``precheck_metrics`` are the ones :meth:`precheck` returns."""

    metrics: Mapping[str, str]
    precheck_metrics: tuple[str, ...]

    def precheck(self, designs: Sequence[Design]) -> list[Outcome]:
        """Cheap metrics of each design, or the exception (InvalidDesign: infeasible) it raised."""

    def evaluate(self, designs: Sequence[Design]) -> list[Outcome]:
        """Every metric of each design, or the exception it raised."""


class ModelEvaluator:
    """A model space's designs through its domain adapter (``dse.evaluators``)."""

    def __init__(self, space: Space):
        self.space = space
        self.adapter = adapter_for(space.domain)
        self.metrics = self.adapter.metrics
        self.precheck_metrics = self.adapter.precheck_metrics

    def precheck(self, designs: Sequence[Design]) -> list[Outcome]:
        return self.adapter.precheck(self.space.context, [self.space.settings(d) for d in designs])

    def evaluate(self, designs: Sequence[Design]) -> list[Outcome]:
        return self.adapter.evaluate(self.space.context, [self.space.settings(d) for d in designs])


class MeasuredEvaluator:
    """A table space's designs looked up in its table file (read once per process)."""

    precheck_metrics: tuple[str, ...] = ()

    def __init__(self, space: Space):
        assert space.table is not None, "a table space has a table"
        self.space = space
        self.table: MeasuredTable = load_table(space.table, space.source)
        self.metrics = self.table.metrics

    def config(self, design: Design) -> dict[str, Scalar]:
        return {**dict(self.space.fixed), **self.space.values_of(design)}

    def precheck(self, designs: Sequence[Design]) -> list[Outcome]:
        out: list[Outcome] = []
        for design in designs:
            point = self.table.lookup(self.config(design))
            if point is None:
                out.append(InvalidDesign("not in the table"))
            elif not point.valid:
                out.append(InvalidDesign(f"measured invalid: {point.reason}" if point.reason else "measured invalid",
                                         point.metrics))
            else:
                out.append({})
        return out

    def evaluate(self, designs: Sequence[Design]) -> list[Outcome]:
        out: list[Outcome] = []
        for design in designs:
            point = self.table.lookup(self.config(design))
            out.append(dict(point.metrics) if point is not None and point.valid else
                       ValueError("evaluated a design the table does not have measured valid"))
        return out


def evaluator_for(space: Space) -> DesignEvaluator:
    """The evaluator of ``space``: its table (``evaluator: table``), the model screening RTL
    (``evaluator: rtl``, :mod:`dse.rtl`) or its domain adapter."""
    if space.table is not None:
        return MeasuredEvaluator(space)
    if space.rtl is not None:
        return RtlEvaluator(space)
    return ModelEvaluator(space)


def _describe(error: BaseException) -> str:
    text = str(error).strip() or "(no message)"
    return f"{type(error).__name__}: {text}"


def _check(space: Space, design: Design, metrics: dict[str, float], constraints) -> tuple[float, tuple[str, ...]]:
    env = {**space.numeric_values(design), **metrics}
    worst = 0.0
    violated = []
    for constraint in constraints:
        v = float(constraint.violation(env))
        if v > 0:
            violated.append(constraint.text)
            worst = max(worst, v)
    return worst, tuple(violated)


def _floats(metrics: dict) -> dict[str, float]:
    return {str(k): float(v) for k, v in metrics.items()}


def evaluate_chunk(space: Space, designs: Sequence[Design]) -> list[Evaluation]:
    """Evaluate ``designs`` of ``space``; one :class:`Evaluation` per design, in order."""
    evaluator = evaluator_for(space)
    keys = [space.key(d) for d in designs]
    early = pre_constraints(space, evaluator.precheck_metrics)
    results: list[Evaluation | None] = [None] * len(designs)

    start = time.perf_counter()
    prechecked = evaluator.precheck(designs)
    precheck_s = (time.perf_counter() - start) / max(len(designs), 1)
    runnable: list[int] = []
    pre_metrics: list[dict[str, float]] = [{} for _ in designs]
    for i, outcome in enumerate(prechecked):
        if isinstance(outcome, InvalidDesign):
            results[i] = Evaluation(keys[i], "infeasible", False, _floats(outcome.metrics), violation=1.0,
                                    violated=(f"valid configuration: {outcome}",), eval_s=precheck_s)
            continue
        if isinstance(outcome, Exception):
            results[i] = Evaluation(keys[i], "failed", False, error=_describe(outcome), eval_s=precheck_s)
            continue
        pre_metrics[i] = _floats(outcome)
        try:
            violation, violated = _check(space, designs[i], pre_metrics[i], early)
        except (KeyError, TypeError, ValueError) as error:
            results[i] = Evaluation(keys[i], "failed", False, pre_metrics[i], error=_describe(error), eval_s=precheck_s)
            continue
        if violation > 0:
            results[i] = Evaluation(keys[i], "infeasible", False, pre_metrics[i], violation=violation,
                                    violated=violated, eval_s=precheck_s)
        else:
            runnable.append(i)

    start = time.perf_counter()
    try:
        outcomes = evaluator.evaluate([designs[i] for i in runnable]) if runnable else []
    except Exception as error:  # noqa: BLE001 - an adapter bug fails the chunk's designs, not the job
        outcomes = [error] * len(runnable)
    eval_s = precheck_s + (time.perf_counter() - start) / max(len(runnable), 1)
    for i, outcome in zip(runnable, outcomes):
        results[i] = _finish(space, designs[i], keys[i], pre_metrics[i], outcome, eval_s)
    return [r for r in results if r is not None]


def _finish(space: Space, design: Design, key: str, pre: dict[str, float], outcome, eval_s: float) -> Evaluation:
    if isinstance(outcome, Exception):
        return Evaluation(key, "failed", False, pre, error=_describe(outcome), eval_s=eval_s)
    metrics = {**pre, **_floats(outcome)}
    for objective in space.objectives:
        value = metrics.get(objective.metric)
        if value is None or not math.isfinite(value):
            return Evaluation(key, "failed", False, metrics, eval_s=eval_s,
                              error=f"objective metric {objective.metric!r} is {value!r}")
    try:
        violation, violated = _check(space, design, metrics, space.constraints)
    except (KeyError, TypeError, ValueError) as error:
        return Evaluation(key, "failed", False, metrics, error=_describe(error), eval_s=eval_s)
    objectives = {o.metric: metrics[o.metric] for o in space.objectives}
    return Evaluation(key, "ok", violation == 0, metrics, objectives, violation, violated, eval_s=eval_s)


def minimised(space: Space, objectives: dict[str, float]) -> tuple[float, ...]:
    """Objective values in minimisation form (``max`` goals negated), in the space's order."""
    return tuple(o.sign * objectives[o.metric] for o in space.objectives)


def chunked(items: Sequence, size: int) -> list[list]:
    """Split ``items`` into consecutive chunks of ``size`` (the last may be shorter)."""
    return [list(items[i:i + size]) for i in range(0, len(items), max(1, size))]


__all__ = ["DesignEvaluator", "Evaluation", "MeasuredEvaluator", "ModelEvaluator", "chunked", "evaluate_chunk",
           "evaluator_for", "minimised"]
