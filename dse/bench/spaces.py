"""Benchmark spaces: small enough to enumerate, built on the archmodel models.

* ``fpga-kernel-fine`` — the FPGA MoE kernel of ``examples/fpga-moe-kernel.yaml`` on a fine grid
  (PE rows and columns in steps of 4, buffer budget in half-octaves): one Mixtral-8x7B decode
  layer on an Alveo U280, latency and energy (two objectives; resource limits are checked before
  evaluation). Agents: compute (PE array, DSP packing), memory (buffer, HBM channels), schedule.
* ``pim-power-budget`` — a Duplex-like Logic-PIM device under a package power budget: the xPU,
  the PIM units and the HBM stacks share 700 W, and the batch and datatype must fit the HBM the
  memory agent provisions. Maximise Mixtral-8x7B decode throughput. Agents: xpu, pim, memory,
  serving. The interactions cross agents: the xPU the budget allows depends on the PIM and memory
  agents' choices, and the largest batch that fits depends on the stacks and the datatype.

Measured spaces (``kt-<kernel>-<gpu>``, one per file of the Kernel Tuner benchmark hub in the folder
``$MOEARCH_KERNEL_TUNER_HUB``; ``benchmarks/dse_agents.py --measured DIR`` sets it): every
configuration key of the file a parameter, the measured ``time_s`` minimised, the designs the file
lacks or measured invalid infeasible (``evaluator: table``). Agent groups by the key's first word:
``block`` -> threads, ``tile`` -> tiling, the rest -> options.

One space too large to enumerate (``LARGE_SPACES``; the benchmark evaluates designs as agents ask
for them, ``dse.bench.lazy``):

* ``pim-codesign-large`` — 1,610,612,736 designs: the Logic-PIM device of
  ``pim-power-budget`` on fine grids, deployed with tensor and expert parallelism, under the same
  700 W budget, a 50 ms TPOT target and the HBM capacity, maximising decode tokens/s per device.
  Five agent groups: xpu, pim, memory, serving (batch, weight and KV datatypes), parallelism
  (tp, ep). The interactions cross every group: the xPU the budget allows depends on the PIM and
  memory agents; the batch that fits depends on the stacks, the datatypes and the tensor-parallel
  split; the batch that meets the TPOT target depends on the xPU, the PIM units and tp.

The power budget is a stated model, not a datasheet figure: 0.35 W per dense BF16 TFLOPS of
xPU (about half of an H100's 700 W TDP over its 989 TFLOPS), 12 W per HBM3 stack, and per stack
0.67 W per unit of PIM bandwidth multiple for each (12 + Op/B) — moving data on the logic die and
computing on it. The Duplex configuration (989 TFLOPS, 4x, 8 Op/B, 5 stacks) draws 674 W.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from ..measured import load_table
from ..measured.table import TableSource
from ..space import Space
from ..space_file import parse_space

HUB_ENV: Final = "MOEARCH_KERNEL_TUNER_HUB"
MEASURED_PREFIX: Final = "kt-"
GROUPS: Final[dict[str, str]] = {"block": "threads", "tile": "tiling"}
MAX_ENUMERABLE: Final = 1_000_000  # designs of a space file the benchmark enumerates

FPGA_KERNEL_FINE: Final = """
name: fpga-kernel-fine
description: Mixtral-8x7B MoE decode layer on Alveo U280, fine grid over PE array, buffers, HBM channels, style
workload: {model: mixtral-8x7b, phase: decode, batch: 32, context: 2048}
base_device: alveo-u280
parameters:
  - {name: pe_rows, range: {min: 4, max: 64, step: 4}, agent: compute}
  - {name: pe_cols, range: {min: 4, max: 64, step: 4}, agent: compute}
  - {name: macs_per_dsp, values: [1, 2], agent: compute}
  - {name: buffer_kib, values: [256, 362, 512, 724, 1024, 1448, 2048, 2896, 4096, 5793, 8192], agent: memory}
  - {name: hbm_channels, values: [4, 8, 16, 32], agent: memory}
  - {name: schedule, values: [dataflow, sequential, intar], agent: schedule}
constraints: ["dsp <= 9024", "bram_kib <= 35000", "lut_fraction <= 0.7"]
objectives: [{metric: latency_s, goal: min}, {metric: energy_j, goal: min}]
"""

PIM_POWER_BUDGET: Final = """
name: pim-power-budget
description: Duplex-like Logic-PIM device under a 700 W package budget; Mixtral-8x7B decode throughput
workload: {model: mixtral-8x7b, phase: decode, batch: 64, context: 4096}
base_device: duplex
parameters:
  - {name: xpu_tflops, values: [125, 250, 375, 500, 625, 750, 1000, 1250], agent: xpu}
  - {name: pim_bandwidth_multiple, values: [1, 2, 3, 4, 6, 8], agent: pim}
  - {name: pim_op_per_byte, values: [1, 2, 4, 8, 16], agent: pim}
  - {name: hbm_stacks, values: [2, 3, 4, 5, 6, 8], agent: memory}
  - {name: batch, values: [8, 16, 32, 64, 128, 256, 512], agent: serving}
  - {name: dtype, values: [fp8, bf16], agent: serving}
fixed: {tp: 1}
constraints:
  - memory_fraction <= 0.9
  - 0.35 * xpu_tflops + hbm_stacks * (12 + 0.67 * pim_bandwidth_multiple * (12 + pim_op_per_byte)) <= 700
