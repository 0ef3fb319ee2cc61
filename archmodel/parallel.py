"""How a model is split over devices: tensor, expert, pipeline and data parallelism."""
from __future__ import annotations

from dataclasses import dataclass

from accelerators.errors import ConfigError

from .workload import ModelConfig


@dataclass(frozen=True)
class Parallelism:
    """``tp`` x ``pp`` x ``dp`` devices. Attention and dense layers are tensor-parallel over ``tp``
    and data-parallel over ``dp``; MoE layers are expert-parallel over ``ep`` devices (a divisor or
    multiple of ``tp`` within the ``tp * dp`` devices of a pipeline stage): with ``ep >= tp`` each
    expert lives whole on one device, with ``ep < tp`` each expert is tensor-split ``tp/ep`` ways."""

    tp: int = 1
    ep: int = 1
    pp: int = 1
    dp: int = 1

    def __post_init__(self) -> None:
        for name in ("tp", "ep", "pp", "dp"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(None, name, value, "a whole number >= 1")
        stage = self.tp * self.dp
        if stage % self.ep:
            raise ConfigError(None, "ep", self.ep, f"a divisor of tp*dp = {stage}")
        if self.ep < self.tp and self.tp % self.ep:
            raise ConfigError(None, "ep", self.ep, f"a divisor of tp = {self.tp} when smaller than tp")
        if self.ep > self.tp and self.ep % self.tp:
            raise ConfigError(None, "ep", self.ep, f"a multiple of tp = {self.tp} when larger than tp")

    @property
    def devices(self) -> int:
        return self.tp * self.pp * self.dp

    @classmethod
    def for_devices(cls, devices: int, tp: int | None = None, ep: int | None = None,
                    pp: int | None = None) -> "Parallelism":
        """Fill in what the user left out: all devices tensor-parallel unless told otherwise."""
        if devices < 1:
            raise ConfigError(None, "devices", devices, "a whole number >= 1")
        pp = pp or 1
        if tp is None:
            tp = devices // pp
        if devices % (tp * pp):
            raise ConfigError(None, "devices", devices, f"a multiple of tp*pp = {tp * pp}")
        dp = devices // (tp * pp)
        return cls(tp=tp, ep=ep or 1, pp=pp, dp=dp)


def check_split(model: ModelConfig, parallel: Parallelism, *, whole_experts: bool = True) -> None:
    """Refuse a split no engine runs (one ConfigError naming the degree): tensor parallelism must
    keep attention heads whole (``tp`` divides the query heads; the KV heads are split or replicated
    whole, so ``tp`` divides them or is a multiple of them), and expert parallelism must place the
    experts evenly: ``ep`` divides the routed experts, or is a multiple of them (each expert then
    tensor-split over ``ep / experts`` ranks, as TensorRT-LLM's ``moe_tp x moe_ep``), unless the
    device model averages experts over its ranks (``whole_experts=False``: the NPU pool model, whose
    deployments add redundant copies)."""
    a, tp, ep = model.attention, parallel.tp, parallel.ep
    if a.num_heads % tp:
        raise ConfigError(None, "tp", tp, f"a divisor of the {a.num_heads} attention heads of {model.name} "
                          "(each tensor-parallel rank holds whole heads)")
    if a.kind != "mla" and a.num_kv_heads % tp and tp % a.num_kv_heads:
        raise ConfigError(None, "tp", tp, f"a divisor or a multiple of the {a.num_kv_heads} KV heads of {model.name} "
                          "(KV heads are split or replicated whole)")
    experts = model.moe.num_experts if model.is_moe and model.moe is not None else 0
    if whole_experts and experts and experts % ep and ep % experts:
        raise ConfigError(None, "ep", ep, f"a divisor of the {experts} routed experts of {model.name} (each rank "
                          f"holds as many whole experts) or a multiple of them (each expert split over ep/{experts} "
                          "ranks)")
