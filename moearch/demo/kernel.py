"""Demo step 3: the kernel for the best design, generated, C-simulated, verified and synthesised.

The explored design is a Mixtral-8x7B layer on a whole U280; simulating that RTL would take hours,
so the kernel keeps the best design's schedule style and array shape up to a simulable size and
scales the layer down (d and f divided by ``scale``, fewer tokens). The report states both.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from codegen.csim import compile_csim, run_csim
from codegen.plan import build_plan
from codegen.spec import spec_from_layer
from codegen.writer import write_kernel
from moearch.demo.progress import Note, silent
from moearch.demo.timeline import schedule_timeline
from verification import golden
from verification.simulators import find
from verification.verify import verify_kernel

LAYER = "mixtral-8x7b"


@dataclass(frozen=True)
class KernelSettings:
    scale: int          # d and f of the layer divided by this
    tokens: int
    max_pe: int         # largest rows/cols simulated
    sims: tuple[str, ...]
    resources: bool
    icarus_tests: tuple[str, ...] | None  # None: every test; Icarus is slow on the full-size kernel

    @classmethod
    def of(cls, quick: bool) -> "KernelSettings":
        if quick:
            # every test on Verilator; Icarus (4-state, event-driven, about 10x slower here) runs the
            # nominal-routing test, the cross-simulator check that its cycles match Verilator's
            return cls(scale=128, tokens=8, max_pe=4, sims=("verilator", "icarus"), resources=True,
                       icarus_tests=("nominal_routing",))
        return cls(scale=64, tokens=16, max_pe=8, sims=("verilator", "icarus"), resources=True,
                   icarus_tests=("nominal_routing",))


def simulable_array(design: dict, max_pe: int) -> tuple[int, int]:
    """The best design's PE array, each side capped at ``max_pe`` (powers of two stay powers of two)."""
    return min(int(design.get("pe_rows", max_pe)), max_pe), min(int(design.get("pe_cols", max_pe)), max_pe)


def run(out: Path, quick: bool, best_design: dict | None, note: Note = silent) -> dict:


    settings = KernelSettings.of(quick)
    design = best_design or {}
    rows, cols = simulable_array(design, settings.max_pe)
    style = design.get("schedule", "intar")
    spec = spec_from_layer(LAYER, scale=settings.scale, tokens=settings.tokens, device="alveo-u280",
                           pe_rows=rows, pe_cols=cols, style=style, stream_bytes=8, name="moe_demo")
    note(f"generating HLS C++ and Verilog (d={spec.hidden}, f={spec.ffn}, {spec.experts} experts, {rows}x{cols} PEs, "
         f"{style})")
    plan = build_plan(spec)
    kernel_dir = out / "kernel"
    written = write_kernel(plan, kernel_dir)

    # HLS C simulation against the golden model.
    shape = golden.MoEShape(spec.tokens, spec.hidden, spec.ffn, spec.experts, spec.top_k, spec.gated)
    # KernelSpec.validate checked the activation is one of the shipped tables (golden's names)
    params = golden.random_params(shape, 0, cast(golden.ActivationName, spec.activation))
    x = golden.random_tokens(shape, 100)
    want = golden.moe_layer(x, params, shape)
    build = Path("build") / "demo"
    note("HLS C-simulation (g++) against the golden model")
    exe = compile_csim(kernel_dir / "hls", spec.name, build_dir=build / "csim")
    got = run_csim(plan, exe, x, params, build / "csim-run")
    csim_ok = bool(np.array_equal(got.output, want.output))

    verify, missing = None, []
    if written.rtl_available:
        sims = tuple(s for s in settings.sims if find(s) is not None)
        missing = [s for s in settings.sims if s not in sims]
        if missing:
            note(f"RTL: {', '.join(missing)} not installed, not run")
        by_sim = {"icarus": settings.icarus_tests} if settings.icarus_tests is not None else None
        report = verify_kernel(kernel_dir, sims=sims, build_root=build / "sim", resources=settings.resources,
                               junit=build / "verify-junit.xml", note=lambda part: note(f"RTL: {part}"),
                               tests_by_sim=by_sim)
        verify = report.as_dict()
    measured = {}
    if verify:
        for sim in verify["simulators"].values():
            timing = sim.get("timing")
            if timing:
                measured = {s["stage"]: s["measured_cycles"] for s in timing["stages"]}
                break
    schedule_timeline(plan.schedule, out / "schedule.png",
                      f"{spec.name}: {LAYER} layer / {settings.scale} (d={spec.hidden}, f={spec.ffn}, T={spec.tokens}), "
                      f"{rows}x{cols} PEs, {style}", measured=measured or None)
    return {"design": design, "spec": {"layer": LAYER, "scale": settings.scale, "tokens": spec.tokens,
                                       "hidden": spec.hidden, "ffn": spec.ffn, "experts": spec.experts,
                                       "top_k": spec.top_k, "gated": spec.gated, "pe": [rows, cols], "style": style},
            "predicted_cycles": plan.schedule.total_cycles, "rtl_available": written.rtl_available,
            "rtl_message": written.rtl_message, "csim_bit_exact": csim_ok, "verify": verify,
            "missing_simulators": missing,
            "image": "schedule.png"}
