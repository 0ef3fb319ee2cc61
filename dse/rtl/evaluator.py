"""``evaluator: rtl``: the analytical model screens a chunk, RTL measures the most promising.

For a chunk of designs (after the precheck and the early constraints, as for every evaluator):

1. the domain adapter (``fpga-kernel``) gives every design its full-size metrics;
2. the share ``screen`` of them that the model ranks best on the space's first objective
   (ties: the earlier slot) is measured (:func:`dse.rtl.measure.measure_kernel`): the design's
   kernel at the simulated size, its cycles from the simulator, its resources from Yosys;
3. a measured design's time metrics are the model's full-size figures scaled by what the RTL
   measured against what the model predicted for the same kernel (``rtl_cycle_ratio``):
   ``latency_s``, ``cycles``, ``energy_j`` and ``energy_per_token_j`` times the ratio,
   ``tokens_per_s`` divided by it; the model's own figure stays as ``model_latency_s``.
   ``fidelity`` is 1 for a measured design and 0 for one the screen left to the model.

What the kernel keeps of a design: the schedule style, the PE array (each side capped at
``max_pe``; a dataflow design's columns at the expert count if that is more, as its router
streams each expert through a column of its own) and the stream width. Buffer size, HBM channels and DSP packing do not change the
simulated kernel; for them the ratio of the design's (array, style) class carries over. Designs
that share a kernel share one measurement (the cache).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from accelerators.errors import ConfigError
from archmodel.workloads import load_workload
from codegen.spec import KernelSpec, spec_from_layer

from ..evaluators import adapter_for
from ..evaluators.base import Outcome, Settings
from ..space import Design, Space
from .measure import RtlFailure, measure_kernel
from .settings import RESOURCES, RtlSettings

RTL_METRICS: dict[str, str] = {
    "fidelity": "1 if RTL measured the design's kernel, 0 if the screen left it to the model",
    "rtl_cycles": "cycles of the simulated kernel's layer in the RTL simulator",
    "model_cycles": "the model's cycles for the same simulated kernel",
    "rtl_cycle_ratio": "rtl_cycles / model_cycles (scales the design's time metrics)",
    "model_latency_s": "the model's full-size latency before the RTL ratio",
    **{f"rtl_{r}": f"{r} of the simulated kernel, Yosys synth_xilinx" for r in RESOURCES},
    **{f"model_{r}": f"{r} of the simulated kernel, the model's estimate" for r in RESOURCES},
}
SCALED_UP = ("latency_s", "cycles", "energy_j", "energy_per_token_j")
SCALED_DOWN = ("tokens_per_s",)


def kernel_spec(base_device: str, settings: Settings, rtl: RtlSettings) -> KernelSpec:
    """The simulated kernel of a design: its style and array (capped), the layer scaled down."""
    knobs = settings.knob_map
    style = str(knobs.get("schedule", "intar"))
    experts = load_workload(settings.workload.model).moe.num_experts  # type: ignore[union-attr]
    # a dataflow layer streams every expert through its own column (E <= cols): its cap is E
    col_cap = max(rtl.max_pe, experts) if style == "dataflow" else rtl.max_pe
    rows = min(int(knobs.get("pe_rows", rtl.max_pe)), rtl.max_pe)
    cols = min(int(knobs.get("pe_cols", col_cap)), col_cap)
    return spec_from_layer(settings.workload.model, scale=rtl.scale, tokens=rtl.tokens, device=base_device,
                           pe_rows=rows, pe_cols=cols, style=style,
                           stream_bytes=int(knobs.get("stream_bytes", 16)), name="moe_dse").validate()


class RtlEvaluator:
    """A model space's designs through its adapter, the screened ones measured in RTL."""

    metrics: Mapping[str, str]
    precheck_metrics: tuple[str, ...]

    def __init__(self, space: Space):
        assert space.rtl is not None, "an rtl space has rtl settings"
        self.space = space
        self.rtl: RtlSettings = space.rtl
        self.adapter = adapter_for(space.domain)
        self.metrics = {**self.adapter.metrics, **RTL_METRICS}
        self.precheck_metrics = self.adapter.precheck_metrics

    def precheck(self, designs: Sequence[Design]) -> list[Outcome]:
        return self.adapter.precheck(self.space.context, [self.space.settings(d) for d in designs])

    def screened(self, outcomes: Sequence[Outcome]) -> set[int]:
        """Slots RTL measures: the best ``screen`` share of the model-evaluated ones."""
        ok = [i for i, o in enumerate(outcomes) if not isinstance(o, Exception)]
        objective = self.space.objectives[0]

        def rank(i: int) -> tuple[float, int]:
            value = float(outcomes[i].get(objective.metric, math.inf))  # type: ignore[union-attr]
            return (objective.sign * value if math.isfinite(value) else math.inf), i

        return set(sorted(ok, key=rank)[: math.ceil(self.rtl.screen * len(ok))])

    def evaluate(self, designs: Sequence[Design]) -> list[Outcome]:
        settings = [self.space.settings(d) for d in designs]
        model = self.adapter.evaluate(self.space.context, settings)
        chosen = self.screened(model)
        out: list[Outcome] = []
        for i, (s, outcome) in enumerate(zip(settings, model)):
            if isinstance(outcome, Exception):
                out.append(outcome)
            elif i not in chosen:
                out.append({**outcome, "fidelity": 0.0})
            else:
                out.append(self._measured(s, outcome))
        return out

    def _measured(self, settings: Settings, model: dict[str, float]) -> Outcome:
        assert self.space.base_device is not None
        try:
            spec = kernel_spec(self.space.base_device, settings, self.rtl)
        except ConfigError as error:
            return RtlFailure(f"the design's kernel at rtl.scale {self.rtl.scale}: {error}")
        try:
            measured, _ = measure_kernel(spec, self.rtl)
        except RtlFailure as error:
            return error
        ratio = measured["rtl_cycles"] / measured["model_cycles"]
        metrics = {**model, **measured, "fidelity": 1.0, "rtl_cycle_ratio": ratio,
                   "model_latency_s": model["latency_s"]}
        for name in SCALED_UP:
            metrics[name] = model[name] * ratio
        for name in SCALED_DOWN:
            metrics[name] = model[name] / ratio
        return metrics
