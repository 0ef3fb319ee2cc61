"""``manifest.json`` of a generated kernel directory: what was generated, for what, and a hash.

:func:`build_manifest` describes a :class:`~codegen.plan.KernelPlan` and the files written for it
(schema in ``docs/codegen.md``, ``MANIFEST_SCHEMA`` below). :func:`sources_digest` hashes the
generated sources (``hls/`` and ``rtl/``; not the README or the manifest itself) so that
:func:`check_manifest` can later tell whether a directory's sources still match its manifest.

``toplevel`` and ``sources`` (the Verilog files, relative paths) follow the convention of
``verification.runner.DesignSources.from_dir``.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .hdl import interface as itf
from .hls.emit import hls_interface
from .plan import KernelPlan

__all__ = ["MANIFEST_NAME", "MANIFEST_SCHEMA", "build_manifest", "check_manifest", "file_digests",
           "rtl_interface", "sources_digest"]

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = "moearch.codegen.manifest/1"
#: top-level folders whose files are hashed (the generated sources)
SOURCE_DIRS = ("hls", "rtl")


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("moearch")
    except Exception:  # noqa: BLE001 - not installed as a distribution (a plain checkout)
        return "unknown"


def file_digests(root: str | Path, dirs: Iterable[str] = SOURCE_DIRS) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``root/<dir>`` for ``dirs``, sorted."""
    root = Path(root)
    out: dict[str, str] = {}
    for d in dirs:
        base = root / d
        if not base.is_dir():
            continue
        for p in sorted(q for q in base.rglob("*") if q.is_file()):
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return dict(sorted(out.items()))


