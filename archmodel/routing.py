"""How tokens spread over experts: the expected number of distinct experts a batch touches.

Under uniform top-k routing each token picks k of E experts, so an expert is missed by one token
with probability 1 - k/E and by T independent tokens with (1 - k/E)^T: the expected number of
distinct experts touched is E * (1 - (1 - k/E)^T). A skewed router is modelled by Zipf expert
popularity p_i ∝ i^-s; an expert is then missed by a token with probability about (1 - k p_i)
(p_i capped so k p_i <= 1), which is exact for the uniform case.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelerators.errors import ConfigError


@dataclass(frozen=True)
class Routing:
    """``uniform`` or ``zipf`` with exponent ``skew`` (0 is uniform)."""

    kind: str = "uniform"
    skew: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "zipf"):
            raise ConfigError(None, "routing", self.kind, "allowed: uniform, zipf")
        if self.kind == "zipf" and not self.skew >= 0:
            raise ConfigError(None, "routing.skew", self.skew, "a number >= 0")


def expert_popularity(num_experts: int, top_k: int, routing: Routing) -> np.ndarray:
    """Per-expert probability that one token picks it (sums to ``top_k``)."""
    if routing.kind == "uniform" or routing.skew == 0:
        return np.full(num_experts, top_k / num_experts)
    weights = np.arange(1, num_experts + 1, dtype=float) ** -routing.skew
    p = top_k * weights / weights.sum()
    # Cap at 1 (an expert cannot be picked twice by one token) and give the excess to the rest.
    for _ in range(num_experts):
        over = p > 1.0
        if not over.any():
            break
        excess = (p[over] - 1.0).sum()
        p[over] = 1.0
        p[~over] += excess * p[~over] / p[~over].sum()
    return p


def experts_touched(tokens: np.ndarray | float, num_experts: int, top_k: int,
                    routing: Routing = Routing()) -> np.ndarray:
    """Expected number of distinct experts that ``tokens`` tokens route to."""
    t = np.asarray(tokens, dtype=float)
    if routing.kind == "uniform" or routing.skew == 0:
        return num_experts * (1.0 - (1.0 - top_k / num_experts) ** t)
    p = expert_popularity(num_experts, top_k, routing)
    return (1.0 - (1.0 - p[:, None]) ** t.reshape(1, -1)).sum(axis=0).reshape(t.shape)


def busiest_expert_tokens(tokens: np.ndarray | float, num_experts: int, top_k: int,
                          routing: Routing = Routing()) -> np.ndarray:
    """Expected tokens at the most popular expert (what an expert-parallel rank waits for)."""
    p = expert_popularity(num_experts, top_k, routing)
    return np.asarray(tokens, dtype=float) * p.max()
