"""FPGA cost model: InTAR execution styles, resource estimates, timing (the kernel schedule is ``codegen.schedule``).

* :mod:`.timing` — cycle formulas from the hardware timing contract (``docs/kernel-arithmetic.md`` §3).
* :mod:`.budget` — :class:`Budget` (part, PE array, packing, HBM channels, BRAM/URAM) and :func:`make_budget`.
* :mod:`.resources` — DSP/LUT/FF/BRAM estimate per documented unit.
* :mod:`.tasks` — task-chain IR and the built-in kernels.
* :mod:`.styles` — dataflow, sequential, InTAR and partial reconfiguration for a chain.
* :mod:`.device_model` — :class:`FPGAModel` for the operator table (device kind ``fpga``).
"""
from .budget import Budget, make_budget
from .resources import Buffer, Resources, estimate_resources
from .styles import StyleResult, partial_reconfiguration, run_style
from .tasks import MoELayer, Task, TaskChain, build_kernel, gated_ffn, mlp, moe_chain, self_attention
from .timing import gemm_cycles

__all__ = [
    "Budget", "Buffer", "MoELayer", "Resources", "StyleResult", "Task", "TaskChain", "build_kernel",
    "estimate_resources", "gated_ffn", "gemm_cycles", "make_budget", "mlp", "moe_chain", "partial_reconfiguration",
    "run_style", "self_attention",
]
