"""The DSE report's fidelity section: how the model ranked what RTL measured.

Over the evaluated rows of RTL jobs (``fidelity`` recorded): how many the screen sent to RTL and
how many distinct kernels those were; over the distinct kernels, the Spearman rank correlation of
the model's cycles with the simulator's, and of the model's full-size latency with the RTL-scaled one
over the measured designs; the worst cycle ratio; per resource, the synthesised count against the
model's (median and worst ratio).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..store import Row
from .settings import RESOURCES


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Rank correlation (average ranks for ties); None for fewer than 3 points or a constant side."""
    if len(a) < 3:
        return None
    ra, rb = (_ranks(np.asarray(x, dtype=float)) for x in (a, b))
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    for value in np.unique(x):  # ties share their mean rank
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _kernel(row: Row) -> tuple[float, ...]:
    """What identifies a measured kernel in a row: the model's cycles and resources for it."""
    return (row.metrics["model_cycles"], *(row.metrics.get(f"model_{n}", 0.0) for n in RESOURCES))


def fidelity_lines(rows: Sequence[Row]) -> list[str]:
    """Markdown lines of the section; [] when no row carries a fidelity."""
    scored = [r for r in rows if r.status == "ok" and not r.cached and "fidelity" in r.metrics]
    if not scored:
        return []
    measured = [r for r in scored if r.metrics["fidelity"] == 1.0]
    kernels = {_kernel(r) for r in measured}
    lines = ["## RTL against the model", "",
             f"{len(scored)} designs evaluated: {len(measured)} measured in RTL ({len(kernels)} distinct kernels), "
             f"{len(scored) - len(measured)} left to the model by the screen.", ""]
    if not measured:
        return lines
    # kernel-level figures once per kernel: designs that share a kernel share its measurement
    by_kernel = list({_kernel(r): r for r in measured}.values())
    cycles = spearman([r.metrics["model_cycles"] for r in by_kernel], [r.metrics["rtl_cycles"] for r in by_kernel])
    latency = spearman([r.metrics["model_latency_s"] for r in measured], [r.metrics["latency_s"] for r in measured])
    ratios = np.array([r.metrics["rtl_cycle_ratio"] for r in by_kernel])
    table = [("kernel cycles, simulator / model", float(np.median(ratios)), float(ratios[np.argmax(abs(ratios - 1))]),
              "n/a" if cycles is None else f"{cycles:.3f}")]
    for name in RESOURCES:
        pairs = [(r.metrics[f"rtl_{name}"], r.metrics[f"model_{name}"]) for r in by_kernel if f"rtl_{name}" in r.metrics]
        pairs = [(m, p) for m, p in pairs if p > 0]
        if pairs:
            q = np.array([m / p for m, p in pairs])
            rank = spearman([p for _, p in pairs], [m for m, _ in pairs])
            table.append((f"{name}, Yosys / model", float(np.median(q)), float(q[np.argmax(abs(q - 1))]),
                          "n/a" if rank is None else f"{rank:.3f}"))
    lines += ["| quantity | median ratio | worst ratio | rank correlation |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {med:.4g} | {worst:.4g} | {rank} |" for name, med, worst, rank in table]
    lines += ["", "Ratios and rank correlations over the distinct kernels (Spearman's; n/a: fewer than 3 or all "
              "equal). The full-size latency the model predicts against the RTL-scaled one ranks the measured "
              f"designs with correlation {'n/a' if latency is None else f'{latency:.3f}'}.", ""]
    return lines
