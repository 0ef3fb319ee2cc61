"""The pieces of a timed forward step that :mod:`archmodel.step` and the device models share.

The cached operator table, one cached compiled model per (model class, workload, pipeline split),
the weight and KV bytes a device stores, :class:`Step`, and :func:`timed_step` (one step on a given
device model). :mod:`archmodel.step` picks the model by device kind; a device model module that
needs a step of its own kind (the NPU's layouts, the PIM's operator report) calls these directly,
so no device module imports :mod:`archmodel.step`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .devices.gpu import BOUND_NAMES, StepTimes, weights_tier
from .optable import OperatorTable, OpCosts
from .parallel import Parallelism, check_split
from .precision import Precision
from .routing import Routing, experts_touched
from .workload import ModelConfig


@lru_cache(maxsize=64)
def operator_table(model: ModelConfig, pp: int = 1) -> OperatorTable:
    return OperatorTable(model, pp)


@lru_cache(maxsize=64)
def compiled_model(cls: type, model: ModelConfig, pp: int = 1):
    """The device model ``cls`` of ``model``'s operator table (compiled once per process)."""
    return cls(operator_table(model, pp))


@lru_cache(maxsize=4096)  # pure in its (hashable, frozen) arguments; the DSE asks it per design
def stored_weight_bytes(model: ModelConfig, precision: Precision, parallel: Parallelism) -> float:
    """Weight bytes one device stores: every GEMM's weights with all local experts, plus the
    embedding tables (vocab-parallel over tp; a tied embedding is the lm_head's weights, counted
    once); layers divided over pipeline stages. Norms and biases (< 0.5%) are left out."""
    table = operator_table(model, parallel.pp)
    ep = parallel.ep
    all_local = (model.moe.num_experts / ep) if model.moe else 1.0
    costs = table.evaluate(b=1, s=1, c=0, wB=precision.weight_bytes, tp=parallel.tp, ep=ep, u=all_local)
    gemm = np.array([kind == "gemm" for kind in costs.kinds])
    weights = float((costs.count * costs.weights * gemm).sum())
    tables = model.embedding_params() - (model.vocab_size * model.hidden_size if model.tie_word_embeddings else 0)
    embedding = tables * precision.weight_bytes / parallel.tp
    return weights + embedding


@lru_cache(maxsize=4096)
def kv_bytes_per_token(model: ModelConfig, precision: Precision, parallel: Parallelism) -> float:
    """KV-cache bytes one device stores per token of one sequence (its heads, its layers)."""
    costs = operator_table(model, parallel.pp).evaluate(b=1, s=1, c=0, kvB=precision.kv_bytes, tp=parallel.tp,
                                                        ep=parallel.ep)
    return float((costs.count * costs.kv_write).sum())


def kv_bytes_per_sequence(model: ModelConfig, precision: Precision, parallel: Parallelism, tokens: float) -> float:
    """KV-cache bytes one device stores for a sequence of ``tokens`` tokens: every token in a full
    attention layer, the last ``sliding_window`` in a windowed one (``ModelConfig.kv_tokens_kept``)."""
    return kv_bytes_per_token(model, precision, parallel) * model.kv_tokens_kept(tokens)


@dataclass(frozen=True)
class Step:
    """A timed forward step: per-operator costs and times, and the step total."""

    times: StepTimes
    weight_tier: str

    @property
    def costs(self) -> OpCosts:
        return self.times.costs

    @property
    def latency(self) -> np.ndarray:
        return self.times.total

    def bottleneck(self) -> str:
        by = self.times.time_by_bound()
        return BOUND_NAMES[int(by.reshape(len(BOUND_NAMES), -1).sum(axis=1).argmax())]


def touched_experts(model: ModelConfig, b, s, parallel: Parallelism, routing: Routing):
    """Experts one device's GEMMs touch under ``routing`` (None: the table's own uniform expression)."""
    if model.moe is None or routing.kind == "uniform":
        return None
    eg = max(1.0, parallel.ep / parallel.tp)
    return experts_touched(np.asarray(b, float) * np.asarray(s, float) * eg, model.moe.num_experts,
                           model.moe.top_k, routing) / parallel.ep


def check_model_split(model: ModelConfig, parallel: Parallelism, dm) -> None:
    """:func:`~archmodel.parallel.check_split` for the device model ``dm`` (its ``averages_experts``
    lets experts spread unevenly over its ranks)."""
    check_split(model, parallel, whole_experts=not getattr(dm, "averages_experts", False))


def timed_step(model: ModelConfig, device, dm, *, b, s, c, precision: Precision, parallel: Parallelism,
               routing: Routing, weight_tier: str | None) -> Step:
    """One forward step of ``model`` on ``device`` timed by the device model ``dm``."""
    check_model_split(model, parallel, dm)
    table = operator_table(model, parallel.pp)
    tier = weight_tier or weights_tier(device, stored_weight_bytes(model, precision, parallel))
    args = table.step_inputs(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes,
                             kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep,
                             u=touched_experts(model, b, s, parallel, routing))
    costs = table.evaluate(b=b, s=s, c=c, wB=precision.weight_bytes, aB=precision.activation_bytes,
                           kvB=precision.kv_bytes, tp=parallel.tp, ep=parallel.ep, u=args[-1])
    dev = dm.device_args(device, precision, parallel, tier)
    return Step(dm.step_times(costs, args, dev, tier, device.main_memory.name), tier)
