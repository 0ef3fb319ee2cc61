"""moearch: model, generate, verify and explore hardware for Mixture-of-Experts models.

This module is the public Python API: everything the ``moearch`` command does, as functions. The
names below come from the packages under it (``accelerators < archmodel < codegen < verification <
dse``); import them from here, and the layout underneath can change without breaking your code.

Devices and workloads come from the catalogs (or a path to your own YAML / ``config.json``):

>>> import moearch
>>> h100 = moearch.load_device("h100-sxm")
>>> h100.kind, h100.main_memory.name, h100.main_memory.capacity / 1e9
('gpu', 'hbm', 80.0)
>>> mixtral = moearch.load_workload("mixtral-8x7b")
>>> mixtral.moe.num_experts, mixtral.moe.top_k, mixtral.hidden_size
(8, 2, 4096)
>>> "h100-sxm" in moearch.list_devices() and "mixtral-8x7b" in moearch.list_workloads()
True

One forward step: ``b`` sequences per tensor-parallel group, ``s`` new tokens each, ``c`` cached.
Arguments broadcast, so an array of batches is one call:

>>> fp8, tp2 = moearch.Precision.of("fp8"), moearch.Parallelism(tp=2)
>>> step = moearch.model_step(mixtral, h100, b=32, s=1, c=2048, precision=fp8, parallel=tp2)
>>> f"{float(step.latency) * 1e3:.1f} ms, {step.bottleneck()}-bound, weights in {step.weight_tier}"
'10.0 ms, memory-bound, weights in hbm'
>>> import numpy as np
>>> moearch.step_latency(mixtral, h100, b=np.array([1, 32, 256]), s=1, c=2048, precision=fp8,
...                      parallel=tp2).shape
(3,)

Serving (TTFT, TPOT, tokens/s) and several devices side by side, each on the fewest chips that
hold the model:

>>> r = moearch.serve(mixtral, h100, isl=1024, osl=1024, batch=64, precision=fp8, parallel=tp2)
>>> r.batch, r.bottleneck, r.tpot_s < r.ttft_s
(64, 'memory', True)
>>> rows = moearch.compare(mixtral, ["h100-sxm", "ascend-910c"], isl=1024, osl=1024,
...                        precision=moearch.Precision.of("bf16"))
>>> [(row["device"], row["devices"]) for row in rows]
[('h100-sxm', 2), ('ascend-910c', 1)]

Bad input is one :class:`ConfigError` that names the file, the field, the value and what is allowed:

>>> try:
...     moearch.serve(mixtral, h100, isl=0, osl=128)
... except moearch.ConfigError as err:
...     print(err)
<input>: field 'isl': got 0; a whole number >= 1

A kernel for one MoE layer on an FPGA: HLS C++, Verilog and a manifest of what the model predicts,
then verified in simulation against the golden model (``verify_kernel``: lint, Verilator, Icarus):

>>> import pathlib, tempfile
>>> spec = moearch.KernelSpec(tokens=4, hidden=16, ffn=32, experts=4, top_k=2, gated=True,
...                           pe_rows=4, pe_cols=4, device="alveo-u280")
>>> kernel = moearch.generate_kernel(spec, pathlib.Path(tempfile.mkdtemp()) / "kernel")
>>> sorted(f for f in kernel.files if f.endswith((".cpp", ".v", ".json")))
['hls/moe_kernel.cpp', 'hls/moe_kernel_tb.cpp', 'manifest.json', 'rtl/moe_kernel.v']
>>> kernel.manifest["device"]["pe_array"], kernel.manifest["predicted"]["cycles"] > 0
([4, 4], True)
>>> report = moearch.verify_kernel(kernel.out_dir, sims=["verilator"], tests=["nominal_routing"],
...                                build_root=pathlib.Path(tempfile.mkdtemp()))
>>> report.lint.ok, [(sim.simulator, sim.passed) for sim in report.sims], report.passed
(True, [('verilator', True)], True)

Design-space exploration: a space file, an agent, a job file that survives a kill (``resume_job``):

>>> space = moearch.load_space(moearch.EXAMPLES / "fpga-moe-kernel.yaml")
>>> len(space.parameters) > 0
True
>>> job = pathlib.Path(tempfile.mkdtemp()) / "random.db"
>>> summary = moearch.run_job(moearch.EXAMPLES / "fpga-moe-kernel.yaml", job,
...                           moearch.JobSettings(agent="random", seed=0, budget=8))
>>> summary.evaluations, summary.best is not None
(8, True)
"""
from __future__ import annotations

from pathlib import Path

from accelerators.catalog import list_devices, load_device
from accelerators.errors import ConfigError
from archmodel.compare import compare_rows as compare
from archmodel.parallel import Parallelism
from archmodel.precision import Precision
from archmodel.routing import Routing
from archmodel.serve import ServeResult, serve
from archmodel.step import Step, model_step, step_latency
from archmodel.workload import ModelConfig
from archmodel.workloads import list_workloads, load_workload
from codegen.generate import generate_kernel
from codegen.spec import KernelSpec
from codegen.writer import WriteResult
from dse.job import JobSettings, JobSummary, resume_job, run_job
from dse.space import Space
from dse.space_file import load_space
from verification.verify import VerifyReport, verify_kernel

#: The example configs shipped with moearch (a DSE space per domain, a device of your own).
EXAMPLES: Path = Path(__file__).resolve().parent / "examples"

__all__ = [
    "EXAMPLES",
    "ConfigError",
    "JobSettings",
    "KernelSpec",
    "JobSummary",
    "ModelConfig",
    "Parallelism",
    "Precision",
    "Routing",
    "ServeResult",
    "Space",
    "Step",
    "VerifyReport",
    "WriteResult",
    "compare",
    "generate_kernel",
    "list_devices",
    "list_workloads",
    "load_device",
    "load_space",
    "load_workload",
    "model_step",
    "resume_job",
    "run_job",
    "serve",
    "step_latency",
    "verify_kernel",
]