objectives: [{metric: tokens_per_s, goal: max}]
"""

PIM_CODESIGN_LARGE: Final = """
name: pim-codesign-large
description: Logic-PIM device and its deployment under a 700 W package budget and a 50 ms TPOT target; Mixtral-8x7B decode tokens/s per device
workload: {model: mixtral-8x7b, phase: decode, batch: 64, context: 4096}
base_device: duplex
parameters:
  - {name: xpu_tflops, range: {min: 50, max: 1600, step: 50}, agent: xpu}
  - {name: pim_bandwidth_multiple, range: {min: 0.5, max: 8, step: 0.5}, agent: pim}
  - {name: pim_op_per_byte, range: {min: 1, max: 16, step: 1}, agent: pim}
  - {name: hbm_stacks, range: {min: 1, max: 8, step: 1}, agent: memory}
  - {name: batch, range: {min: 8, max: 2048, step: 8}, agent: serving}
  - {name: dtype, values: [fp8, bf16, int8], agent: serving}
  - {name: kv_dtype, values: [fp8, bf16], agent: serving}
  - {name: tp, values: [1, 2, 4, 8], agent: parallelism}
  - {name: ep, values: [1, 2, 4, 8], agent: parallelism}
constraints:
  - ep <= tp
  - memory_fraction <= 0.9
  - tpot_s <= 0.05
  - 0.35 * xpu_tflops + hbm_stacks * (12 + 0.67 * pim_bandwidth_multiple * (12 + pim_op_per_byte)) <= 700
objectives: [{metric: tokens_per_s_per_device, goal: max}]
"""  # noqa: E501 - the space's text is its digest; the description stays one line

# Coarse versions for ``benchmarks/dse_agents.py --quick`` (hundreds of designs: seconds to enumerate).
FPGA_KERNEL_QUICK: Final = (FPGA_KERNEL_FINE
                            .replace("name: fpga-kernel-fine", "name: fpga-kernel-quick")
                            .replace("range: {min: 4, max: 64, step: 4}, agent: compute}\n  - {name: pe_cols, "
                                     "range: {min: 4, max: 64, step: 4}",
                                     "values: [8, 16, 32, 64], agent: compute}\n  - {name: pe_cols, "
                                     "values: [16, 32, 64]")
                            .replace("values: [256, 362, 512, 724, 1024, 1448, 2048, 2896, 4096, 5793, 8192]",
                                     "values: [1024, 4096, 8192]")
                            .replace("values: [4, 8, 16, 32], agent: memory", "values: [8, 32], agent: memory"))
PIM_POWER_QUICK: Final = (PIM_POWER_BUDGET
                          .replace("name: pim-power-budget", "name: pim-power-quick")
                          .replace("[125, 250, 375, 500, 625, 750, 1000, 1250]", "[250, 500, 1000]")
                          .replace("values: [1, 2, 3, 4, 6, 8]", "values: [2, 4, 8]")
                          .replace("values: [1, 2, 4, 8, 16]", "values: [4, 16]")
                          .replace("values: [2, 3, 4, 5, 6, 8]", "values: [4, 6, 8]")
                          .replace("values: [8, 16, 32, 64, 128, 256, 512]", "values: [32, 128, 512]"))

BENCH_SPACES: Final[dict[str, str]] = {"fpga-kernel-fine": FPGA_KERNEL_FINE, "pim-power-budget": PIM_POWER_BUDGET}
QUICK_SPACES: Final[dict[str, str]] = {"fpga-kernel-quick": FPGA_KERNEL_QUICK, "pim-power-quick": PIM_POWER_QUICK}
LARGE_SPACES: Final[dict[str, str]] = {"pim-codesign-large": PIM_CODESIGN_LARGE}


def _hub_files() -> dict[str, Path]:
    folder = os.environ.get(HUB_ENV)
    if not folder:
        return {}
    return {MEASURED_PREFIX + f.name.removesuffix(".json.gz").lower(): f
            for f in sorted(Path(folder).glob("*.json.gz"))}


def measured_space_text(name: str, path: Path) -> str:
    """The space of the Kernel Tuner file ``path``: every key a parameter, grouped by its first word."""
    keys = load_table(TableSource(path=str(path), format="kernel-tuner"), str(path)).keys
    lines = [f"name: {name}", f"description: Kernel Tuner hub, {path.name} (measured)", "evaluator: table",
             f"table: {{path: '{path}', format: kernel-tuner}}", "parameters:"]
    lines += [f"  - {{name: {k}, agent: {GROUPS.get(k.split('_')[0], 'options')}}}" for k in keys]
    lines.append("objectives: [{metric: time_s, goal: min}]")
    return "\n".join(lines) + "\n"


def list_bench_spaces(quick: bool = False, measured: bool = False) -> list[str]:
    """The model spaces (quick; or full, the large ones included), then with ``measured`` every hub
    file's space."""
    model = list(QUICK_SPACES) if quick else [*BENCH_SPACES, *LARGE_SPACES]
    return model + (list(_hub_files()) if measured else [])


def is_enumerable(space: Space) -> bool:
    """Small enough for the benchmark to evaluate every design (a metric table)."""
    return space.size <= MAX_ENUMERABLE


def bench_space(name: str) -> tuple[Space, str]:
    """The space called ``name`` (a benchmark space, or the path of a space file ending in .yaml)
    and its YAML text."""
    if name.endswith((".yaml", ".yml")):  # a user's own space file: enumerated, or evaluated lazily when large
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        return parse_space(text, source=name, base_dir=path.parent), text
    known = {**BENCH_SPACES, **QUICK_SPACES, **LARGE_SPACES}
    hub = _hub_files()
    if name in hub:
        text = measured_space_text(name, hub[name])
        return parse_space(text, source=f"<bench space {name}>"), text
    try:
        text = known[name]
    except KeyError:
        raise ValueError(f"unknown benchmark space {name!r}; one of: {', '.join([*known, *hub])}"
                         + ("" if hub else f" (measured spaces: set {HUB_ENV})")) from None
    return parse_space(text, source=f"<bench space {name}>"), text
