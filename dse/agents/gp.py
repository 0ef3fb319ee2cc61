"""Gaussian-process Bayesian optimisation (``gp``), in NumPy.

(Optuna's GPSampler needs SciPy, which moearch does not depend on, so this agent has its own
small GP; ``tpe`` is the Optuna-backed one.)

* Encoding: an ordinal parameter is its index scaled to [0, 1]; a categorical one is one-hot,
  scaled so that two different values are at distance 1.
* Model: zero-mean GP with a Matérn-5/2 kernel on standardised targets; length scale and noise by
  maximum marginal likelihood over a fixed grid (no optimiser, so it is deterministic).
* Objective: one objective as is; several by ParEGO — an augmented Chebyshev scalarisation of the
  objectives normalised to [0, 1], with weights drawn afresh each round.
* Constraints: a second GP on a feasibility score (-1 feasible; 1 + log(1 + violation) otherwise,
  1 for failed designs) gives P(feasible); the acquisition is expected improvement over the best
  feasible value times P(feasible) (P(feasible) alone until a feasible design is known), and
  candidates with P(feasible) < 0.1 are skipped while any other remains (infeasible designs are
  never evaluated, so the objective GP alone would see them as unexplored and promising).
* Candidates: every unseen design when the space has at most ``candidates``; otherwise that many
  random unseen designs plus the one-parameter neighbours of the five best. A batch is filled
  by the kriging believer: each pick joins the data at its predicted mean before the next.
* The first ``startup`` designs are uniform random.

Randomness comes from ``round_seed(seed, round)``; the state is the told history, the round and
the proposed designs, so a resumed agent asks exactly what the uninterrupted one would.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

import numpy as np

from accelerators.errors import ConfigError

from ..space import Design, Space
from .base import Agent, Observation, random_design, round_seed

LENGTH_SCALES: Final = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
NOISES: Final = (1e-6, 1e-4, 1e-2, 1e-1)
CHEBYSHEV_RHO: Final = 0.05
MIN_FEASIBLE: Final = 0.1
_ERF = np.vectorize(math.erf, otypes=[float])


def normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _ERF(np.asarray(z, dtype=float) / math.sqrt(2.0)))


def normal_pdf(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """E[max(best - f, 0)] for f ~ N(mean, std²) (minimisation)."""
    std = np.maximum(std, 1e-12)
    z = (best - mean) / std
    return std * (z * normal_cdf(z) + normal_pdf(z))


def matern52(a: np.ndarray, b: np.ndarray, length: float) -> np.ndarray:
    d = np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0)) / length
    s = math.sqrt(5.0) * d
    return (1.0 + s + s * s / 3.0) * np.exp(-s)


class GaussianProcess:
    """A GP fitted to (x, y): targets standardised, hyperparameters from a grid by marginal likelihood."""

    def __init__(self, x: np.ndarray, y: np.ndarray, length: float | None = None, noise: float | None = None):
        self.x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        self.mu = float(y.mean())
        self.sd = float(y.std()) or 1.0
        self.y = (y - self.mu) / self.sd
        if length is None or noise is None:
            length, noise = self._select()
        self.length, self.noise = length, noise
        self._factor(length, noise)

    def _factor(self, length: float, noise: float) -> float:
        k = matern52(self.x, self.x, length) + (noise + 1e-9) * np.eye(len(self.x))
        self.chol = np.linalg.cholesky(k)
        self.alpha = np.linalg.solve(self.chol.T, np.linalg.solve(self.chol, self.y))
        return float(-0.5 * self.y @ self.alpha - np.log(np.diag(self.chol)).sum())

    def _select(self) -> tuple[float, float]:
        best, choice = -np.inf, (LENGTH_SCALES[0], NOISES[-1])
        for length in LENGTH_SCALES:
            for noise in NOISES:
                try:
                    ll = self._factor(length, noise)
                except np.linalg.LinAlgError:
                    continue
                if ll > best + 1e-12:
                    best, choice = ll, (length, noise)
        return choice

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ks = matern52(np.asarray(x, dtype=float), self.x, self.length)
        mean = ks @ self.alpha
        v = np.linalg.solve(self.chol, ks.T)
        var = np.maximum(1.0 - (v * v).sum(0), 1e-12)
        return mean * self.sd + self.mu, np.sqrt(var) * self.sd

    def with_point(self, x: np.ndarray, y: float) -> "GaussianProcess":
        """The same hyperparameters, one more observation (kriging believer)."""
        return GaussianProcess(np.vstack([self.x, x[None, :]]), np.append(self.y * self.sd + self.mu, y),
                               self.length, self.noise)


def encode(space: Space, designs: Sequence[Design]) -> np.ndarray:
    """Feature rows of ``designs`` (ordinal: scaled index; categorical: scaled one-hot)."""
    columns = []
    arr = np.asarray(designs, dtype=int).reshape(len(designs), len(space.parameters))
    for j, p in enumerate(space.parameters):
        if p.ordinal:
            columns.append((arr[:, j] / max(p.size - 1, 1))[:, None])
        else:
            columns.append(np.eye(p.size)[arr[:, j]] / math.sqrt(2.0))
    return np.hstack(columns) if columns else np.zeros((len(designs), 0))


def chebyshev(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ParEGO's augmented Chebyshev scalarisation of objectives normalised to [0, 1]."""
    lo, hi = values.min(axis=0), values.max(axis=0)
    norm = (values - lo) / np.where(hi > lo, hi - lo, 1.0)
    weighted = norm * weights
    return weighted.max(axis=1) + CHEBYSHEV_RHO * weighted.sum(axis=1)


