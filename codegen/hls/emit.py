"""HLS C++ emitter: a :class:`~codegen.plan.KernelPlan` rendered through the Jinja2 templates in
``rtl_templates/hls/``.

:func:`emit_hls` writes, into one directory:

* ``<name>.h`` - sizes, stream/memory word types, the top function's prototype;
* ``<name>.cpp`` - the kernel: the stage, step and variant tables emitted from the plan, one
  ``switch`` over the steps (``run_step``), the per-expert variant chosen at run time from the
  routed token counts (experts without tokens run nothing), ``#pragma HLS`` interface, pipeline,
  dataflow and array-partition directives through ``MOEARCH_HLS_PRAGMA`` (empty under g++, a
  ``_Pragma`` under Vitis HLS), so the same file compiles with ``g++ -Wall -Werror``;
* ``<name>_tb.cpp`` - a C-simulation test bench (``main``) reading inputs from files and writing
  the output stream to a file;
* ``include/`` - the header-only ap_int / hls::stream compatibility layer (``codegen/hls/include``);
* ``Makefile`` (``make csim``) and ``run_hls.tcl`` (Vitis HLS project script).

:func:`hls_interface` describes the ports and the word formats for the manifest;
:func:`pack_weight_image`, :func:`pack_requant_block` and :func:`pack_token_stream` build the
binary input files the test bench reads (``codegen`` does not import ``verification``).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

import rtl_templates

from ..plan import OPS, KernelPlan, Step
from ..schedule.styles import expert_style

__all__ = ["HLS_TASKS", "INCLUDE_DIR", "emit_hls", "hls_files", "hls_interface", "pack_requant_block",
           "pack_token_stream", "pack_weight_image", "requant_order", "unpack_token_stream"]

INCLUDE_DIR = Path(__file__).resolve().parent / "include"
INCLUDE_FILES = ("moearch_hls.h", "ap_int_compat.h", "hls_stream_compat.h")
HLS_TASKS: tuple[str, ...] = ("load", "router", "topk", "gate_norm", "up", "gate", "down", "combine")
#: Vitis HLS part numbers of the catalog's FPGA cards (AMD product tables: Alveo U280 / U55C data
#: sheets DS963 / DS978, VCK190 evaluation board user guide UG1366).
PARTS: dict[str, str] = {"alveo-u280": "xcu280-fsvh2892-2L-e", "alveo-u55c": "xcu55c-fsvh2892-2L-e",
                         "versal-vck190": "xcvc1902-vsva2197-2MP-e-S"}


def _env() -> jinja2.Environment:
    root = Path(rtl_templates.__file__).resolve().parent / "hls"
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, autoescape=False)


def hls_files(plan: KernelPlan) -> tuple[str, ...]:
    """Relative paths :func:`emit_hls` writes, in order."""
    n = plan.name
    return (f"{n}.h", f"{n}.cpp", f"{n}_tb.cpp", "Makefile", "run_hls.tcl",
            *(f"include/{f}" for f in INCLUDE_FILES))


def requant_order(plan: KernelPlan) -> tuple[str, ...]:
    """Words of the requantisation block: ``gate_weight``, then per expert ``e<i>.up``,
    (``e<i>.gate``, ``e<i>.hidden``), ``e<i>.down``."""
    out = ["gate_weight"]
    for e in range(plan.experts):
        out.append(f"e{e}.up")
        if plan.gated:
            out += [f"e{e}.gate", f"e{e}.hidden"]
        out.append(f"e{e}.down")
    return tuple(out)


def _rows(values: Sequence[int], per_row: int = 16) -> list[str]:
    return [", ".join(f"{v:d}" for v in values[i:i + per_row]) for i in range(0, len(values), per_row)]


def _check_program(plan: KernelPlan) -> None:
    """The emitted controller supports the schedules archmodel produces; say so if one is not."""
    front = plan.front
    ok = ((len(front) == 1 and front[0].op == "front" and front[0].tasks == ("load", "router", "topk", "gate_norm"))
          or tuple(s.op for s in front) == ("load", "router", "topk", "gate_norm"))
    if not ok:
        raise AssertionError(f"unsupported front schedule {[s.tasks for s in front]}")
    for v in plan.variants:
        for step in v.steps:
            if step.op == "expert_df":
                want = ("up", "gate", "down") if plan.gated else ("up", "down")
                if step.tasks != want:
                    raise AssertionError(f"unsupported dataflow expert group {step.tasks}")
            elif step.op in ("up", "gate", "down"):
                if step.main.loop_order != "n,m" or step.main.cols != plan.cols:
                    raise AssertionError(f"sequential expert stage {step.main.task} is not whole-array, n,m")
            else:
                raise AssertionError(f"unexpected expert step {step.op}")


def _context(plan: KernelPlan) -> dict[str, Any]:
    _check_program(plan)
    name = plan.name
    stages: list[dict] = []
    steps: list[dict] = []

    def add_step(step: Step, label: str, buffered: bool) -> None:
        steps.append({"op": f"OP_{step.op.upper()}", "mode": "DATAFLOW" if step.mode == "dataflow" else "SEQUENTIAL",
                      "first_stage": len(stages), "num_stages": len(step.stages),
                      "comment": f"{label}: {' + '.join(step.tasks)} ({step.mode})"})
        for st, task in zip(step.stages, step.tasks):
            stages.append({
                "task": f"TASK_{task.upper()}", "m": st.m, "n": st.n, "k": st.k, "rows": st.rows, "cols": st.cols,
                "col_offset": st.col_offset, "order": "ORDER_MN" if st.loop_order == "m,n" else "ORDER_NM",
                "weight_buffer": 1 if (buffered or task == "router") else 0,
                "comment": (f"{label if label != task else ''} {task}: M={st.m} N={st.n} K={st.k} on "
                            f"{st.rows}x{st.cols}+{st.col_offset}, {st.loop_order}, "
                            f"{'+'.join(st.src)} -> {st.dst}, {st.cycles} cycles").strip().replace("w:e0.", "w:e.")})

    for step in plan.front:
        add_step(step, "front", False)
    variants = []
    for v in plan.variants:
        first = len(steps)
        for step in v.steps:
            add_step(step, v.name, expert_style(v.name).row_tiled)
        variants.append({"min_tokens": v.variant.min_tokens, "max_tokens": v.variant.max_tokens, "first_step": first,
                         "num_steps": len(v.steps),
                         "comment": f"{v.name} ({v.variant.mode}, columns {list(v.variant.col_split)}): "
                                    f"{v.variant.cycles_at_min}..{v.variant.cycles_at_max} cycles"})
    combine_step = len(steps)
    add_step(plan.combine, "combine", False)

    ops = {s.op for s in plan.front} | {s.op for v in plan.variants for s in v.steps} | {"combine"}
    df = [v for v in plan.variants if expert_style(v.name).mode == "dataflow"]
    rq_per_expert = 4 if plan.gated else 2
    regions = {r.name: r for r in plan.weight_layout}
    R, C, d, f = plan.rows, plan.cols, plan.hidden, plan.ffn
    return {
        "name": name, "ns": f"{name}_cfg", "guard": f"{name.upper()}_H", "activation": plan.activation,
        "device": plan.device, "T": plan.tokens, "D": d, "F": f, "E": plan.experts, "K": plan.top_k,
        "GATED": plan.gated, "R": R, "C": C, "W": plan.stream_bytes, "WPT": plan.words_per_token,
        "WEIGHT_WORDS": plan.weight_words, "RQ_WORDS": 1 + plan.experts * rq_per_expert,
        "RQ_PER_EXPERT": rq_per_expert, "MAX_ROW_TILES": -(-plan.tokens // R), "KMAX": max(d, f), "KMIN": min(d, f),
        "MAX_COL_TILES": max(-(-f // C), -(-d // C)), "IDXW": max(1, (plan.experts - 1).bit_length()),
        "act_rows": _rows(plan.activation_table), "exp_rows": _rows(plan.exp_table),
        "op_enum": [(f"OP_{op.upper()}", i) for i, op in enumerate(OPS)],
        "task_enum": [(f"TASK_{t.upper()}", i) for i, t in enumerate(HLS_TASKS)],
        "stages": stages, "steps": steps, "variants": variants, "num_front_steps": len(plan.front),
        "combine_step": combine_step, "max_variant_steps": max(len(v.steps) for v in plan.variants),
        "ops": sorted(ops), "FRONT_DATAFLOW": "front" in ops, "FRONT_SEQUENTIAL": "front" not in ops,
        "HAS_SEQ_EXPERTS": any(v.variant.mode == "sequential" for v in plan.variants),
        "HAS_WTILE": any(expert_style(v.name).row_tiled for v in plan.variants),
        "df_split": list(df[0].variant.col_split) if df else [],
        "w_router": regions["router"], "w_up": [regions[f"e{e}.up"] for e in range(plan.experts)],
        "w_gate": [regions[f"e{e}.gate"] for e in range(plan.experts)] if plan.gated else [],
        "w_down": [regions[f"e{e}.down"] for e in range(plan.experts)],
        "part": PARTS.get(plan.device), "period_ns": round(1e9 / plan.clock_hz, 3),
    }


def render_hls(plan: KernelPlan) -> dict[str, str]:
    """Relative path -> text of every generated HLS file (the include/ headers are copied)."""
    ctx = _context(plan)
    env = _env()
    n = plan.name
    out = {
        f"{n}.h": env.get_template("kernel.h.j2").render(ctx),
        f"{n}.cpp": env.get_template("kernel.cpp.j2").render(ctx),
        f"{n}_tb.cpp": env.get_template("tb.cpp.j2").render(ctx),
        "Makefile": env.get_template("Makefile.j2").render(ctx),
        "run_hls.tcl": env.get_template("run_hls.tcl.j2").render(ctx),
    }
    for f in INCLUDE_FILES:
        out[f"include/{f}"] = (INCLUDE_DIR / f).read_text()
    return out


def emit_hls(plan: KernelPlan, out_dir: str | Path) -> list[Path]:
    """Write the HLS sources of ``plan`` into ``out_dir`` (created); returns the paths written."""
    out_dir = Path(out_dir)
    written = []
    for rel, text in render_hls(plan).items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


# ------------------------------------------------------------------------------ interface
def hls_interface(plan: KernelPlan) -> dict[str, Any]:
    """Ports of the HLS top function and the formats of the data on them (for the manifest)."""
    W, C = plan.stream_bytes, plan.cols
    token_words = plan.tokens * plan.words_per_token
    token_format = {
        "word_bytes": W, "lanes": W, "lane_type": "int8 (two's complement)",
        "fields": [{"name": "lane[i]", "bits": [8 * i, 8 * i + 7], "signed": True} for i in range(W)]
                  + [{"name": "last", "bits": "TLAST", "signed": False}],
        "order": "token t = 0..T-1, word w = 0..ceil(d/W)-1; element i of token t is lane i % W of word "
                 "t * ceil(d/W) + i // W; unused lanes of a token's last word are zero (ignored on input); "
                 "TLAST on the last word of the call",
        "words": token_words,
    }
    return {
        "top": plan.name, "header": f"{plan.name}.h", "source": f"{plan.name}.cpp",
        "testbench": f"{plan.name}_tb.cpp",
        "ports": [
            {"name": "tokens_in", "direction": "in", "protocol": "axis", "type": f"{plan.name}_cfg::token_word",
             "width_bits": 8 * W, "format": "token_stream", "words": token_words},
            {"name": "tokens_out", "direction": "out", "protocol": "axis", "type": f"{plan.name}_cfg::token_word",
             "width_bits": 8 * W, "format": "token_stream", "words": token_words},
            {"name": "weights", "direction": "in", "protocol": "m_axi", "bundle": "gmem0",
             "type": f"const {plan.name}_cfg::weight_word*", "width_bits": 8 * C, "format": "weight_image",
             "words": plan.weight_words},
            {"name": "rq", "direction": "in", "protocol": "m_axi", "bundle": "gmem1",
             "type": f"const {plan.name}_cfg::rq_word*", "width_bits": 32, "format": "requant_block",
             "words": len(requant_order(plan))},
            {"name": "expert_counts", "direction": "out", "protocol": "s_axilite", "type": "ap_uint<16>[E]",
             "width_bits": 16, "words": plan.experts, "format": "tokens routed to each expert in the call"},
            {"name": "return", "direction": "in", "protocol": "s_axilite", "format": "ap_ctrl_hs start/done"},
        ],
        "formats": {
            "token_stream": token_format,
            "weight_image": {
                "word_bytes": C, "lanes": C, "lane_type": "int8",
                "order": "router, then per expert up, (gate,) down; each W[K, N] as ceil(N/C) column tiles "
                         "of K words; lane c of word tile*K + kk is W[kk, tile*C + c] (zero beyond N)",
                "regions": [r.as_dict() for r in plan.weight_layout], "words": plan.weight_words,
            },
            "requant_block": {
                "word_bits": 32,
                "fields": [{"name": "mult", "bits": [0, 15], "signed": False},
                           {"name": "shift", "bits": [16, 21], "signed": False},
                           {"name": "zero", "bits": [22, 31], "signed": False}],
                "order": list(requant_order(plan)),
            },
        },
        "pragmas": "MOEARCH_HLS_PRAGMA(HLS ...): _Pragma under Vitis HLS (__SYNTHESIS__), empty under g++",
    }


# ------------------------------------------------------------------------- binary inputs
def _int8_bytes(a: np.ndarray) -> bytes:
    return (np.asarray(a, dtype=np.int64) & 0xFF).astype(np.uint8).tobytes()


def pack_weight_image(plan: KernelPlan, router: Any, up: Any, gate: Any, down: Any) -> bytes:
    """The weight image the kernel reads: words of ``cols`` int8 lanes (spec section 2).

    ``router`` [d, E], ``up`` [E, d, f], ``gate`` [E, d, f] or None, ``down`` [E, f, d].
    """
    arrays = {"router": np.asarray(router, dtype=np.int64)}
    for e in range(plan.experts):
        arrays[f"e{e}.up"] = np.asarray(up, dtype=np.int64)[e]
        if plan.gated:
            if gate is None:
                raise ValueError("a gated plan needs gate weights")
            arrays[f"e{e}.gate"] = np.asarray(gate, dtype=np.int64)[e]
        arrays[f"e{e}.down"] = np.asarray(down, dtype=np.int64)[e]
    C = plan.cols
    image = np.zeros((plan.weight_words, C), dtype=np.int64)
    for r in plan.weight_layout:
        w = arrays[r.name]
        if w.shape != (r.k, r.n):
            raise ValueError(f"{r.name} has shape {w.shape}, expected {(r.k, r.n)}")
        if w.size and (w.min() < -128 or w.max() > 127):
            raise ValueError(f"{r.name} leaves the int8 range")
        padded = np.zeros((r.k, r.col_tiles * C), dtype=np.int64)
        padded[:, :r.n] = w
        image[r.offset:r.offset + r.words] = padded.reshape(r.k, r.col_tiles, C).transpose(1, 0, 2).reshape(-1, C)
    return _int8_bytes(image)


def _pair(q: Any) -> tuple[int, int]:
    mult, shift = (q.mult, q.shift) if hasattr(q, "mult") else q
    if not 0 <= int(mult) <= 0xFFFF or not 0 <= int(shift) <= 63:
        raise ValueError(f"requantiser ({mult}, {shift}) out of range (mult uint16, shift 0..63)")
    return int(mult), int(shift)


def pack_requant_block(plan: KernelPlan, *, gate_weight: Any, up: Sequence[Any], down: Sequence[Any],
                       gate: Sequence[Any] | None = None, hidden: Sequence[Any] | None = None) -> bytes:
    """The requantisation block: little-endian 32-bit words ``mult | shift << 16`` in
    :func:`requant_order`. Each requantiser is ``(mult, shift)`` or has ``.mult``/``.shift``."""
    words = [_pair(gate_weight)]
    for e in range(plan.experts):
        words.append(_pair(up[e]))
        if plan.gated:
            if gate is None or hidden is None:
                raise ValueError("a gated plan needs gate and hidden requantisers")
            words += [_pair(gate[e]), _pair(hidden[e])]
        words.append(_pair(down[e]))
    return np.array([m | (s << 16) for m, s in words], dtype="<u4").tobytes()


def pack_token_stream(plan: KernelPlan, x: Any) -> bytes:
    """Tokens ``[T, d]`` int8 as the token stream's bytes (spec section 2)."""
    xa = np.asarray(x, dtype=np.int64)
    if xa.shape != (plan.tokens, plan.hidden):
        raise ValueError(f"tokens have shape {xa.shape}, expected {(plan.tokens, plan.hidden)}")
    W = plan.stream_bytes
    padded = np.zeros((plan.tokens, plan.words_per_token * W), dtype=np.int64)
    padded[:, :plan.hidden] = xa
    return _int8_bytes(padded)


def unpack_token_stream(plan: KernelPlan, data: bytes) -> np.ndarray:
    """Inverse of :func:`pack_token_stream`: int8 ``[T, d]`` as int64."""
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    width = plan.words_per_token * plan.stream_bytes
    if raw.size != plan.tokens * width:
        raise ValueError(f"{raw.size} bytes, expected {plan.tokens * width}")
    v = raw.reshape(plan.tokens, width)[:, :plan.hidden]
    return np.where(v >= 128, v - 256, v)

