"""Host-side knowledge of a generated kernel directory: manifest, geometry, test data, predictions.

Nothing here imports cocotb, so the same code serves the cocotb bench (inside the simulator
process), ``moearch verify`` and pytest.

* :class:`KernelDir` loads and checks a directory written by ``moearch codegen`` (``ConfigError``
  naming the file and what is wrong: not a kernel, no RTL, sources that do not match the
  manifest's hashes).
* :func:`make_layer` draws one layer's parameters and tokens from a seed, optionally with a
  *crafted routing* (an expert that receives no token, every token to one expert, or exact
  per-expert counts such as the manifest's nominal routing), and runs ``golden.moe_layer``.
* :func:`predicted_stages` is the FPGA model's stage table for the routing that actually ran
  (``codegen.plan.build_plan`` with those counts: the same code path that wrote the manifest),
  folded the way the RTL reports stages (a dataflow front is one ``front`` stage).
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from accelerators.errors import ConfigError
from codegen.hdl.interface import KernelGeometry, requests_for_layer
from codegen.manifest import MANIFEST_SCHEMA, check_manifest
from codegen.plan import build_plan
from codegen.spec import KernelSpec
from verification import golden
from verification.kernel_bench.manifest_fields import check_fields
from verification.runner import DesignSources

__all__ = ["KernelDir", "Layer", "PredictedStage", "assignment_for_counts", "make_layer",
           "predicted_stages", "tokens_to_words", "words_to_tokens"]

MANIFEST = "manifest.json"
#: schedule-ROM rows that run one expert (the ``expert`` port names it)
EXPERT_ROWS = ("up", "gate", "down", "expert_df")
KERNEL_ENV = "MOEARCH_KERNEL_DIR"   #: the kernel directory, for cocotb tests
CONFIG_ENV = "MOEARCH_KERNEL_CONFIG"  #: JSON run-time options of the built-in cocotb tests

#: Verilator ``-Wall`` warnings waived for generated kernels on top of
#: ``verification.runner.VERILATOR_WAIVERS`` (documented in ``docs/verification.md``):
LINT_WAIVERS: dict[str, str] = {
    "VARHIDDEN": "Yosys names the memory inside the schedule-ROM submodule `rom`, like the "
                 "submodule instance `rom` in the controller that contains it (a scope shadow in "
                 "generated names, no behaviour)",
}

#: Verilator options for kernel builds. A kernel's C++ is large enough that Verilator splits it
#: into several files compiled with a precompiled header (``VM_PARALLEL_BUILDS = 1``); the PyPI
#: wheel's ``verilated.mk`` leaves ``CFG_CXXFLAGS_PCH_I`` (the "use this PCH" flag, ``-include``
#: for g++) empty, so g++ takes the header as an input file and the build fails. Setting it on
#: make's command line restores what a source install of Verilator configures.
VERILATOR_ARGS: tuple[str, ...] = ("--output-split", "0")


# ------------------------------------------------------------------------------------ the kernel
@dataclass(frozen=True)
class KernelDir:
    """A generated kernel directory and the parts of its manifest the bench needs."""

    root: Path
    manifest: dict[str, Any]

    @classmethod
    def load(cls, directory: str | Path, *, check_hashes: bool = True) -> KernelDir:
        """Read ``directory/manifest.json``; ``ConfigError`` (exit code 2 in the CLI) when the
        directory is not a kernel ``moearch codegen`` wrote, has no RTL, or its sources do not
        match the manifest."""
        root = Path(directory)
        path = root / MANIFEST
        if not root.is_dir():
            raise ConfigError(str(root), "directory", "missing",
                              "a kernel directory written by `moearch codegen --out DIR`")
        if not path.is_file():
            raise ConfigError(str(root), MANIFEST, "missing",
                              "a kernel directory written by `moearch codegen --out DIR` "
                              "(it holds manifest.json, rtl/ and hls/)")
        try:
            manifest = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), "manifest", f"not JSON ({exc})",
                              "the manifest.json `moearch codegen` writes") from None
        if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA:
            got = manifest.get("schema") if isinstance(manifest, dict) else type(manifest).__name__
            raise ConfigError(str(path), "schema", got, MANIFEST_SCHEMA)
        rtl: dict[str, Any] = manifest["rtl"] if isinstance(manifest.get("rtl"), dict) else {}
        if not rtl.get("available") or not manifest.get("sources"):
            raise ConfigError(str(path), "rtl.available", False,
                              "a kernel with Verilog (rtl/): " + str(rtl.get("message") or
                                                                     "generated without --no-rtl"))
        check_fields(manifest, str(path))
        if check_hashes:
            problems = check_manifest(root)
            if problems:
                shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} problems)"
                                                   if len(problems) > 5 else "")
                raise ConfigError(str(path), "files", shown,
                                  "sources whose sha256 match the manifest (regenerate the kernel "
                                  "with `moearch codegen`, or undo the edits)")
        return cls(root.resolve(), manifest)

    @classmethod
    def from_env(cls) -> KernelDir:
        """The kernel named by ``MOEARCH_KERNEL_DIR`` (inside a cocotb run); hashes are not
        re-checked (whoever started the run did)."""
        import os

        path = os.environ.get(KERNEL_ENV)
        if not path:
            raise RuntimeError(f"{KERNEL_ENV} is not set: start the run with "
                               "moearch_sim.run_kernel(...) or `moearch verify`")
        return cls.load(path, check_hashes=False)

    # ---- shape and interface ------------------------------------------------------------------
    @property
    def toplevel(self) -> str:
        return str(self.manifest["toplevel"])

    @property
    def sources(self) -> tuple[Path, ...]:
        return tuple(self.root / s for s in self.manifest["sources"])

    @property
    def shape(self) -> golden.MoEShape:
        s = self.manifest["shape"]
        return golden.MoEShape(int(s["tokens"]), int(s["hidden"]), int(s["ffn"]), int(s["experts"]),
                               int(s["top_k"]), bool(s["gated"]))

    @property
    def activation(self) -> str:
        return str(self.manifest["activation"]["name"])

    @property
    def array(self) -> tuple[int, int]:
        rows, cols = self.manifest["device"]["pe_array"]
        return int(rows), int(cols)

    @property
    def stream_bytes(self) -> int:
        return int(self.manifest["schedule"]["stream_bytes"])

    @property
    def rom(self) -> dict[str, Any]:
        return self.manifest["interfaces"]["rtl"]["schedule_rom"]

    @property
    def front(self) -> str:
        return str(self.rom["front"])

    @property
    def switch_cycles(self) -> int:
        return int(self.rom["switch_cycles"])

    @property
    def nominal_counts(self) -> tuple[int, ...]:
        return tuple(int(c) for c in self.manifest["schedule"]["nominal_tokens_per_expert"])

    def geometry(self) -> Any:
        """``codegen.hdl.interface.KernelGeometry`` of the kernel."""

        s, (rows, cols) = self.shape, self.array
        return KernelGeometry(s.tokens, s.hidden, s.ffn, s.experts, s.top_k, s.gated, rows, cols,
                              self.stream_bytes)

    def row_name(self, row: int) -> str:
        rows = self.rom["rom"]
        return str(rows[row]["name"]) if 0 <= row < len(rows) else f"row{row}"

    def row_is_expert(self, row: int) -> bool:
        return self.row_name(row) in EXPERT_ROWS

    def spec(self) -> Any:
        """The ``codegen.spec.KernelSpec`` the kernel was generated from."""
        return KernelSpec(**self.manifest["request"])

    def design(self) -> Any:
        """``verification.runner.DesignSources`` of the Verilog (with :data:`LINT_WAIVERS`)."""

        return DesignSources(toplevel=self.toplevel, sources=self.sources,
                             lint_waivers=tuple(LINT_WAIVERS), verilator_args=VERILATOR_ARGS)


# ------------------------------------------------------------------------------------ test data
def tokens_to_words(x: np.ndarray, stream_bytes: int) -> list[int]:
    """Token-stream words (``docs/kernel-arithmetic.md`` §2) as unsigned integers."""
    return [golden.word_value(w) for w in golden.pack_tokens(x, stream_bytes)]


def words_to_tokens(words: Sequence[int], stream_bytes: int, hidden: int) -> np.ndarray:
    lanes = np.array([[(int(w) >> (8 * lane)) & 0xFF for lane in range(stream_bytes)]
                      for w in words], dtype=np.int64).reshape(len(words), stream_bytes)
    return golden.unpack_tokens(lanes, hidden)


@dataclass(frozen=True)
class Layer:
    """One layer's inputs and the golden model's answer."""

    params: golden.MoEParams
    x: np.ndarray
    gold: golden.GoldenResult
    routing: str

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(int(c) for c in self.gold.expert_counts)


def assignment_for_counts(counts: Sequence[int], tokens: int, k: int) -> list[list[int]]:
    """``k`` distinct experts per token so that expert ``e`` gets ``counts[e]`` tokens.

    Greedy: each token takes the ``k`` experts with the most assignments left (lowest index on
    ties), which succeeds whenever ``sum(counts) == tokens * k`` and every count is ``<= tokens``.
    """
    left = [int(c) for c in counts]
    if sum(left) != tokens * k or any(c < 0 or c > tokens for c in left):
        raise ValueError(f"counts {list(counts)} are not a routing of {tokens} tokens, top-{k}")
    out = []
    for _ in range(tokens):
        pick = sorted(range(len(left)), key=lambda e: (-left[e], e))[:k]
        if any(left[e] == 0 for e in pick):
            raise ValueError(f"counts {list(counts)}: no top-{k} routing")
        for e in pick:
            left[e] -= 1
        out.append(sorted(pick))
    return out


def _noise_amplitude(rows: int, gap: int) -> int:
    """Largest router-weight amplitude ``a`` whose contribution over ``rows`` int8 inputs
    (``|noise| <= 128 * a * rows`` per logit) cannot close a crafted ``gap`` between two logits:
    ``2 * 128 * a * rows < gap``."""
    if rows <= 0:
        return 0
    return max(0, min(127, (gap - 1) // (2 * 128 * rows)))


def _crafted(shape: golden.MoEShape, params: golden.MoEParams, x: np.ndarray,
             rng: np.random.Generator, routing: str, expert: int,
             counts: Sequence[int] | None) -> tuple[golden.MoEParams, np.ndarray]:
    """Router weights and tokens that force a routing; the other inputs stay random."""
    d, E = shape.hidden, shape.experts
    router = np.zeros((d, E), dtype=np.int64)
    x = x.copy()
    if routing in ("no-tokens", "one-expert"):
        # feature 0 is a constant 127 on every token; row 0 of the router biases the experts
        x[:, 0] = 127
        high, low = (127, -128) if routing == "no-tokens" else (-128, 127)
        router[0, :] = high
        router[0, expert] = low
        amp = _noise_amplitude(d - 1, 127 * 255)
        router[1:, :] = rng.integers(-amp, amp + 1, size=(d - 1, E))
    elif routing == "counts":
        if counts is None or d < E:
            raise ValueError("crafted counts need counts and hidden >= experts")
        # features 0..E-1 say which experts a token wants; the router reads them one-to-one
        assign = assignment_for_counts(counts, shape.tokens, shape.top_k)
        for t, chosen in enumerate(assign):
            x[t, :E] = -128
            x[t, chosen] = 127
        router[np.arange(E), np.arange(E)] = 127
        amp = _noise_amplitude(d - E, 127 * 255)
        router[E:, :] = rng.integers(-amp, amp + 1, size=(d - E, E))
    else:
        raise ValueError(f"routing {routing!r}; allowed: random, no-tokens, one-expert, counts")
    return dataclasses.replace(params, router=router), x


def make_layer(kernel: KernelDir, seed: int, routing: str = "random", *, expert: int = 0,
               counts: Sequence[int] | None = None) -> Layer:
    """Parameters (``golden.random_params``), tokens and the golden result for one layer.

    ``routing``: ``random`` (the data decide), ``no-tokens`` (expert ``expert`` receives no
    token; needs ``top_k < experts``), ``one-expert`` (every token goes to ``expert``),
    ``counts`` (exactly ``counts`` tokens per expert; needs ``hidden >= experts``),
    ``nominal`` (``counts`` = the manifest's nominal routing). The crafted routings are checked
    against the golden model's routing (``ValueError`` if the construction did not hold).
    """
    shape = kernel.shape
    params = golden.random_params(shape, seed, activation=kernel.activation)  # type: ignore[arg-type]
    x = golden.random_tokens(shape, seed + 7919)
    rng = np.random.default_rng(seed + 104729)
    kind = routing
    if routing == "nominal":
        kind, counts = "counts", kernel.nominal_counts
    if kind != "random":
        params, x = _crafted(shape, params, x, rng, kind, expert, counts)
    gold = golden.moe_layer(x, params, shape)
    got = gold.expert_counts.tolist()
    if kind == "no-tokens" and got[expert] != 0:
        raise ValueError(f"crafted routing left {got[expert]} tokens on expert {expert}")
    if kind == "one-expert" and got[expert] != shape.tokens:
        raise ValueError(f"crafted routing sent {got[expert]} of {shape.tokens} tokens to {expert}")
    if kind == "counts" and tuple(got) != tuple(counts or ()):
        raise ValueError(f"crafted routing gave counts {got}, wanted {list(counts or ())}")
    return Layer(params, x, gold, routing)


def can_craft_counts(kernel: KernelDir) -> bool:
    """Exact per-expert counts can be forced when every expert has its own input feature."""
    return kernel.shape.hidden >= kernel.shape.experts


# ------------------------------------------------------------------------------------ predictions
@dataclass(frozen=True)
class PredictedStage:
    """One stage as the RTL reports it (``stage``/``expert`` ports), with the model's numbers."""

    name: str                 # front | load | router | topk | gate_norm | e<i>.up | ... | combine
    row_name: str             # the ROM row's name (what the ``stage`` port identifies)
    expert: int | None
    cycles: int               # the model's cycles (max of compute and weight streaming)
    compute_cycles: int       # with an always-valid weight stream (what the bench provides)
    mac_beats: int            # cycles in which the PE array takes a beat (R*C MACs each)
    macs: int                 # useful multiply-accumulates (M*N*K)
    mode: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _beats(stage: Any) -> tuple[int, int]:
    if stage.unit != "pe":
        return 0, 0
    return stage.row_tiles * stage.col_tiles * stage.k, stage.m * stage.n * stage.k


def predicted_stages(kernel: KernelDir, counts: Sequence[int]) -> tuple[list[PredictedStage], int]:
    """The model's stages (as the RTL reports them) and layer cycles for a routing ``counts``.

    A dataflow group of the schedule is one RTL stage: the front (``load``, ``router``,
    ``topk``, ``gate_norm`` streaming) is ``front``; a dataflow expert (``up``, ``gate``,
    ``down`` on column groups of the array) is ``e<i>.expert_df``. Its ``mac_beats`` is the
    busiest member's (the members run concurrently), its ``macs`` the sum.
    """
    plan = build_plan(kernel.spec(), tokens_per_expert=tuple(int(c) for c in counts))
    groups: dict[int, list[Any]] = {}
    for s in plan.schedule.stages:
        groups.setdefault(s.group, []).append(s)
    out: list[PredictedStage] = []
    for g in sorted(groups):
        members = groups[g]
        if len(members) == 1:
            s = members[0]
            beats, macs = _beats(s)
            out.append(PredictedStage(s.task, s.task.split(".", 1)[-1], s.expert, s.cycles,
                                      s.compute_cycles, beats, macs, s.mode))
            continue
        start = min(s.start for s in members)
        cycles = max(s.end for s in members) - start
        compute = max(s.start + s.compute_cycles for s in members) - start
        beats = max(_beats(s)[0] for s in members)
        macs = sum(_beats(s)[1] for s in members)
        expert = members[0].expert
        if expert is None:
            name = row = "front"
        else:
            name, row = f"e{expert}.expert_df", "expert_df"
        out.append(PredictedStage(name, row, expert, cycles, compute, beats, macs, "dataflow"))
    return out, int(plan.schedule.total_cycles)


def request_sequence(kernel: KernelDir, counts: Sequence[int]) -> list[Any]:
    """``codegen.hdl.interface.requests_for_layer`` for the kernel and a routing."""
    import inspect


    if "variants" in inspect.signature(requests_for_layer).parameters:
        # the variant table decides each expert's requests (a dataflow expert asks for its
        # sub-arrays' tiles)
        return requests_for_layer(kernel.geometry(), list(counts), kernel.front,
                                  variants=kernel.rom["variant_ranges"])
    return requests_for_layer(kernel.geometry(), list(counts), kernel.front)
