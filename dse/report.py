"""Reports over one or more job files: Pareto front, best-so-far curves, best designs, summary.

* Pareto front of the feasible evaluated designs of all jobs together. Two objectives: a scatter
  plot (``pareto.png``) with the front drawn as a step line. More: a table of the front.
* Hypervolume per job (two or more objectives): objectives in minimisation form are normalised
  with the ideal and nadir points of all jobs' feasible designs (so 0..1 each), the reference
  point is 1.1 in every objective; a larger hypervolume is better.
* Best-so-far curves (``best_so_far.png``): the first objective's best feasible value after each
  unique evaluation, one line per job, coloured by agent (and, with several objectives, the
  hypervolume after each evaluation, ``hypervolume.png``).
* RTL jobs (``evaluator: rtl``): how the model ranked what RTL measured (:mod:`dse.rtl.report`).
* The best designs of each job (lexicographic on the objectives: the first decides).
* ``summary.md`` and ``summary.html`` link the PNGs. Every file is written atomically.
"""
from __future__ import annotations

import html
import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from accelerators.errors import ConfigError

from .evaluation import minimised
from .job import best_row, load_job_space, summarise
from .pareto import hypervolume, pareto_mask
from .rtl.report import fidelity_lines
from .space import Space
from .store import JobStore, Row

REFERENCE: float = 1.1


@dataclass(frozen=True)
class JobData:
    path: Path
    meta: dict[str, Any]
    space: Space
    rows: tuple[Row, ...]

    @property
    def label(self) -> str:
        return f"{self.meta['agent']} (seed {self.meta['seed']})"

    @cached_property
    def evaluated(self) -> list[Row]:
        """Rows that cost an evaluation, in order."""
        return [r for r in self.rows if r.evaluated]

    @cached_property
    def feasible(self) -> list[Row]:
        return [r for r in self.evaluated if r.status == "ok" and r.feasible]

    def summary_json(self) -> dict[str, Any]:
        summary = summarise(self.path, self.space, self.meta, self.rows)
        return {"path": str(self.path), "space": self.space.name, "agent": summary.agent, "seed": summary.seed,
                "evaluations": summary.evaluations, "best": summary.best, "best_design": summary.best_design,
                "rows": summary.rows, "infeasible": summary.infeasible, "failed": summary.failed,
                "cached": summary.cached, "stop_reason": summary.stop_reason}


def load_jobs(paths: Sequence[str | Path]) -> list[JobData]:
    """Read job files; they must share their objectives (metric and goal, in order)."""
    jobs = []
    for path in paths:
        with JobStore.open(path) as store:
            jobs.append(JobData(Path(path), store.meta(), load_job_space(store), tuple(store.rows())))
    first = jobs[0].space.objectives
    for job in jobs[1:]:
        if job.space.objectives != first:
            raise ConfigError(str(job.path), "objectives", [(o.metric, o.goal) for o in job.space.objectives],
                              f"the objectives of {jobs[0].path}: {[(o.metric, o.goal) for o in first]}")
    return jobs


def _points(space: Space, rows: Sequence[Row]) -> np.ndarray:
    return np.array([minimised(space, r.objectives) for r in rows], dtype=float).reshape(len(rows),
                                                                                         len(space.objectives))


def normaliser(jobs: Sequence[JobData]) -> Callable[[np.ndarray], np.ndarray] | None:
    """Map minimised objective rows to [0, 1] by the ideal and nadir of all jobs' feasible designs."""
    space = jobs[0].space
    pooled = np.vstack([_points(space, j.feasible) for j in jobs]) if jobs else np.zeros((0, 0))
    if len(pooled) == 0:
        return None
    lo, hi = pooled.min(axis=0), pooled.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return lambda p: (np.asarray(p, dtype=float) - lo) / span


def hypervolume_curve(job: JobData, norm: Callable[[np.ndarray], np.ndarray]) -> list[float]:
    """Normalised hypervolume of the feasible designs found after each unique evaluation."""
    k = len(job.space.objectives)
    reference = np.full(k, REFERENCE)
    front = np.zeros((0, k))
    curve = []
    current = 0.0
    for row in job.evaluated:
        if row.status == "ok" and row.feasible:
            front = np.vstack([front, norm(np.array(minimised(job.space, row.objectives)))])
            front = front[pareto_mask(front)]
            current = hypervolume(front, reference)
        curve.append(current)
    return curve