def sources_digest(digests: dict[str, str]) -> str:
    """One sha256 over the sorted ``path  sha256`` lines of :func:`file_digests`."""
    text = "".join(f"{path}  {digest}\n" for path, digest in sorted(digests.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def rtl_interface(plan: KernelPlan) -> dict[str, Any]:
    """The RTL top level's ports and encodings, from ``codegen.hdl.interface`` (the RTL engineer's
    single definition)."""
    geom = itf.KernelGeometry.from_plan(plan)
    fields = []
    pos = 0
    for name, width in (("tensor", itf.TENSOR_BITS), ("expert", geom.expert_bits), ("tile", geom.tile_bits),
                        ("cols", geom.cols_bits)):
        fields.append({"name": name, "bits": [pos, pos + width - 1], "signed": False})
        pos += width
    return {
        "toplevel": plan.name,
        "ports": itf.port_table(geom),
        "streams": "valid/ready (amaranth.lib.stream): a beat transfers when valid and ready are high at "
                   "the clock edge; valid never depends on ready",
        "formats": {
            "token_stream": {"word_bits": geom.stream_bits, "lanes": plan.stream_bytes, "lane_type": "int8",
                             "order": "tokens in order, ceil(d/W) words a token, element i in byte lane i % W "
                                      "of word i // W; unused lanes ignored on input, zero on output",
                             "words_per_token": geom.words_per_token},
            "weight_request": {"word_bits": geom.request_bits, "fields": fields,
                               "tensor_codes": {t.name: int(t) for t in itf.Tensor}},
            "weight_response": {"word_bits": geom.wdata_bits,
                                "order": "K words per request in order kk = 0..K-1; word kk carries "
                                         "Wt[kk, tile * cols + c] as int8 in byte lane c for c < cols "
                                         "(zero for c >= cols and beyond N)"},
            "param_block": {"word_bits": geom.wdata_bits, "words": geom.param_words,
                            "fields": [{"name": k, "bits": [lsb, lsb + w - 1], "signed": False}
                                       for k, (lsb, w) in itf.param_word_fields().items()],
                            "order": "RQg, then per expert RQup, (RQgate, RQhid,) RQdown"},
        },
        "request_order": "PARAMS once per layer, router column tiles, then per expert with tokens its "
                         "tensors' column tiles (codegen.hdl.interface.requests_for_layer)",
        "nominal_requests": [{"tensor": r.tensor.name, "expert": r.expert, "tile": r.tile, "cols": r.cols,
                              "words": geom.response_words(r)}
                             for r in itf.requests_for_layer(geom, plan.tokens_per_expert, _front_mode(plan),
                                                             variants=plan.schedule.variants)],
    }


def _rom(description: dict[str, Any] | None) -> dict[str, Any] | None:
    if description is None:
        return None
    return {k: description[k] for k in ("front", "rom", "variant_ranges", "switch_cycles", "stage_bits")
            if k in description}


def build_manifest(plan: KernelPlan, root: str | Path, *, rtl_files: list[str], rtl_message: str | None,
                   hls_files: list[str], rtl_description: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of the kernel directory ``root`` (its sources already written).

    ``rtl_description``: ``codegen.rtl.rtl_description(plan)`` (schedule ROM rows, variant
    ranges), stored under ``interfaces.rtl.schedule_rom`` when the RTL was written."""
    digests = file_digests(root)
    spec = plan.spec
    shape = {"tokens": plan.tokens, "hidden": plan.hidden, "ffn": plan.ffn, "experts": plan.experts,
             "top_k": plan.top_k, "gated": plan.gated}
    source_layer = None
    if spec.layer is not None:
        source_layer = {"model": spec.layer, "scale": spec.scale, "hidden": spec.source_hidden,
                        "ffn": spec.source_ffn,
                        "note": (f"d and f of {spec.layer} divided by {spec.scale} for simulation"
                                 if spec.scale > 1 else f"the MoE layer of {spec.layer} at full size")}
    sched = plan.schedule
    request = spec.as_dict()
    request["device"] = plan.device  # the catalog name, never a file path
    rtl_available = bool(rtl_files)
    return {
        "schema": MANIFEST_SCHEMA,
        "generator": {"tool": "moearch codegen", "version": _version()},
        "kernel": plan.name,
        "toplevel": plan.name,
        "sources": list(rtl_files),
        "request": request,
        "shape": shape,
        "source_layer": source_layer,
        "datatypes": {
            "spec": "docs/kernel-arithmetic.md",
            "tokens": "int8", "weights": "int8", "output": "int8",
            "accumulators": "int32 (router, up, gate, down, combine); the generator rejects shapes that "
                            "could overflow",
            "logits": "int32", "requantiser": {"mult": "uint16", "shift": "uint6",
                                               "rule": "sat8((acc * mult + 2**(shift-1)) >> shift)"},
            "gate_weights": "uint16 Q1.15", "exp_table": "uint16", "activation_table": "int8, scale 2**-4",
        },
        "activation": {"name": plan.activation, "table": list(plan.activation_table)},
        "accumulator_bounds": plan.accumulator_bounds,
        "max_abs_accumulator": plan.max_abs_accumulator,
        "device": {"name": plan.device, "clock_hz": plan.clock_hz, "pe_array": [plan.rows, plan.cols],
                   "dsp": plan.budget.fpga.dsp, "bram36": plan.budget.bram36, "uram": plan.budget.uram,
                   "offchip_bytes_per_cycle": plan.budget.offchip_bytes_per_cycle},
        "schedule": {
            "style": sched.style,
            "stream_bytes": plan.stream_bytes,
            "nominal_tokens_per_expert": list(plan.tokens_per_expert),
            "note": "stages are the schedule for the nominal (balanced) routing; at run time each expert "
                    "runs the variant that covers its token count, and an expert without tokens runs nothing",
            "stages": [s.as_dict() for s in sched.stages],
            "variants": [v.as_dict() for v in plan.variants],
            "expert_variant_nominal": list(sched.expert_variant),
            "program": {"front": [s.as_dict() for s in plan.front], "combine": plan.combine.as_dict()},
            "buffers": [{"name": b.name, "width_bits": b.width_bits, "depth": b.depth} for b in sched.buffers],
        },
        "predicted": {
            "cycles": sched.total_cycles,
            "latency_s": sched.latency_s,
            "cycles_per_stage": [{"index": s.index, "task": s.task, "mode": s.mode, "group": s.group,
                                  "start": s.start, "end": s.end, "cycles": s.cycles} for s in sched.stages],
            "cycles_per_variant": [{"name": v.name, "min_tokens": v.variant.min_tokens,
                                    "max_tokens": v.variant.max_tokens, "cycles_at_min": v.variant.cycles_at_min,
                                    "cycles_at_max": v.variant.cycles_at_max} for v in plan.variants],
            "resources": sched.resources.as_dict(),
            "fits": sched.resources.fits(plan.budget),
            "model": "codegen.schedule.schedule_moe_layer (cycle contract of docs/kernel-arithmetic.md section 3)",
        },
        "interfaces": {
            "hls": hls_interface(plan),
            "rtl": ({**rtl_interface(plan), "schedule_rom": _rom(rtl_description)} if rtl_available
                    else {"available": False, "reason": rtl_message}),
        },
        "rtl": {"available": rtl_available, "files": list(rtl_files), "message": rtl_message},
        "hls": {"files": list(hls_files)},
        "files": digests,
        "sources_sha256": sources_digest(digests),
    }


def check_manifest(root: str | Path) -> list[str]:
    """Problems with ``root``'s manifest against its sources (empty when they match)."""
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        return [f"{MANIFEST_NAME} missing"]
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return [f"{MANIFEST_NAME} is not JSON: {exc}"]
    if manifest.get("schema") != MANIFEST_SCHEMA:
        return [f"schema {manifest.get('schema')!r}, expected {MANIFEST_SCHEMA!r}"]
    problems = []
    recorded: dict[str, str] = manifest.get("files", {})
    actual = file_digests(root)
    for rel in sorted(set(recorded) | set(actual)):
        if rel not in actual:
            problems.append(f"{rel}: listed in the manifest but missing")
        elif rel not in recorded:
            problems.append(f"{rel}: not listed in the manifest")
        elif recorded[rel] != actual[rel]:
            problems.append(f"{rel}: content differs from the manifest's hash")
    if manifest.get("sources_sha256") != sources_digest(recorded):
        problems.append("sources_sha256 does not match the listed file hashes")
    return problems


def _front_mode(plan) -> str:
    """``dataflow`` when the schedule streams router, top-k and gate normaliser as one group."""
    front = [s for s in plan.schedule.stages if s.expert is None and s.task != "combine"]
    return "dataflow" if any(s.mode == "dataflow" for s in front) else "sequential"
