"""Task-chain IR and the built-in multi-task kernels (InTAR's, and one MoE layer).

A kernel is a chain of tasks in execution order. A ``gemm`` task runs on the PE array:
``instances`` independent ``Y[m, n] = X[m, k] @ B[k, n]``; ``B`` is a weight read from off-chip
memory (``weights_offchip``) or an intermediate produced on chip (attention's K^T and V). A
``vector`` task (softmax) runs on a lane unit: ``passes`` reads of each of its ``m x n`` elements
per instance. Element-wise activations and requantisation are fused into the producing GEMM's
drain (the RTL applies them on the PE output stream), so they are not tasks.

Every task streams row by row: a consumer may start on a row block of its producer's output as
soon as that row block is complete, except for producers listed in ``blocking``, whose whole
output it needs first (QK^T needs every row of K before the first score row exists). Operands
are int8 (one byte), as in the kernel arithmetic (``docs/kernel-arithmetic.md``).

Default sizes follow the task description's reading of the InTAR paper (He et al., FCCM 2025):
self-attention with sequence 256 and hidden 1024; a gated FFN 4096 -> 11008 at batch 32. The
paper's 3-layer MLP sizes could not be retrieved from the sources available to this project; the
MLP default (batch 256, 1024 -> 4096 -> 4096 -> 1024) is ours and every size is a flag.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from accelerators.errors import ConfigError

from ..moe_layer import MoELayer, check_counts, uniform_counts

__all__ = ["KERNELS", "MoELayer", "Task", "TaskChain", "build_kernel", "gated_ffn",
           "check_counts", "mlp", "moe_chain", "self_attention", "uniform_counts"]

TaskKind = Literal["gemm", "vector"]


@dataclass(frozen=True)
class Task:
    """One task of a chain; see the module docstring."""

    name: str
    kind: TaskKind
    m: int
    n: int
    k: int = 1
    instances: int = 1
    a_from: str | None = None             # task whose output is the A operand; None: kernel input
    inputs: tuple[str, ...] = ()          # every producing task (A operand, B operand, side inputs)
    blocking: tuple[str, ...] = ()        # producers whose whole output is needed first
    weights_offchip: bool = True          # gemm: B is a weight streamed from off-chip memory
    passes: int = 1                       # vector: reads per element

    @property
    def macs(self) -> int:
        return self.instances * self.m * self.n * self.k if self.kind == "gemm" else 0

    @property
    def out_bytes(self) -> int:
        return self.instances * self.m * self.n

    @property
    def in_bytes(self) -> int:
        """Bytes of the A operand (gemm) or of the input (vector)."""
        return self.instances * self.m * (self.k if self.kind == "gemm" else self.n)

    @property
    def weight_bytes(self) -> int:
        return self.instances * self.k * self.n if self.kind == "gemm" and self.weights_offchip else 0


@dataclass(frozen=True)
class TaskChain:
    name: str
    tasks: tuple[Task, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for t in self.tasks:
            missing = [p for p in t.inputs + t.blocking if p not in seen]
            if t.a_from is not None and t.a_from not in t.inputs:
                raise ValueError(f"{self.name}: task {t.name} reads its A operand from {t.a_from}, not an input")
            if missing:
                raise ValueError(f"{self.name}: task {t.name} consumes {missing} before they are produced")
            seen.add(t.name)

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def macs(self) -> int:
        return sum(t.macs for t in self.tasks)

    def consumers(self, name: str) -> tuple[Task, ...]:
        return tuple(t for t in self.tasks if name in t.inputs or name in t.blocking)


def _positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(None, name, value, "a whole number >= 1")


def self_attention(seq: int = 256, hidden: int = 1024, heads: int = 1) -> TaskChain:
    """Self-attention: QKV projection, QK^T (blocked on all of K), softmax, SV, output projection."""
    _positive(seq=seq, hidden=hidden, heads=heads)
    if hidden % heads:
        raise ConfigError(None, "heads", heads, f"a divisor of hidden = {hidden}")
    hd = hidden // heads
    return TaskChain("self-attention", (
        Task("qkv", "gemm", seq, 3 * hidden, hidden),
        Task("score", "gemm", seq, seq, hd, heads, a_from="qkv", inputs=("qkv",), blocking=("qkv",),
             weights_offchip=False),
        Task("softmax", "vector", seq, seq, 1, heads, a_from="score", inputs=("score",), passes=2),
        Task("context", "gemm", seq, hd, seq, heads, a_from="softmax", inputs=("softmax", "qkv"),
             weights_offchip=False),
        Task("out_proj", "gemm", seq, hidden, hidden, a_from="context", inputs=("context",)),
    ))


def gated_ffn(batch: int = 32, hidden: int = 4096, ffn: int = 11008) -> TaskChain:
    """SwiGLU FFN: up and gate both read the input; ``act(gate) * up`` is formed in gate's drain
    (so gate consumes up's output row by row as a side input); down reads the product."""
    _positive(batch=batch, hidden=hidden, ffn=ffn)
    return TaskChain("gated-ffn", (
        Task("up", "gemm", batch, ffn, hidden),
        Task("gate", "gemm", batch, ffn, hidden, inputs=("up",)),
        Task("down", "gemm", batch, hidden, ffn, a_from="gate", inputs=("gate",)),
    ))


def mlp(batch: int = 256, dims: Sequence[int] = (1024, 4096, 4096, 1024)) -> TaskChain:
    """A multi-layer perceptron: ``len(dims) - 1`` GEMMs, activations fused."""
    _positive(batch=batch)
    dims = tuple(dims)
    if len(dims) < 2:
        raise ConfigError(None, "dims", dims, "at least two layer widths (input and output)")
    for i, w in enumerate(dims):
        _positive(**{f"dims[{i}]": w})
    tasks = []
    for i in range(len(dims) - 1):
        prev = f"fc{i}" if i else None
        tasks.append(Task(f"fc{i + 1}", "gemm", batch, dims[i + 1], dims[i], a_from=prev,
                          inputs=(prev,) if prev else ()))
    return TaskChain(f"mlp-{len(dims) - 1}", tuple(tasks))


def moe_chain(shape: MoELayer, counts: Sequence[int] | None = None) -> TaskChain:
    """The MoE layer as a generic chain (router, then each expert's up, gate, down), for the
    style comparison; the kernel generator's schedule is :func:`codegen.schedule.schedule_moe_layer`."""
    counts = check_counts(shape, counts) if counts is not None else uniform_counts(shape)
    tasks = [Task("router", "gemm", shape.tokens, shape.experts, shape.hidden)]
    for e, c in enumerate(counts):
        if c == 0:
            continue  # an expert without tokens has no tasks
        # an expert's token list is known once every token is routed: blocked on the router
        tasks.append(Task(f"e{e}.up", "gemm", c, shape.ffn, shape.hidden, inputs=("router",),
                          blocking=("router",)))
        last = f"e{e}.up"
        if shape.gated:
            tasks.append(Task(f"e{e}.gate", "gemm", c, shape.ffn, shape.hidden, inputs=("router", last),
                              blocking=("router",)))
            last = f"e{e}.gate"
        tasks.append(Task(f"e{e}.down", "gemm", c, shape.hidden, shape.ffn, a_from=last, inputs=(last,)))
    return TaskChain("moe", tuple(tasks))


KERNELS = ("self-attention", "gated-ffn", "mlp", "moe")


def build_kernel(name: str, **sizes: object) -> TaskChain:
    """A built-in chain by name with size overrides (None values take the defaults)."""
    given = {k: v for k, v in sizes.items() if v is not None}
    if name == "self-attention":
        return self_attention(**given)  # type: ignore[arg-type]
    if name == "gated-ffn":
        return gated_ffn(**given)  # type: ignore[arg-type]
    if name == "mlp":
        return mlp(**given)  # type: ignore[arg-type]
    if name == "moe":
        return moe_chain(MoELayer(**given))  # type: ignore[arg-type]
    raise ConfigError(None, "kernel", name, f"one of {', '.join(KERNELS)}")
