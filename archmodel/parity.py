"""The parity plot of a validation: predicted against measured, log axes, one colour per group."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .validate import METRICS, ValidationReport  # noqa: E402

LABELS = {"ttft_ms": "TTFT (ms)", "tpot_ms": "TPOT (ms)", "tokens_per_s": "output tokens/s"}


def parity_plot(report: ValidationReport, path: Path, title: str = "") -> None:
    """One panel a metric (TTFT, TPOT, throughput): each simulated row at (measured, predicted),
    the y = x line and a +-25 % band."""
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5 * len(METRICS), 5), dpi=110)
    groups = sorted({r.group for r in report.rows})
    colours = {g: plt.get_cmap("tab10")(i % 10) for i, g in enumerate(groups)}
    for ax, metric in zip(np.atleast_1d(axes), METRICS):
        values = []
        for g in groups:
            rows = [r for r in report.rows if r.group == g]
            x = np.array([r.measured[metric] for r in rows])
            y = np.array([r.predicted[metric] for r in rows])
            values.extend([*x, *y])
            mape = float(np.mean(np.abs(y - x) / x)) if len(x) else float("nan")
            ax.scatter(x, y, s=14, color=colours[g], label=f"{g} (MAPE {mape:.0%})", alpha=0.8)
        if values:
            lo, hi = min(values) / 1.5, max(values) * 1.5
            line = np.array([lo, hi])
            ax.plot(line, line, color="black", lw=1)
            ax.fill_between(line, line * 0.75, line * 1.25, color="gray", alpha=0.15, label="+-25 %")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"measured {LABELS[metric]}")
        ax.set_ylabel(f"predicted {LABELS[metric]}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title or f"{len(report.rows)} measured rows of {Path(report.file).name}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
