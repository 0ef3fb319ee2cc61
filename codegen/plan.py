"""The kernel plan: one validated spec plus its schedule, the single input of both emitters.

:func:`build_plan` validates a :class:`~codegen.spec.KernelSpec`, builds the FPGA budget and calls
:func:`codegen.schedule.schedule_moe_layer` for a nominal (balanced) routing. The schedule's stage
table is what the kernel runs for that routing; at run time the per-expert token counts come from
the router, so the plan also carries the controller *program*:

* ``front`` - the steps before the experts (``load``, ``router``, ``topk``, ``gate_norm``; one
  ``front`` step when the schedule streams them as one dataflow group);
* ``variants`` - one :class:`VariantProgram` per :class:`~archmodel.fpga.ExpertVariant`: the token
  counts it covers and its steps (``up``, ``gate``, ``down`` sequentially, or one ``expert_df``
  dataflow step), with loop bounds at the variant's largest count; an expert with ``c`` tokens
  runs the variant covering ``c`` with ``M = c``; an expert without tokens runs nothing;
* ``combine`` - the last step.

A :class:`Step` groups the schedule stages that run concurrently (one dataflow group, or one
sequential stage); its ``op`` is what the controller's ``switch`` dispatches on.

Field names of :class:`KernelPlan`, :class:`Step`, :class:`VariantProgram` and
:class:`WeightRegion` are stable (the HLS and RTL emitters both read them).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from accelerators.errors import ConfigError
from archmodel.fpga import Budget, make_budget
from archmodel.fpga.budget import power_of_two_arrays
from archmodel.moe_layer import uniform_counts

from .hdl.tables import activation_table, exp_table
from .schedule import ExpertVariant, ScheduleResult, Stage, expert_stages, schedule_moe_layer
from .spec import KernelSpec, accumulator_bounds, max_abs_accumulator

__all__ = ["OPS", "KernelPlan", "Step", "VariantProgram", "WeightRegion", "build_plan"]

#: step op codes, in the order the HLS stage table numbers them
OPS: tuple[str, ...] = ("load", "router", "topk", "gate_norm", "front", "up", "gate", "down", "expert_df",
                        "combine")


@dataclass(frozen=True)
class Step:
    """One controller step: the schedule stages of one group (a dataflow group or one stage)."""

    op: str                      # one of OPS
    mode: str                    # dataflow | sequential
    stages: tuple[Stage, ...]    # the archmodel stages it runs (loop bounds, buffers, cycles)

    @property
    def tasks(self) -> tuple[str, ...]:
        """Task names without the expert prefix: load, router, ..., up, gate, down, combine."""
        return tuple(s.task.split(".", 1)[-1] for s in self.stages)

    @property
    def main(self) -> Stage:
        """The stage whose loop bounds describe the step (the first)."""
        return self.stages[0]

    def stage(self, task: str) -> Stage:
        for s, t in zip(self.stages, self.tasks):
            if t == task:
                return s
        raise KeyError(task)

    def as_dict(self) -> dict:
        return {"op": self.op, "mode": self.mode, "tasks": list(self.tasks),
                "stages": [_stage_dict(s) for s in self.stages]}


@dataclass(frozen=True)
class VariantProgram:
    """The steps of one expert variant; loop bounds at ``variant.max_tokens`` (M is the count)."""

    variant: ExpertVariant
    steps: tuple[Step, ...]

    @property
    def name(self) -> str:
        return self.variant.name

    def covers(self, count: int) -> bool:
        return self.variant.min_tokens <= count <= self.variant.max_tokens

    def as_dict(self) -> dict:
        return {**self.variant.as_dict(), "steps": [s.as_dict() for s in self.steps]}


@dataclass(frozen=True)
class WeightRegion:
    """One weight matrix ``W[K, N]`` in the weight image (``docs/kernel-arithmetic.md`` section 2):
    ``col_tiles = ceil(N / C)`` tiles of ``K`` words of ``C`` int8 lanes, from word ``offset``."""

    name: str                    # router | e<i>.up | e<i>.gate | e<i>.down
    expert: int | None
    role: str                    # router | up | gate | down
    k: int
    n: int
    col_tiles: int
    offset: int                  # first word (words of ``cols`` bytes)
    words: int

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def _stage_dict(s: Stage) -> dict:
    """A stage's static description (no start/end: those belong to one routing)."""
    keep = ("task", "unit", "mode", "rows", "cols", "col_offset", "m", "n", "k", "row_tiles", "col_tiles",
            "loop_order", "src", "dst", "compute_cycles", "weight_bytes")
    d = {k: getattr(s, k) for k in keep}
    d["src"] = list(s.src)
    d["cycles"] = s.cycles
    return d


