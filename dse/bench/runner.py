"""Run an agent against a metric table, the way a job would, and record its trace.

The loop is the job's (``dse.job``) without the store: rounds of ``ask(batch)``; designs seen
before are answered from the cache (free); designs rejected before evaluation are free; every
other new design is one unique evaluation. The run stops once ``budget`` unique evaluations are
done, the agent has nothing more to propose, or ``patience`` rounds in a row proposed only
designs seen before.

Budgets share one run: a budget of ``n`` is read as the first ``n`` unique evaluations of the
run. The agent is never told the budget and every round asks ``batch`` designs, so an agent's
first ``n`` evaluations cannot depend on how long the run goes on. (A job started with
``--budget n`` asks fewer designs in its last round; it can differ from this prefix only there.)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..agents import make_agent
from .table import MetricTable, TableEvaluator


@dataclass
class Trace:
    """One run: the unique evaluations in order (design indices) and how the run went."""

    agent: str
    seed: int
    options: dict[str, Any]
    evaluations: list[int]
    rounds: int
    queries: int
    cache_hits: int
    rejected: int
    stop_reason: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def run_agent(table: MetricTable, agent_name: str, seed: int, budget: int, batch: int = 8, patience: int = 20,
              **options: Any) -> Trace:
    """Run ``agent_name`` on ``table`` until ``budget`` unique evaluations (or it stops)."""
    started = time.perf_counter()
    agent = make_agent(agent_name, table.space, seed, **options)
    evaluator = TableEvaluator(table)
    rounds, stalled, reason = 0, 0, "budget"
    while evaluator.evaluations < budget:
        if stalled >= patience:
            reason = "stalled"
            break
        designs = [table.space.check(d) for d in agent.ask(batch)]
        if not designs:
            reason = "exhausted"
            break
        before = evaluator.queries - evaluator.cache_hits
        observations = evaluator(designs)
        agent.tell(observations)
        rounds += 1
        stalled = 0 if evaluator.queries - evaluator.cache_hits > before else stalled + 1
    extra = agent.diagnostics() if hasattr(agent, "diagnostics") else {}
    return Trace(agent=agent_name, seed=seed, options=dict(options), evaluations=evaluator.trace[:budget],
                 rounds=rounds, queries=evaluator.queries, cache_hits=evaluator.cache_hits,
                 rejected=evaluator.rejected, stop_reason=reason, seconds=time.perf_counter() - started,
                 extra=extra)
