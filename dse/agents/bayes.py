"""Bayesian optimisation through Optuna's TPE sampler (``tpe``).

Each parameter is an Optuna distribution over value *indices*: ``IntDistribution(0, n-1)`` for
ordinal (numeric) parameters, so the samplers see their order, and ``CategoricalDistribution``
for the others. All objectives are minimised (``max`` goals are negated before they are told).

Reproducible across resume: the agent's state is just the told history and the round number.
Every ``ask`` asks ``n`` trials of an in-memory study holding the told history, with a sampler
seeded by ``round_seed(seed, round)``; the trials stay pending while the round is evaluated (TPE's
constant liar uses them to spread a batch). The study is built from the history once and then
extended by each round's observations, the previous round's pending trials marked failed (which
every sampler ignores): rebuilding it every round cost O(history) per round, most of a 300-design
job's time on a space where most designs are rejected. A resumed agent rebuilds the study from
the history and asks the same trials (``tests/dse/test_agents.py`` compares the two paths).

A proposal the agent already knows (told before, or asked earlier in the round) is withdrawn —
its trial marked failed — and the sampler asked again, up to ``RETRIES`` times a slot: a
converged TPE otherwise proposes known designs round after round (free for the budget, but the
job makes no progress and stops as stalled).

How outcomes are told:

* evaluated, feasible or not: ``COMPLETE`` with the objective values and a constraint value
  (the relative violation, 0 when feasible);
* rejected before evaluation (``infeasible``): a ``PRUNED`` trial with the violation as its
  constraint (TPE ranks infeasible trials by violation and never reads their values); with
  ``penalise_infeasible`` (for samplers that fit every complete trial's values) a ``COMPLETE``
  trial whose values are the worst feasible values seen so far (0 before any);
* failed: ``FAIL`` (ignored by the sampler).

(Optuna's own GPSampler needs SciPy, which moearch does not depend on; the ``gp`` agent is
``dse.agents.gp``, a NumPy Gaussian process.)
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from accelerators.errors import ConfigError

from ..space import Design, Space
from .base import Agent, Observation, round_seed


def _optuna():
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    return optuna


class OptunaAgent(Agent):
    """Shared machinery of the Optuna-backed agents; subclasses build the sampler."""

    options: ClassVar[Mapping[str, str]] = {"startup": "random trials before the model is used (default 10)"}
    penalise_infeasible: ClassVar[bool] = False
    RETRIES: ClassVar[int] = 16  # proposals per slot before a known design is let through

    def __init__(self, space: Space, seed: int, startup: int = 10, **options: Any):
        super().__init__(space, seed)
        if options:
            raise ConfigError(None, "agent option", sorted(options), f"options of {self.name}: {', '.join(self.options)}")
        if not isinstance(startup, int) or startup < 1:
            raise ConfigError(None, "startup", startup, "a whole number >= 1")
        self.startup = startup
        self.history: list[Observation] = []
        self.round = 0
        # the study of history[:_told] plus the last round's pending trials; not part of the state
        self._cached: Any = None
        self._told = 0
        self._pending: list[Any] = []
        optuna = _optuna()
        self.distributions = {
            p.name: (optuna.distributions.IntDistribution(0, p.size - 1) if p.ordinal
                     else optuna.distributions.CategoricalDistribution(tuple(range(p.size))))
            for p in space.parameters}

    def make_sampler(self, seed: int):
        raise NotImplementedError

    def _trial(self, obs: Observation, worst: list[float] | None):
        optuna = _optuna()
        params = {p.name: int(i) for p, i in zip(self.space.parameters, obs.design)}
        state = optuna.trial.TrialState
        if obs.status == "failed":
            return optuna.trial.create_trial(state=state.FAIL, params=params, distributions=self.distributions)
        constraint = {"violation": float(min(obs.violation, 1e300))}
        if obs.status == "infeasible":
            if self.penalise_infeasible:
                values = worst if worst is not None else [0.0] * len(self.space.objectives)
                return optuna.trial.create_trial(state=state.COMPLETE, values=values, params=params,
                                                 distributions=self.distributions, constraints=constraint)
            return optuna.trial.create_trial(state=state.PRUNED, params=params, distributions=self.distributions,
                                             constraints=constraint)
        assert obs.objectives is not None
        return optuna.trial.create_trial(state=state.COMPLETE, values=list(obs.objectives), params=params,
                                         distributions=self.distributions, constraints=constraint)

    def _study(self):
        optuna = _optuna()
        sampler = self.make_sampler(round_seed(self.seed, self.round))
        if self._cached is None or self.penalise_infeasible:
            # penalised infeasible trials carry the worst feasible values so far, which change
            study = optuna.create_study(directions=["minimize"] * len(self.space.objectives), sampler=sampler)
            feasible = [o.objectives for o in self.history if o.feasible and o.objectives is not None]
            worst = [max(v[i] for v in feasible) for i in range(len(self.space.objectives))] if feasible else None
            study.add_trials([self._trial(o, worst) for o in self.history])
        else:
            study = self._cached
            for trial in self._pending:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            study.sampler = sampler
            study.add_trials([self._trial(o, None) for o in self.history[self._told:]])
        self._cached, self._told, self._pending = study, len(self.history), []
        return study

    def ask(self, n: int) -> list[Design]:
        """``n`` designs; a proposal the agent already knows (told, or asked this round) is
        withdrawn (its trial marked failed, which the sampler ignores) and the sampler asked again,
        up to ``RETRIES`` times a slot; then the last proposal stands and the job sees a repeat."""
        optuna = _optuna()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-feature notices of the samplers
            study = self._study()
            known = {o.design for o in self.history}
            out: list[Design] = []
            for _ in range(n):
                for attempt in range(self.RETRIES):
                    trial = study.ask(self.distributions)
                    design = tuple(int(trial.params[p.name]) for p in self.space.parameters)
                    if (design not in known and design not in out) or attempt == self.RETRIES - 1:
                        break
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                self._pending.append(trial)
                out.append(design)
        self.round += 1
        return out

    def tell(self, observations: Sequence[Observation]) -> None:
        self.history.extend(observations)

    def state_dict(self) -> dict[str, Any]:
        return {"round": self.round, "history": [o.to_json() for o in self.history]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.round = int(state["round"])
        self.history = [Observation.from_json(o) for o in state["history"]]
        self._cached, self._told, self._pending = None, 0, []


class TpeAgent(OptunaAgent):
    name: ClassVar[str] = "tpe"
    description: ClassVar[str] = "Optuna TPE (multivariate, constant liar for batches; multi-objective: MOTPE)"

    def make_sampler(self, seed: int):
        optuna = _optuna()
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.startup, multivariate=True,
                                          constant_liar=True)