def best_so_far(job: JobData) -> list[float]:
    """The first objective's best feasible value (in its own direction) after each evaluation."""
    objective = job.space.objectives[0]
    best = math.inf
    curve = []
    for row in job.evaluated:
        if row.status == "ok" and row.feasible:
            best = min(best, objective.sign * row.objectives[objective.metric])
        curve.append(objective.sign * best if math.isfinite(best) else math.nan)
    return curve


def pareto_front(jobs: Sequence[JobData]) -> list[tuple[JobData, Row]]:
    """The non-dominated feasible designs of all jobs (one entry per distinct design)."""
    space = jobs[0].space
    entries: dict[str, tuple[JobData, Row]] = {}
    for job in jobs:
        for row in job.feasible:
            entries.setdefault(row.key, (job, row))
    items = list(entries.values())
    if not items:
        return []
    mask = pareto_mask(_points(space, [r for _, r in items]))
    front = [item for item, keep in zip(items, mask) if keep]
    return sorted(front, key=lambda item: minimised(space, item[1].objectives))


def top_designs(job: JobData, n: int) -> list[Row]:
    rows = sorted(job.feasible, key=lambda r: (minimised(job.space, r.objectives), r.step, r.slot))
    return rows[:n]


# --- writing ---------------------------------------------------------------------------------

def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path



def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")