def _group_steps(stages: tuple[Stage, ...], front: bool) -> tuple[Step, ...]:
    out: list[Step] = []
    groups: dict[int, list[Stage]] = {}
    for s in stages:
        groups.setdefault(s.group, []).append(s)
    for g in sorted(groups):
        members = tuple(groups[g])
        mode = members[0].mode
        if len(members) > 1:
            op = "front" if front else "expert_df"
        else:
            op = members[0].task.split(".", 1)[-1]
        if op not in OPS:
            raise AssertionError(f"unexpected schedule task {members[0].task}")
        out.append(Step(op, mode, members))
    return tuple(out)


@dataclass(frozen=True)
class KernelPlan:
    """Everything the emitters need. Build it with :func:`build_plan`."""

    spec: KernelSpec
    schedule: ScheduleResult     # for the nominal routing ``tokens_per_expert``
    front: tuple[Step, ...]
    variants: tuple[VariantProgram, ...]
    combine: Step

    # ---- shape and array -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def tokens(self) -> int:
        return self.spec.tokens

    @property
    def hidden(self) -> int:
        return self.spec.hidden

    @property
    def ffn(self) -> int:
        return self.spec.ffn

    @property
    def experts(self) -> int:
        return self.spec.experts

    @property
    def top_k(self) -> int:
        return self.spec.top_k

    @property
    def gated(self) -> bool:
        return self.spec.gated

    @property
    def activation(self) -> str:
        return self.spec.activation

    @property
    def budget(self) -> Budget:
        return self.schedule.budget

    @property
    def rows(self) -> int:
        return self.budget.rows

    @property
    def cols(self) -> int:
        return self.budget.cols

    @property
    def stream_bytes(self) -> int:
        return self.spec.stream_bytes

    @property
    def words_per_token(self) -> int:
        """Token-stream words per token: ``ceil(d / W)``."""
        return -(-self.hidden // self.stream_bytes)

    @property
    def device(self) -> str:
        return self.budget.device

    @property
    def clock_hz(self) -> float:
        return self.budget.clock_hz

    @property
    def tokens_per_expert(self) -> tuple[int, ...]:
        """The nominal routing the schedule's stage table (and predicted cycles) are for."""
        return self.schedule.tokens_per_expert

    @property
    def stages(self) -> tuple[Stage, ...]:
        return self.schedule.stages

    @property
    def predicted_cycles(self) -> int:
        return self.schedule.total_cycles

    # ---- tables ------------------------------------------------------------------------------
    @cached_property
    def activation_table(self) -> tuple[int, ...]:
        """256 int8 entries indexed by the input's unsigned byte (spec 1.5)."""
        return activation_table(self.activation)

    @cached_property
    def exp_table(self) -> tuple[int, ...]:
        """256 uint16 entries ``EXP[q]`` (spec 1.3)."""
        return exp_table()

    @property
    def accumulator_bounds(self) -> dict[str, int]:
        return accumulator_bounds(self.hidden, self.ffn, self.top_k, self.gated)

    @property
    def max_abs_accumulator(self) -> int:
        return max_abs_accumulator(self.hidden, self.ffn, self.top_k, self.gated)

    # ---- variants ----------------------------------------------------------------------------
    def variant_for(self, count: int) -> VariantProgram | None:
        """The variant an expert with ``count`` tokens runs (None for 0 tokens)."""
        if count == 0:
            return None
        for v in self.variants:
            if v.covers(count):
                return v
        raise ValueError(f"no variant covers {count} tokens (1..{self.tokens})")

    # ---- weight image ------------------------------------------------------------------------
    @cached_property
    def weight_layout(self) -> tuple[WeightRegion, ...]:
        """Router, then per expert up, (gate,) down, each as column tiles of ``cols`` lanes."""
        C = self.cols
        regions: list[WeightRegion] = []
        offset = 0

        def add(name: str, expert: int | None, role: str, k: int, n: int) -> None:
            nonlocal offset
            tiles = -(-n // C)
            regions.append(WeightRegion(name, expert, role, k, n, tiles, offset, tiles * k))
            offset += tiles * k

        add("router", None, "router", self.hidden, self.experts)
        for e in range(self.experts):
            add(f"e{e}.up", e, "up", self.hidden, self.ffn)
            if self.gated:
                add(f"e{e}.gate", e, "gate", self.hidden, self.ffn)
            add(f"e{e}.down", e, "down", self.ffn, self.hidden)
        return tuple(regions)

    @property
    def weight_words(self) -> int:
        last = self.weight_layout[-1]
        return last.offset + last.words

    def weight_region(self, name: str) -> WeightRegion:
        for r in self.weight_layout:
            if r.name == name:
                return r
        raise KeyError(name)

    # ---- serialisation -----------------------------------------------------------------------
    def as_dict(self) -> dict:
        return {
            "spec": self.spec.as_dict(),
            "array": [self.rows, self.cols],
            "words_per_token": self.words_per_token,
            "tokens_per_expert": list(self.tokens_per_expert),
            "front": [s.as_dict() for s in self.front],
            "variants": [v.as_dict() for v in self.variants],
            "combine": self.combine.as_dict(),
            "weight_layout": [r.as_dict() for r in self.weight_layout],
            "accumulator_bounds": self.accumulator_bounds,
            "schedule": self.schedule.as_dict(),
        }


#: an array whose predicted layer is within this share of the fastest one counts as reaching it
ARRAY_TOLERANCE = 0.01


def _pow2_ceil(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def fastest_array(spec: KernelSpec, counts: tuple[int, ...]) -> tuple[int, int]:
    """The array ``--pe`` defaults to: the smallest power-of-two array (``C`` = ``R`` or ``2R``) that
    fits the part and whose predicted layer (the schedule at ``counts``, with the part's memory
    system) is within ``ARRAY_TOLERANCE`` of the fastest such array's; never more rows than the
    tokens nor columns than the layer's widest dimension (each rounded up to a power of two)."""
    shape = spec.shape
    budget = make_budget(spec.device, 1, 1)
    arrays = power_of_two_arrays(budget, max_rows=_pow2_ceil(spec.tokens),
                                 max_cols=_pow2_ceil(max(spec.hidden, spec.ffn, spec.experts)))
    if not arrays:
        raise ConfigError(None, "pe", None, f"an array that fits {spec.device}: not even 1x1 does")
    # Ranking needs the nominal routing's cycles only: its counts are the variant table here (the
    # plan's table covers every count 1..tokens, which costs tokens x arrays schedules).
    nominal = sorted({c for c in counts if c > 0})
    cycles = {rc: schedule_moe_layer(shape, counts, make_budget(spec.device, *rc), style=spec.style,
                                     stream_bytes=spec.stream_bytes, variant_counts=nominal).total_cycles
              for rc in arrays}
    best = min(cycles.values())
    return min((rc for rc, n in cycles.items() if n <= best * (1 + ARRAY_TOLERANCE)), key=lambda rc: rc[0] * rc[1])


def build_plan(spec: KernelSpec, tokens_per_expert: tuple[int, ...] | None = None) -> KernelPlan:
    """Validate ``spec``, schedule it and derive the controller program.

    ``tokens_per_expert``: the nominal routing of the stage table and the predicted cycles
    (default: balanced, :func:`archmodel.fpga.tasks.uniform_counts`). The variant table always
    covers every count ``1..tokens``, so any run-time routing has a variant.
    """
    spec.validate()
    shape = spec.shape
    counts = tuple(tokens_per_expert) if tokens_per_expert is not None else uniform_counts(shape)
    rows, cols = (spec.pe_rows, spec.pe_cols) if spec.pe_rows is not None else fastest_array(spec, counts)
    budget = make_budget(spec.device, rows, cols)
    schedule = schedule_moe_layer(shape, counts, budget, style=spec.style, stream_bytes=spec.stream_bytes)
    n_front = sum(1 for s in schedule.stages if s.expert is None and s.task != "combine")
    front = _group_steps(schedule.stages[:n_front], front=True)
    combine = _group_steps(schedule.stages[-1:], front=False)[0]
    if combine.op != "combine":
        raise AssertionError("the schedule must end with the combine stage")
    variants: list[VariantProgram] = []
    for ev in schedule.variants:
        st = expert_stages(shape, 0, ev.max_tokens, budget, ev.name)
        variants.append(VariantProgram(ev, _group_steps(st, front=False)))
    covered: set[int] = set()
    for vp in variants:
        covered |= set(range(vp.variant.min_tokens, vp.variant.max_tokens + 1))
    if covered != set(range(1, spec.tokens + 1)):
        raise ConfigError(None, "tokens", spec.tokens, "a schedule whose variants cover every token count")
    return KernelPlan(spec, schedule, front, tuple(variants), combine)