class GpAgent(Agent):
    name: ClassVar[str] = "gp"
    description: ClassVar[str] = "Gaussian-process BO: Matérn-5/2, constrained EI, ParEGO for several objectives"
    options: ClassVar[Mapping[str, str]] = {"startup": "random designs before the GP is used (default 10)",
                                            "candidates": "designs scored per round (default 2048)"}

    def __init__(self, space: Space, seed: int, startup: int = 10, candidates: int = 2048, **options: Any):
        super().__init__(space, seed)
        if options:
            raise ConfigError(None, "agent option", sorted(options), f"options of gp: {', '.join(self.options)}")
        for name, value in (("startup", startup), ("candidates", candidates)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(None, name, value, "a whole number >= 1")
        self.startup = startup
        self.candidates = candidates
        self.history: list[Observation] = []
        self.round = 0
        self.seen: set[int] = set()

    # --- proposing ---------------------------------------------------------------------------
    def _unseen_random(self, rng: np.random.Generator, count: int) -> list[Design]:
        out: list[Design] = []
        taken: set[int] = set()
        attempts = 0
        while len(out) < count and len(self.seen) + len(taken) < self.space.size and attempts < count * 20:
            attempts += 1
            design = random_design(self.space, rng)
            index = self.space.index_of(design)
            if index not in self.seen and index not in taken:
                taken.add(index)
                out.append(design)
        return out

    def _pool(self, rng: np.random.Generator, best: Sequence[Design]) -> list[Design]:
        if self.space.size <= self.candidates:
            return [self.space.design_at(i) for i in range(self.space.size) if i not in self.seen]
        pool = self._unseen_random(rng, self.candidates)
        known = {self.space.index_of(d) for d in pool}
        for design in best:
            for j, p in enumerate(self.space.parameters):
                moves = (design[j] - 1, design[j] + 1) if p.ordinal else range(p.size)
                for v in moves:
                    if 0 <= v < p.size and v != design[j]:
                        neighbour = design[:j] + (v,) + design[j + 1:]
                        index = self.space.index_of(neighbour)
                        if index not in self.seen and index not in known:
                            known.add(index)
                            pool.append(neighbour)
        return pool

    def _models(self, rng: np.random.Generator):
        unique: dict[Design, Observation] = {}
        for obs in self.history:
            if not obs.cached:
                unique.setdefault(obs.design, obs)
        observations = list(unique.values())
        evaluated = [o for o in observations if o.status == "ok" and o.objectives is not None]
        if len(evaluated) < 2:
            return None, None, observations
        values = np.array([o.objectives for o in evaluated], dtype=float)
        if values.shape[1] > 1:
            weights = rng.dirichlet(np.ones(values.shape[1]))
            target = chebyshev(values, weights)
        else:
            target = values[:, 0]
        objective = GaussianProcess(encode(self.space, [o.design for o in evaluated]), target)
        feasible = np.array([o.feasible for o in evaluated])
        score = np.array([-1.0 if o.feasible else (1.0 if o.status == "failed" else 1.0 + math.log1p(min(o.violation,
                          1e300))) for o in observations])
        constraint = None
        if (score > 0).any():
            constraint = GaussianProcess(encode(self.space, [o.design for o in observations]), score)
        best = float(target[feasible].min()) if feasible.any() else None
        return (objective, best), constraint, observations

    def ask(self, n: int) -> list[Design]:
        rng = np.random.default_rng(round_seed(self.seed, self.round))
        self.round += 1
        evaluated = sum(1 for o in self.history if o.status == "ok" and not o.cached)
        if evaluated < self.startup:
            out = self._unseen_random(rng, n)
        else:
            out = self._model_ask(rng, n)
        for design in out:
            self.seen.add(self.space.index_of(design))
        return out

    def _model_ask(self, rng: np.random.Generator, n: int) -> list[Design]:
        fitted, constraint, observations = self._models(rng)
        if fitted is None:
            return self._unseen_random(rng, n)
        objective, best = fitted
        ranked = sorted((o for o in observations if o.feasible and o.objectives is not None),
                        key=lambda o: o.objectives)
        pool = self._pool(rng, [o.design for o in ranked[:5]])
        out: list[Design] = []
        while pool and len(out) < n:
            x = encode(self.space, pool)
            mean, std = objective.predict(x)
            if constraint is not None:
                c_mean, c_std = constraint.predict(x)
                p_feasible = normal_cdf(-c_mean / np.maximum(c_std, 1e-12))
            else:
                c_mean, p_feasible = np.zeros(len(pool)), np.ones(len(pool))
            score = p_feasible if best is None else expected_improvement(mean, std, best) * p_feasible
            likely = p_feasible >= MIN_FEASIBLE
            if likely.any():  # unexplored infeasible regions look promising to the objective GP alone
                score = np.where(likely, score, -1.0)
            pick = int(np.argmax(score))
            out.append(pool.pop(pick))
            objective = objective.with_point(x[pick], float(mean[pick]))
            if constraint is not None:
                constraint = constraint.with_point(x[pick], float(c_mean[pick]))
        return out

    # --- learning ----------------------------------------------------------------------------
    def tell(self, observations: Sequence[Observation]) -> None:
        self.history.extend(observations)

    def state_dict(self) -> dict[str, Any]:
        return {"round": self.round, "seen": sorted(self.seen), "history": [o.to_json() for o in self.history]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.round = int(state["round"])
        self.seen = {int(i) for i in state["seen"]}
        self.history = [Observation.from_json(o) for o in state["history"]]