def _save_figure(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    try:
        return _atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png"))
    finally:
        plt.close(fig)


def _colours(jobs: Sequence[JobData]) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    agents = sorted({j.meta["agent"] for j in jobs})
    cmap = plt.get_cmap("tab10")
    return {agent: cmap(i % 10) for i, agent in enumerate(agents)}


def _axis_label(space: Space, index: int) -> str:
    return goal_label(space.objectives[index])


def goal_label(objective) -> str:
    """``latency_s (minimised)``: the metric's name carries its unit; "min" alone reads as minutes."""
    return f"{objective.metric} ({'minimised' if objective.goal == 'min' else 'maximised'})"


def plot_pareto(jobs: Sequence[JobData], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    space = jobs[0].space
    colours = _colours(jobs)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    m0, m1 = space.objectives[0].metric, space.objectives[1].metric
    seen_agents: set[str] = set()
    for job in jobs:
        agent = job.meta["agent"]
        xs = [r.objectives[m0] for r in job.feasible]
        ys = [r.objectives[m1] for r in job.feasible]
        ax.scatter(xs, ys, s=14, alpha=0.6, color=colours[agent], label=None if agent in seen_agents else agent)
        seen_agents.add(agent)
    front = pareto_front(jobs)
    if front:
        fx = [r.objectives[m0] for _, r in front]
        fy = [r.objectives[m1] for _, r in front]
        ax.step(fx, fy, where="post", color="black", linewidth=1.2, label="Pareto front")
        ax.scatter(fx, fy, s=36, facecolors="none", edgecolors="black")
    ax.set_xlabel(_axis_label(space, 0))
    ax.set_ylabel(_axis_label(space, 1))
    ax.set_title(f"{space.name}: feasible designs and Pareto front")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save_figure(fig, path)


def _plot_curves(jobs: Sequence[JobData], curves: Sequence[Sequence[float]], ylabel: str, title: str,
                 path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = _colours(jobs)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for job, curve in zip(jobs, curves):
        xs = np.arange(1, len(curve) + 1)
        ax.plot(xs, curve, color=colours[job.meta["agent"]], linewidth=1.4, label=job.label, drawstyle="steps-post")
    ax.set_xlabel("unique evaluations")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save_figure(fig, path)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def build_markdown(jobs: Sequence[JobData], images: Sequence[Path], top: int) -> str:
    space = jobs[0].space
    metrics = [o.metric for o in space.objectives]
    norm = normaliser(jobs) if len(metrics) > 1 else None
    lines = [f"# DSE report: {space.name}", "",
             "Objectives: " + ", ".join(f"{o.goal} {o.metric}" for o in space.objectives) + ". The best design "
             "of a job is its feasible design with the best first objective (later objectives break ties).", ""]
    header = ["job", "agent", "seed", "evaluations", "infeasible", "failed", "cached",
              *[f"{m} (best design)" for m in metrics]]
    if norm is not None:
        header.append("hypervolume")
    rows = []
    for job in jobs:
        s = job.summary_json()
        best = s["best"] or {}
        row = [job.path.name, s["agent"], s["seed"], s["evaluations"], s["infeasible"], s["failed"], s["cached"],
               *[best.get(m, "-") for m in metrics]]
        if norm is not None:
            curve = hypervolume_curve(job, norm)
            row.append(curve[-1] if curve else 0.0)
        rows.append(row)
    lines += ["## Jobs", "", *_table(header, rows), ""]
    if norm is not None:
        lines += [f"Hypervolume: objectives normalised to [0, 1] by the ideal and nadir of all jobs' feasible "
                  f"designs, reference point {REFERENCE} in each.", ""]
    for image in images:
        lines += [f"![{image.stem}]({image.name})", ""]
    if len(metrics) > 1:
        front = pareto_front(jobs)
        names = list(space.names)
        lines += [f"## Pareto front ({len(front)} designs)", "",
                  *_table(["job", *metrics, *names],
                          [[job.label, *[r.objectives[m] for m in metrics], *[r.design[n] for n in names]]
                           for job, r in front]), ""]
    lines += fidelity_lines([r for job in jobs for r in job.evaluated])
    lines += ["## Best designs", ""]
    for job in jobs:
        names = list(job.space.names)
        best = top_designs(job, top)
        lines += [f"### {job.label}: {job.path.name}", ""]
        if not best:
            lines += ["No feasible design was found.", ""]
            continue
        lines += [*_table([*metrics, *names], [[r.objectives[m] for m in metrics] + [r.design[n] for n in names]
                                               for r in best]), ""]
    return "\n".join(lines) + "\n"


def markdown_to_html(markdown: str, title: str) -> str:
    """A small converter for the report's own Markdown (headings, tables, images, paragraphs)."""
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}img{max-width:100%}</style></head><body>"]
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, body = table[0], table[2:]
            out.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>")
            out.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
            out.append("</table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("!["):
            alt, _, src = line[2:].partition("](")
            out.append(f"<p><img alt='{html.escape(alt)}' src='{html.escape(src.rstrip(')'))}'></p>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    flush()
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_report(jobs: Sequence[JobData], out_dir: str | Path, top: int = 10) -> list[Path]:
    """Write the PNGs, ``summary.md``, ``summary.html`` and ``summary.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    space = jobs[0].space
    images: list[Path] = []
    if len(space.objectives) == 2:
        images.append(plot_pareto(jobs, out / "pareto.png"))
    first = space.objectives[0]
    images.append(_plot_curves(jobs, [best_so_far(j) for j in jobs], f"best feasible {goal_label(first)}",
                               f"{space.name}: best so far", out / "best_so_far.png"))
    norm = normaliser(jobs) if len(space.objectives) > 1 else None
    if norm is not None:
        images.append(_plot_curves(jobs, [hypervolume_curve(j, norm) for j in jobs], "normalised hypervolume",
                                   f"{space.name}: hypervolume so far", out / "hypervolume.png"))
    markdown = build_markdown(jobs, images, top)
    written = list(images)
    written.append(_atomic(out / "summary.md", lambda p: _write_text(p, markdown)))
    page = markdown_to_html(markdown, f"DSE report: {space.name}")
    written.append(_atomic(out / "summary.html", lambda p: _write_text(p, page)))
    data = json.dumps([j.summary_json() for j in jobs], indent=2)
    written.append(_atomic(out / "summary.json", lambda p: _write_text(p, data + "\n")))
    return written


__all__ = ["JobData", "best_row", "best_so_far", "build_markdown", "hypervolume_curve", "load_jobs", "normaliser",
           "pareto_front", "top_designs", "write_report"]
