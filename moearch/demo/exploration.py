"""Demo step 2: a short design-space exploration of the FPGA MoE-kernel space.

The genetic algorithm (the agent the benchmark ranks first), multi-agent RL beside it (one
agent per subsystem: compute, memory, schedule) and random search as the baseline, each job an
SQLite store; the report (Pareto front, best-so-far, hypervolume) is read back from the stores,
and the best design overall goes on to the kernel step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from accelerators.errors import ConfigError
from dse.job import JobSettings, run_job
from dse.report import load_jobs, write_report
from moearch.demo.progress import Note, silent

SPACE_FILE = "fpga-moe-kernel.yaml"
#: (agent, options). The agent the benchmark ranks first at this budget on its interacting space
#: leads (the genetic algorithm: docs/dse.md, "Results"), multi-agent RL beside it, random search
#: as the baseline line.
AGENTS: tuple[tuple[str, dict[str, str]], ...] = (("ga", {}), ("marl", {"policy": "shared"}), ("random", {}))


@dataclass(frozen=True)
class ExplorationSettings:
    budget: int
    seed: int = 0

    @classmethod
    def of(cls, quick: bool) -> "ExplorationSettings":
        return cls(budget=24 if quick else 150)


def space_path() -> Path:
    """The shipped example space (package data ``moearch/examples/``; ``examples/`` in a checkout links there)."""
    path = Path(__file__).resolve().parents[1] / "examples" / SPACE_FILE
    if not path.is_file():
        raise ConfigError(str(path), "examples", SPACE_FILE, "the example space shipped with moearch (examples/)")
    return path


def run(out: Path, quick: bool, note: Note = silent) -> dict:

    settings = ExplorationSettings.of(quick)
    jobs_dir = out / "dse"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for agent, options in AGENTS:
        path, partial = jobs_dir / f"{agent}.db", jobs_dir / f".{agent}.db.partial"
        for stale in jobs_dir.glob(f".{agent}.db.partial*"):  # the demo owns its output folder: start afresh
            stale.unlink()
        note(f"DSE job {agent} ({settings.budget} unique evaluations, SQLite store {path.name})")
        run_job(space_path(), partial, JobSettings(agent=agent, seed=settings.seed, budget=settings.budget,
                                                   options=options),
                progress=lambda done, total, _best: note.count(done, total, "evaluations"))
        os.replace(partial, path)  # the store is closed (its WAL checkpointed): a killed demo leaves no half job
        paths.append(path)
    note("DSE report: Pareto front, best-so-far and hypervolume curves")
    jobs = load_jobs(paths)
    images = [p for p in write_report(jobs, jobs_dir) if p.suffix == ".png"]
    summaries = [j.summary_json() for j in jobs]
    objectives = [o.metric for o in jobs[0].space.objectives]
    ranked = [s for s in summaries if s["best"]]
    best = min(ranked, key=lambda s: tuple(s["best"][m] for m in objectives)) if ranked else None
    return {"budget": settings.budget, "seed": settings.seed, "space": jobs[0].space.name, "objectives": objectives,
            "jobs": summaries, "best": best, "images": [str(p.relative_to(out)) for p in images]}
