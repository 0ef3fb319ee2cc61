"""Plots: the roofline with a step's operators on it."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

GROUP_COLOURS = {"attention": "tab:blue", "ffn": "tab:green", "moe": "tab:red", "head": "tab:purple",
                 "embed": "tab:gray"}


def roofline_plot(step, device, precision, path: Path, title: str) -> None:
    """Operators of one step at (Op/B, achieved FLOP/s) under the device's roof. Collectives and
    operators without FLOPs are left out (they have no place on a roofline)."""
    costs, times = step.costs, step.times
    peak = device.peak(precision.compute_dtype)
    bw = device.main_memory.read_bandwidth
    eff = device.efficiency
    fig = plt.figure(figsize=(12, 6), dpi=110)
    ax = fig.add_axes((0.08, 0.1, 0.64, 0.82))
    x = np.logspace(-1, 4, 200)
    ax.loglog(x, np.minimum(peak, x * bw), color="black", lw=2, label=f"peak {peak / 1e12:.0f} TFLOP/s, {bw / 1e12:.2f} TB/s")
    ax.loglog(x, np.minimum(peak * eff.matmul_at(precision.compute_dtype), x * bw * eff.memory), color="gray", ls="--", lw=1,
              label="achievable (device efficiency)")
    ridge = peak / bw
    ax.axvline(ridge, color="gray", ls=":", lw=1)
    ax.text(ridge, peak * 1.15, f"ridge {ridge:.0f} Op/B", ha="center", fontsize=8)
    flops = costs.flops.reshape(len(costs.names), -1)[:, 0]
    opb = costs.op_per_byte.reshape(len(costs.names), -1)[:, 0]
    t = times.time.reshape(len(costs.names), -1)[:, 0]
    points: dict[tuple[float, float], list[int]] = {}
    for i in range(len(costs.names)):
        if flops[i] <= 0 or costs.kinds[i] in ("allreduce", "alltoall") or t[i] <= 0:
            continue
        key = (float(np.round(np.log10(opb[i]), 2)), float(np.round(np.log10(flops[i] / t[i]), 2)))
        points.setdefault(key, []).append(i)
    seen = set()
    key_lines = []
    for number, ((lx, ly), members) in enumerate(sorted(points.items()), start=1):
        x, y = 10.0 ** lx, 10.0 ** ly
        group = costs.groups[members[0]]
        ax.scatter(x, y, color=GROUP_COLOURS.get(group, "black"), s=40, zorder=3,
                   label=group if group not in seen else None)
        seen.add(group)
        ax.annotate(str(number), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8, weight="bold")
        key_lines.append(f"{number}  " + ", ".join(costs.names[i] for i in members))
    # A numbered key beside the axes: coincident operators share a number, nothing overprints.
    fig.text(0.75, 0.93, "\n".join(key_lines), va="top", ha="left", fontsize=8, family="monospace")
    ax.set_xlabel("operational intensity (FLOP / byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path, format="png")
    plt.close(fig)
