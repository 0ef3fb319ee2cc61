"""Compare devices on one workload: the rows behind ``moearch compare`` and its bar chart.

Each device is served in flight (:func:`archmodel.serving.simulate`, the engine preset's limits, as
many closed-loop clients as the engine holds unless ``concurrency`` says otherwise) or, with
``schedule="static"`` (and on a kind whose model times only static batches: the RDU), by the
static-batch estimate (:func:`archmodel.serve.serve`). In flight, energy per token and the
bottleneck are those of the static estimate at the in-flight mean batch (``energy_basis``). Each
runs on the fewest of its chips that hold the model (or ``--devices N``): the smallest power of two whose per-device weights
leave room for at least one sequence's KV cache in main memory (no host offload). The split: MoE
layers expert-parallel over all of them, attention and dense layers tensor-parallel within the
scale-up domain and data-parallel across domains; a dense model is pipelined across domains
instead (data parallelism would not shrink its weights).
"""
from __future__ import annotations

import math
from pathlib import Path

from accelerators.catalog import load_device
from accelerators.errors import ConfigError

from .formatting import si
from .mixed import mixes_steps
from .parallel import Parallelism
from .precision import Precision
from .routing import Routing
from .serve import max_batch, serve
from .serving import engine_capacity, engine_preset, simulate
from .step import DEVICE_MODELS, stored_weight_bytes

MAX_DEVICES = 4096
ROW_KEYS = ("device", "kind", "devices", "parallel", "schedule", "engine", "batch", "bound", "output_tokens_per_s",
            "output_tokens_per_s_per_device", "ttft_s", "tpot_s", "energy_j_per_token", "energy_basis",
            "tdp_bound_j_per_token", "bottleneck", "energy_defaults")
SCHEDULES = ("inflight", "static")


def split_plan(model, device, n: int) -> Parallelism:
    """How ``n`` devices share the model (see the module docstring)."""
    up = device.interconnect.scale_up
    domain = (up.domain or 1) if up is not None else 1
    tp = math.gcd(n, domain) if n > 1 else 1
    if model.is_moe:
        return Parallelism(tp=tp, ep=n, dp=n // tp)
    return Parallelism(tp=tp, pp=n // tp)


def fewest_devices(model, device, precision, isl: int, osl: int) -> int:
    """The smallest power of two of ``device`` whose main memory holds the weights and one sequence."""
    n = 1
    while n <= MAX_DEVICES:
        parallel = split_plan(model, device, n)
        if stored_weight_bytes(model, precision, parallel) <= device.main_memory.capacity and \
                max_batch(model, device, precision, parallel, isl + osl) >= 1:
            return n
        n *= 2
    raise ConfigError(None, "devices", f"> {MAX_DEVICES} x {device.name}",
                      f"a model that fits {MAX_DEVICES} devices' main memory; try a smaller --dtype")


def _static_row(model, device, isl, osl, precision, parallel, routing, batch) -> dict:
    r = serve(model, device, isl=isl, osl=osl, batch=batch, precision=precision, parallel=parallel, routing=routing)
    return {"schedule": "static", "engine": None, "batch": r.batch, "bound": None,
            "output_tokens_per_s": r.output_tokens_per_s, "ttft_s": r.ttft_s, "tpot_s": r.tpot_s,
            "energy_j_per_token": r.energy_j_per_token, "energy_basis": "static batch",
            "bottleneck": r.bottleneck, "energy_defaults": list(r.energy_defaults)}


def _inflight_row(model, device, isl, osl, precision, parallel, routing, batch, engine) -> dict:
    preset = engine_preset(engine)
    concurrency = (engine_capacity(model, device, precision, parallel, preset, isl, osl).requests * parallel.dp
                   if batch == "auto" else batch)
    sim = simulate(model, device, isl=isl, osl=osl, engine=preset, concurrency=concurrency, precision=precision,
                   parallel=parallel, routing=routing)
    at_mean = serve(model, device, isl=isl, osl=osl, batch=max(1, round(sim.mean_batch)) * parallel.dp,
                    precision=precision, parallel=parallel, routing=routing)
    return {"schedule": "inflight", "engine": engine, "batch": concurrency, "bound": sim.bound,
            "output_tokens_per_s": sim.output_tokens_per_s, "ttft_s": sim.ttft_s, "tpot_s": sim.tpot_s,
            "energy_j_per_token": at_mean.energy_j_per_token,
            "energy_basis": f"static batch of the in-flight mean ({at_mean.batch})",
            "bottleneck": at_mean.bottleneck, "energy_defaults": list(at_mean.energy_defaults)}


def compare_rows(model, names: list[str], *, isl: int, osl: int, precision: Precision = Precision(),
                 routing: Routing = Routing(), devices: int | None = None, batch: int | str = "auto",
                 schedule: str = "inflight", engine: str = "trtllm") -> list[dict]:
    """One result row per device name (or path): ``ROW_KEYS``, each device on ``devices`` chips
    (default: :func:`fewest_devices`) split by :func:`split_plan`. ``batch``: the static batch, or
    the in-flight clients (``"auto"``: what the engine holds)."""
    if schedule not in SCHEDULES:
        raise ConfigError(None, "schedule", schedule, f"one of: {', '.join(SCHEDULES)}")
    rows = []
    for name in names:
        device = load_device(name)
        if device.kind not in DEVICE_MODELS:
            raise ConfigError(None, "device", name, f"a device whose kind has a model: {', '.join(sorted(DEVICE_MODELS))}")
        n = devices if devices is not None else fewest_devices(model, device, precision, isl, osl)
        parallel = split_plan(model, device, n)
        args = (model, device, isl, osl, precision, parallel, routing, batch)
        # a kind whose model times static batches only (the RDU) is served static; its row says so
        row = _inflight_row(*args, engine) if schedule == "inflight" and mixes_steps(device.kind) else _static_row(*args)
        tdp = device.power.tdp if device.power is not None else None
        rows.append({
            "device": device.name, "kind": device.kind, "devices": n,
            "parallel": {"tp": parallel.tp, "ep": parallel.ep, "pp": parallel.pp, "dp": parallel.dp},
            **row, "output_tokens_per_s_per_device": row["output_tokens_per_s"] / n,
            # A device cannot draw more than its TDP on average: an upper bound beside the model's figure.
            "tdp_bound_j_per_token": tdp * n / row["output_tokens_per_s"] if tdp else None,
        })
    return rows


def compare_chart(rows: list[dict], path: Path, title: str) -> None:
    """Bar charts: output tokens/s per device, TPOT, energy per output token, devices used."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["device"] for r in rows]
    panels = (("output tokens/s per device", [r["output_tokens_per_s_per_device"] for r in rows]),
              ("TPOT (ms)", [r["tpot_s"] * 1e3 for r in rows]),
              ("energy per output token (mJ, modelled)", [r["energy_j_per_token"] * 1e3 for r in rows]),
              ("devices used", [r["devices"] for r in rows]))
    colours = {"compute": "tab:red", "memory": "tab:blue", "comm": "tab:orange", "overhead": "tab:gray"}
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), dpi=100)
    for ax, (label, values) in zip(axes.flat, panels):
        bars = ax.bar(names, values, color=[colours.get(r["bottleneck"], "tab:green") for r in rows])
        ax.bar_label(bars, labels=[si(v) for v in values], fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    fig.legend(handles, [f"{k}-bound" for k in colours], loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, format="png")
    plt.close(fig)
