"""The kernel's schedule as a timeline: one bar per stage, coloured by mode, with switch gaps."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODE_COLOURS = {"dataflow": "tab:orange", "sequential": "tab:blue"}


def schedule_timeline(schedule, path: Path, title: str, measured: dict[str, int] | None = None) -> None:
    """Stages of ``schedule`` (an ``archmodel.fpga`` ScheduleResult) on a cycle axis; with ``measured``
    (stage task -> cycles from RTL simulation) a thin black bar under each shows what the RTL took."""
    stages = list(schedule.stages)
    fig, ax = plt.subplots(figsize=(11, 0.32 * len(stages) + 1.6), dpi=100)
    for row, st in enumerate(stages):
        ax.barh(row, st.end - st.start, left=st.start, height=0.6, color=MODE_COLOURS.get(st.mode, "tab:gray"))
        label = st.task + (f" [{st.variant}]" if st.variant else "")
        ax.text(st.end, row, f" {label}: {st.end - st.start:,} cyc", va="center", fontsize=7)
        if measured and st.task in measured:
            ax.barh(row + 0.38, measured[st.task], left=st.start, height=0.12, color="black")
    ax.set_yticks(range(len(stages)), [f"{st.index}" for st in stages], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("cycle")
    ax.set_ylabel("stage")
    ax.set_xlim(0, schedule.total_cycles * 1.25)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in MODE_COLOURS.values()]
    labels = list(MODE_COLOURS)
    if measured:
        handles.append(plt.Rectangle((0, 0), 1, 1, color="black"))
        labels.append("measured in RTL simulation")
    ax.legend(handles, labels, fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
