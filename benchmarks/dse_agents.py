"""DSE agents on enumerable spaces: regret against the known optimum (printed, never asserted on time).

    python benchmarks/dse_agents.py [--quick] [--seeds 20] [--jobs 2] [--out benchmarks/results/dse]
    python benchmarks/dse_agents.py --measured ../shared/datasets/kernel-tuner-hub --spaces kt-convolution-a100,...
    python benchmarks/dse_agents.py --spaces my-space.yaml --seeds 20    # any space file (large: lazily)

Protocol (docs/dse.md, "Benchmark"):

1. Each space (``dse.bench.spaces``) is enumerated once with the archmodel models (a measured
   space: looked up in its Kernel Tuner file) and its metric table cached (``build/dse-bench``):
   the optimum, the median and the Pareto front are known.
2. Every agent runs ``--seeds`` seeds against the table. Only unique evaluations count: repeats
   are cache hits and designs rejected before evaluation are free, as in a job. One run per seed
   goes to the agent's largest budget and the smaller budgets are its prefixes (the agent never
   knows the budget and every round asks ``--batch`` designs, so its first n evaluations do not
   depend on how long it runs; see ``dse.bench.runner``).
3. Per budget: median normalised regret ``(best - optimum) / (median - optimum)`` with its
   quartiles, the share of seeds within 1 % of the optimum, and for two objectives the median
   hypervolume ratio. Random search also gets its exact expectation, median and share (closed
   form, sampling without replacement), checked against a Monte Carlo estimate.
4. Exhaustive enumeration through the agent interface is the reference: it must find the optimum
   and the whole front.

Budget caps: ``tpe`` and ``gp`` stop early (``CAPS``) because their cost per round grows with
every design told — including the designs rejected before evaluation, which are most of these
spaces. Measured here on 2 cores, one run to the next budget takes: tpe to 1000 on
pim-power-budget 430 s (TPE's sampling over ~10,000 told trials); gp to 300 on
fpga-kernel-fine 510 s, gp to 100 on pim-power-budget 190 s (its constraint GP covers every
rejected design). ``--no-caps`` runs them to 1000 anyway.

Every finished run is appended to ``OUT/runs.jsonl`` at once; a benchmark killed halfway, run again
with the same ``--out``, reads those runs back (keyed by space digest, agent and options, seed, budget, batch)
and runs only the rest. ``--fresh`` discards them (do so after changing a model the space uses: the
digest covers the space file, not the model code).

Writes ``OUT/dse_agents.json`` (every run's best-so-far curve), ``OUT/summary.json`` (the same
without the curves), ``OUT/summary.md`` and PNGs; ``--from-json`` redraws them from a saved run.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dse.bench.lazy import LazyTable  # noqa: E402
from dse.bench.runner import run_agent  # noqa: E402
from dse.bench.spaces import HUB_ENV, MEASURED_PREFIX, bench_space, is_enumerable, list_bench_spaces  # noqa: E402
from dse.bench.stats import (Reference, best_so_far, hypervolume_after, median_interval,  # noqa: E402
                             random_exact, random_monte_carlo, reference_of, share_interval)
from dse.bench.table import MetricTable, load_table, table_digest  # noqa: E402

from docs_tables import (hypervolume_table, large_space_note, regret_ci_table,  # noqa: E402  (beside this script)
                         regret_table)

REPO = Path(__file__).resolve().parents[1]
BUDGETS = (30, 100, 300, 1000)
QUICK_BUDGETS = (10, 30)
# label -> (agent, options)
AGENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "random": ("random", {}),
    "ga": ("ga", {}),
    "tpe": ("tpe", {}),
    "gp": ("gp", {}),
    "ppo": ("ppo", {}),
    "marl-shared": ("marl", {"policy": "shared"}),
    "marl-independent": ("marl", {"policy": "independent"}),
    "marl-shared-untrained": ("marl", {"policy": "shared", "train": False}),
}
# Ablations (run them with --agents): what the marl results owe to learning and to acting agents.
ABLATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "marl-shared-fast": ("marl", {"policy": "shared", "learning_rate": 0.003, "n_epochs": 10}),
    "marl-shared-all-act": ("marl", {"policy": "shared", "active": 1.0}),
    "ppo-fast": ("ppo", {"learning_rate": 0.003, "n_epochs": 10}),
}
KNOWN: dict[str, tuple[str, dict[str, Any]]] = {**AGENTS, **ABLATIONS}
# (label, space) -> largest budget run; see the module docstring for the measured costs.
CAPS: dict[tuple[str, str], int] = {
    ("tpe", "fpga-kernel-fine"): 300, ("tpe", "pim-power-budget"): 300,
    ("gp", "fpga-kernel-fine"): 100, ("gp", "pim-power-budget"): 30,
    ("tpe", "pim-codesign-large"): 300, ("gp", "pim-codesign-large"): 30,
}
REFERENCE_FACTOR = 10  # a large space's optimum: the best any agent finds with 10x the largest budget
SAMPLE = 4096          # a large space's median: of the feasible designs of a uniform sample this size
# the same caps on every measured space (kt-*): 10,240 and 22,272 designs, most of them infeasible
MEASURED_CAPS: dict[str, int] = {"tpe": 300, "gp": 100}


def cap_of(label: str, space: str, budget: int) -> int:
    """The largest budget ``label`` runs to on ``space`` (CAPS, MEASURED_CAPS for kt-* spaces)."""
    cap = CAPS.get((label, space))
    if cap is None and space.startswith(MEASURED_PREFIX):
        cap = MEASURED_CAPS.get(label)
    return min(cap, budget) if cap is not None else budget
COST_ORDER = ("gp", "tpe", "marl-independent", "ppo-fast", "ppo", "marl-shared-fast", "marl-shared",
              "marl-shared-all-act", "marl-shared-untrained", "ga", "random")


_LAZY: dict[str, LazyTable] = {}  # per worker process: the designs of a large space evaluated so far


def table_of(space_name: str, cache: str | None) -> MetricTable | LazyTable:
    """The metric table of an enumerable space; a large space's lazy table (shared by a worker's runs)."""
    space, text = bench_space(space_name)
    if is_enumerable(space):
        return load_table(space, text, cache)
    if space_name not in _LAZY:
        _LAZY[space_name] = LazyTable(space, table_digest(space, text))
    return _LAZY[space_name]


def _run(task: tuple[str, str, str, int, int, int, str | None, bool]) -> dict[str, Any]:
    space_name, label, agent, seed, budget, batch, cache, reference = task
    table = table_of(space_name, cache)
    trace = run_agent(table, agent, seed, budget, batch=batch, **KNOWN[label][1])
    run = {"space": space_name, "label": label, "seed": seed, "budget": budget, "evaluations": trace.evaluations,
           "rounds": trace.rounds, "queries": trace.queries, "cache_hits": trace.cache_hits,
           "rejected": trace.rejected, "stop_reason": trace.stop_reason, "seconds": trace.seconds,
           "diagnostics": trace.extra, "reference": reference}
    if isinstance(table, LazyTable):  # the analysis cannot look a large space's designs up again
        run["values"] = [float(v) if np.isfinite(v) else None for v in table.first_objective_at(trace.evaluations)]
    return run


JOURNAL = "runs.jsonl"  # in --out: one line per finished run, read back by the next invocation


def task_key(task: tuple[str, str, str, int, int, int, str | None, bool], digests: dict[str, str]) -> str:
    """What makes a run reusable: its space (and that space's digest), agent and options, seed, budget
    and batch."""
    space_name, label, agent, seed, budget, batch, _cache, _reference = task
    options = json.dumps(KNOWN[label][1], sort_keys=True)
    return f"{space_name}@{digests[space_name]}|{label}={agent}{options}|{seed}|{budget}|{batch}"


def read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """The runs a previous invocation finished (a line torn by a kill is skipped)."""
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[entry["key"]] = entry["run"]
    return done


def _summarise(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=float)
    lo, hi = median_interval(arr)
    return {"median": float(np.median(arr)), "q25": float(np.quantile(arr, 0.25)),
            "q75": float(np.quantile(arr, 0.75)), "mean": float(arr.mean()), "median_ci95": [lo, hi]}


def agent_entries(runs: list[dict[str, Any]], ref: Reference, budgets: tuple[int, ...],
                  best_of: Callable[[dict[str, Any]], np.ndarray],
                  hypervolume_of: Callable[[dict[str, Any], int], float] | None = None) -> dict[str, Any]:
    """Per agent label: its runs' regret curves and, per budget, the median regret (bootstrap 95 %
    interval) and the share of seeds within 1 % of the optimum (Wilson 95 % interval)."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_label.setdefault(run["label"], []).append(run)
    agents: dict[str, Any] = {}
    for label, group in by_label.items():
        group.sort(key=lambda r: r["seed"])
        entry: dict[str, Any] = {"agent": KNOWN[label][0] if label in KNOWN else label,
                                 "options": KNOWN[label][1] if label in KNOWN else {}, "budgets": {}, "runs": []}
        curves, bests = [], []
        for run in group:
            best = best_of(run)
            curve = ref.regret(best)
            curves.append(curve)
            bests.append(best)
            entry["runs"].append({k: v for k, v in run.items() if k not in ("evaluations", "values", "space", "label")}
                                 | {"unique_evaluations": len(run["evaluations"]),
                                    "regret_curve": [round(float(c), 6) if np.isfinite(c) else None for c in curve]})
        for n in budgets:
            if any(len(c) < n for c in curves):
                continue  # not every seed got this far (capped or the space ran out)
            regrets = [float(c[n - 1]) for c in curves]
            hits = int(sum(bool(ref.hit(b[n - 1])) for b in bests))
            cell: dict[str, Any] = {"regret": _summarise(regrets), "share_within_1pct": hits / len(regrets),
                                    "share_ci95": list(share_interval(hits, len(regrets))), "seeds": len(regrets)}
            if hypervolume_of is not None:
                cell["hypervolume_ratio"] = _summarise([hypervolume_of(run, n) for run in group])
            entry["budgets"][str(n)] = cell
        entry["seconds"] = _summarise([r["seconds"] for r in group])
        agents[label] = entry
    return agents


def analyse(space_name: str, runs: list[dict[str, Any]], budgets: tuple[int, ...], cache: str | None,
            mc_draws: int) -> dict[str, Any]:
    space, text = bench_space(space_name)
    table = load_table(space, text, cache)
    ref = reference_of(table)
    two = len(space.objectives) > 1
    out: dict[str, Any] = {
        "space": {"name": space.name, "size": space.size, "evaluable": ref.evaluable, "feasible": ref.feasible,
                  "within_1pct": ref.within, "optimum": ref.optimum, "median": ref.median,
                  "optimum_design": space.values_of(space.design_at(ref.optimum_index)),
                  "front_size": int(len(ref.front)), "objectives": [[o.metric, o.goal] for o in space.objectives],
                  "groups": {k: [space.parameters[i].name for i in v] for k, v in space.groups.items()},
                  "table_digest": table.digest},
        "agents": {}}
    hv = (lambda run, n: hypervolume_after(table, ref, run["evaluations"], n)) if two else None
    out["agents"] = agent_entries(runs, ref, budgets, lambda run: best_so_far(table, run["evaluations"]), hv)
    rng = np.random.default_rng(0)
    out["random_exact"] = {}
    for n in budgets:
        exact = random_exact(table, ref, n)
        mc_regret, mc_share = random_monte_carlo(table, ref, n, mc_draws, rng)
        out["random_exact"][str(n)] = {"expected_regret": exact.expected_regret, "median_regret": exact.median_regret,
                                       "p_within_1pct": exact.p_within, "monte_carlo_regret": mc_regret,
                                       "monte_carlo_within_1pct": mc_share, "monte_carlo_draws": mc_draws}
    horizon = max(budgets)
    out["random_exact_curve"] = [random_exact(table, ref, n).expected_regret for n in range(1, horizon + 1)]
    # The reference: exhaustive through the agent interface, over the whole space.
    started = time.perf_counter()
    trace = run_agent(table, "exhaustive", 0, ref.evaluable, batch=64)
    best = best_so_far(table, trace.evaluations)
    out["exhaustive"] = {"evaluations": len(trace.evaluations), "best": float(best[-1]),
                         "found_optimum": bool(best[-1] == ref.optimum), "stop_reason": trace.stop_reason,
                         "seconds": time.perf_counter() - started}
    if two:
        out["exhaustive"]["hypervolume_ratio"] = hypervolume_after(table, ref, trace.evaluations,
                                                                   len(trace.evaluations))
    return out


def analyse_large(space_name: str, runs: list[dict[str, Any]], budgets: tuple[int, ...],
                  sample: int = SAMPLE) -> dict[str, Any]:
    """A space too large to enumerate: the optimum is the best design any run found (the reference
    runs go to ``REFERENCE_FACTOR`` x the largest budget), the median that of the feasible designs
    of a uniform sample; there is no exact random-search row (random search is run like the others)."""
    space, text = bench_space(space_name)
    table = LazyTable(space, table_digest(space, text))
    indices, values, evaluable = table.sample(sample)
    feasible = values[np.isfinite(values)]
    if len(feasible) == 0:
        raise ValueError(f"space {space_name}: no feasible design in a uniform sample of {sample}")

    def values_of(run: dict[str, Any]) -> np.ndarray:
        return np.array([np.inf if v is None else v for v in run["values"]], dtype=float)

    def best_of(run: dict[str, Any]) -> np.ndarray:
        vals = values_of(run)
        return np.minimum.accumulate(vals) if len(vals) else vals

    finder, optimum, where = "the uniform sample", float(feasible.min()), indices[int(np.argmin(values))]
    for run in runs:
        vals = values_of(run)
        if len(vals) and vals.min() < optimum:
            finder = f"{run['label']} seed {run['seed']}" + (" (reference)" if run["reference"] else "")
            optimum, where = float(vals.min()), int(run["evaluations"][int(np.argmin(vals))])
    median = float(np.median(feasible))
    # not enumerated: the counts of the space are unknown (-1); one objective, so the front is the optimum
    ref = Reference(optimum=optimum, median=median, optimum_index=where, evaluable=-1, feasible=-1, within=-1,
                    front=np.array([[optimum]]), ideal=np.array([optimum]), nadir=np.array([optimum]),
                    front_hypervolume=0.0)
    main_runs = [r for r in runs if not r["reference"]]
    reference_runs = [r for r in runs if r["reference"]]
    out: dict[str, Any] = {
        "space": {"name": space.name, "size": space.size, "enumerable": False, "optimum": optimum,
                  "optimum_found_by": finder, "median": median,
                  "optimum_design": space.values_of(space.design_at(where)),
                  "objectives": [[o.metric, o.goal] for o in space.objectives],
                  "groups": {k: [space.parameters[i].name for i in v] for k, v in space.groups.items()},
                  "table_digest": table.digest},
        "sample": {"designs": len(indices), "evaluable": evaluable, "feasible": int(len(feasible)),
                   "best": float(feasible.min()), "median": median,
                   "share_within_1pct_of_optimum": float(np.mean(ref.hit(feasible)))},
        "reference": {"factor": REFERENCE_FACTOR, "budget": REFERENCE_FACTOR * max(budgets),
                      "runs": [{"label": r["label"], "seed": r["seed"], "evaluations": len(r["evaluations"]),
                                "best": float(best_of(r)[-1]) if r["values"] else None,
                                "regret": float(ref.regret(best_of(r)[-1])) if r["values"] else None,
                                "seconds": r["seconds"], "stop_reason": r["stop_reason"]} for r in reference_runs]},
        "agents": agent_entries(main_runs, ref, budgets, best_of)}
    return out


def compact(result: dict[str, Any]) -> dict[str, Any]:
    """The result without per-run curves: what docs/dse-bench/summary.json keeps."""
    spaces = {}
    for name, data in result["spaces"].items():
        agents = {label: {k: v for k, v in entry.items() if k != "runs"} |
                  {"stop_reasons": sorted({r["stop_reason"] for r in entry["runs"]}),
                   "diagnostics": entry["runs"][0].get("diagnostics", {}) if entry["runs"] else {}}
                  for label, entry in data["agents"].items()}
        spaces[name] = {k: v for k, v in data.items() if k not in ("agents", "random_exact_curve")} | {"agents": agents}
    return {k: v for k, v in result.items() if k != "spaces"} | {"spaces": spaces}


def markdown(result: dict[str, Any], budgets: tuple[int, ...]) -> str:
    """summary.md: per space, the regret and hypervolume tables (the renderers docs/ uses too)."""
    lines = []
    for name, data in result["spaces"].items():
        s = data["space"]
        if "reference" in data:  # too large to enumerate
            lines.append(f"### {name}: {s['size']:,} designs (not enumerable)\n")
            lines.append(large_space_note(result, name) + "\n")
            lines.append("Median normalised regret [bootstrap 95 % interval] (share of seeds within 1 %, "
                         "Wilson 95 % interval):\n")
            lines.append(regret_ci_table(result, name))
            continue
        lines.append(f"### {name}: {s['size']:,} designs, {s['evaluable']:,} evaluable, {s['within_1pct']} within 1 % "
                     f"of the optimum\n")
        lines.append("Median normalised regret (share of seeds within 1 % of the optimum):\n")
        lines.append(regret_table(result, name))
        if len(s["objectives"]) > 1:
            lines.append("Median hypervolume ratio (found / true front):\n")
            lines.append(hypervolume_table(result, name))
        ex, exact = data["exhaustive"], data["random_exact"]
        lines.append(f"Exhaustive: {ex['evaluations']:,} evaluations, optimum found: {ex['found_optimum']}"
                     + (f", hypervolume ratio {ex['hypervolume_ratio']:.3f}" if "hypervolume_ratio" in ex else "")
                     + ". Random search, expected regret (exact vs Monte Carlo): "
                     + ", ".join(f"{b}: {exact[str(b)]['expected_regret']:.4f} vs "
                                 f"{exact[str(b)]['monte_carlo_regret']:.4f}" for b in budgets) + ".\n")
    return "\n".join(lines)


def plots(result: dict[str, Any], budgets: tuple[int, ...], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    written = []
    for name, data in result["spaces"].items():
        labels = list(data["agents"])
        colours = {label: plt.cm.tab10(i % 10) for i, label in enumerate(labels)}
        fig, ax = plt.subplots(figsize=(8, 5))
        for label in labels:
            runs = data["agents"][label]["runs"]
            length = min(len(r["regret_curve"]) for r in runs)
            if length == 0:
                continue
            curves = np.array([[np.inf if v is None else v for v in r["regret_curve"][:length]] for r in runs])
            x = np.arange(1, length + 1)
            ax.plot(x, np.median(curves, axis=0), label=label, color=colours[label])
            ax.fill_between(x, np.quantile(curves, 0.25, axis=0), np.quantile(curves, 0.75, axis=0),
                            color=colours[label], alpha=0.12, linewidth=0)
        exact = data.get("random_exact_curve")
        if exact is not None:
            ax.plot(np.arange(1, len(exact) + 1), exact, "k--", linewidth=1, label="random, exact expectation")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-5)
        ax.set_ylim(0, 2)
        ax.set_xlabel("unique evaluations")
        ax.set_ylabel("normalised regret of the best so far (median, IQR)")
        ax.set_title(f"{name}: best so far")
        ax.legend(fontsize=8, ncol=2)
        ax.grid(alpha=0.3, which="both")
        path = out / f"{name}-best-so-far.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        for label in labels:
            cells = data["agents"][label]["budgets"]
            xs = [b for b in budgets if str(b) in cells]
            if not xs:
                continue
            med = [cells[str(b)]["regret"]["median"] for b in xs]
            lo = [cells[str(b)]["regret"]["q25"] for b in xs]
            hi = [cells[str(b)]["regret"]["q75"] for b in xs]
            left.errorbar(xs, med, yerr=[np.subtract(med, lo), np.subtract(hi, med)], marker="o", capsize=3,
                          label=label, color=colours[label])
            right.plot(xs, [cells[str(b)]["share_within_1pct"] for b in xs], marker="o", label=label,
                       color=colours[label])
        ex = data.get("random_exact")
        if ex is not None:
            left.plot(budgets, [ex[str(b)]["median_regret"] for b in budgets], "k--", label="random, exact median")
            right.plot(budgets, [ex[str(b)]["p_within_1pct"] for b in budgets], "k--", label="random, exact")
        for axis in (left, right):
            axis.set_xscale("log")
            axis.set_xticks(budgets, [str(b) for b in budgets])
            axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            axis.set_xlabel("budget (unique evaluations)")
            axis.grid(alpha=0.3)
        left.set_yscale("symlog", linthresh=1e-5)
        left.set_ylim(0, 2)
        left.set_ylabel("normalised regret (median, IQR)")
        right.set_ylabel("share of seeds within 1 % of the optimum")
        right.set_ylim(-0.02, 1.02)
        right.legend(fontsize=7)
        fig.suptitle(f"{name}: regret vs budget")
        fig.tight_layout()
        path = out / f"{name}-budgets.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="coarse spaces, 2 seeds, budgets 10 and 30")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per agent (default 20; quick: 2)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--batch", type=int, default=8, help="designs per round")
    parser.add_argument("--agents", default=",".join(AGENTS),
                        help="comma-separated labels: " + ", ".join(KNOWN) + f" (default: {', '.join(AGENTS)})")
    parser.add_argument("--spaces", default=None,
                        help="comma-separated benchmark spaces or space files (*.yaml; more than 1e6 designs: evaluated lazily)")
    parser.add_argument("--budgets", default=None,
                        help="comma-separated budgets (default 30,100,300,1000; quick: 10,30)")
    parser.add_argument("--no-caps", action="store_true", help="run tpe and gp to the largest budget too")
    parser.add_argument("--measured", type=Path, default=None,
                        help="folder of Kernel Tuner hub files (*.json.gz): adds their measured spaces (kt-*)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/dse")
    parser.add_argument("--cache", default=str(REPO / "build/dse-bench"), help="metric-table cache ('' = none)")
    parser.add_argument("--reference-seeds", type=int, default=1,
                        help=f"a large space's reference runs per agent, to {REFERENCE_FACTOR}x the largest budget")
    parser.add_argument("--fresh", action="store_true",
                        help=f"discard the runs kept in OUT/{JOURNAL} instead of resuming from them")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="redraw the summary and plots of a saved dse_agents.json into --out (no runs)")
    args = parser.parse_args(argv)
    if args.from_json is not None:
        result = json.loads(args.from_json.read_text())
        budgets_saved = tuple(result["settings"]["budgets"])
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "summary.md").write_text(markdown(result, budgets_saved))
        (args.out / "summary.json").write_text(json.dumps(compact(result), indent=1))
        for path in plots(result, budgets_saved, args.out):
            print(f"wrote {path}")
        return result

    budgets = tuple(sorted(int(b) for b in args.budgets.split(","))) if args.budgets else \
        (QUICK_BUDGETS if args.quick else BUDGETS)
    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 20)
    if args.measured is not None:
        if not args.measured.is_dir():
            parser.error(f"--measured {args.measured}: not a folder")
        os.environ[HUB_ENV] = str(args.measured.resolve())  # the worker processes inherit it
    spaces = args.spaces.split(",") if args.spaces else list_bench_spaces(quick=args.quick,
                                                                           measured=args.measured is not None)
    labels = [a for a in args.agents.split(",") if a]
    unknown = [a for a in labels if a not in KNOWN]
    if unknown:
        parser.error(f"unknown agents {unknown}; known: {', '.join(KNOWN)}")
    cache = args.cache or None
    started = time.perf_counter()
    large: set[str] = set()
    for name in spaces:  # enumerate (or read) every table once, before the workers need it
        try:
            space, text = bench_space(name)
        except (ValueError, OSError) as error:  # ConfigError is a ValueError: it names the file and field
            parser.error(f"--spaces {name}: {error}")
        if not is_enumerable(space):
            large.add(name)
            print(f"{name}: {space.size:,} designs, too many to enumerate: evaluated as agents ask", flush=True)
            continue
        t0 = time.perf_counter()
        load_table(space, text, cache)
        print(f"{name}: {space.size:,} designs, table in {time.perf_counter() - t0:.1f} s", flush=True)
    tasks = []
    for name in spaces:
        for label in labels:
            cap = max(budgets)
            if not (args.no_caps or args.quick):
                cap = cap_of(label, name, cap)
            for seed in range(seeds):
                tasks.append((name, label, KNOWN[label][0], seed, cap, args.batch, cache, False))
            reference = REFERENCE_FACTOR * max(budgets)
            if name in large and (args.no_caps or cap_of(label, name, reference) == reference):
                tasks += [(name, label, KNOWN[label][0], 10_000 + s, reference, args.batch, cache, True)
                          for s in range(args.reference_seeds)]
    # the longest first (reference runs, then the costly agents), so the workers finish together
    tasks.sort(key=lambda t: (not t[7], COST_ORDER.index(t[1]) if t[1] in COST_ORDER else len(COST_ORDER)))
    digests = {name: table_digest(*bench_space(name)) for name in spaces}
    journal = args.out / JOURNAL
    if args.fresh and journal.exists():
        journal.unlink()
    done = read_journal(journal)
    keys = [task_key(t, digests) for t in tasks]
    kept = {k: done[k] for k in keys if k in done}
    todo = [t for t, k in zip(tasks, keys) if k not in kept]
    if kept:
        print(f"{len(kept)} runs read back from {journal}, {len(todo)} to go", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with journal.open("a") as log:
        def finished(task: tuple[str, str, str, int, int, int, str | None, bool], run: dict[str, Any]) -> None:
            kept[task_key(task, digests)] = run  # kept at once: a killed benchmark resumes from the runs it finished
            log.write(json.dumps({"key": task_key(task, digests), "run": run}) + "\n")
            log.flush()
            os.fsync(log.fileno())
            print(f"  {run['space']} {run['label']} seed {run['seed']}: {len(run['evaluations'])} evaluations, "
                  f"{run['seconds']:.1f} s" + (" (reference)" if run["reference"] else ""), flush=True)
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                futures = {pool.submit(_run, t): t for t in todo}
                for future in as_completed(futures):
                    finished(futures[future], future.result())
        else:
            for task in todo:
                finished(task, _run(task))
    runs = [kept[k] for k in keys]
    budgets_of = tuple(b for b in budgets)
    result: dict[str, Any] = {
        "settings": {"quick": args.quick, "seeds": seeds, "budgets": list(budgets_of), "batch": args.batch,
                     "caps": {f"{label}@{name}": cap_of(label, name, max(budgets)) for name in spaces
                              for label in labels if cap_of(label, name, max(budgets)) < max(budgets)}
                     if not (args.no_caps or args.quick) else {},
                     "agents": {label: {"agent": KNOWN[label][0], "options": KNOWN[label][1]} for label in labels},
                     "jobs": args.jobs, "reference_factor": REFERENCE_FACTOR, "reference_seeds": args.reference_seeds,
                     "sample": SAMPLE},
        "spaces": {name: analyse_large(name, [r for r in runs if r["space"] == name], budgets_of)
                   if name in large else
                   analyse(name, [r for r in runs if r["space"] == name], budgets_of, cache,
                           2000 if args.quick else 20000) for name in spaces},
    }
    result["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / ".dse_agents.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, args.out / "dse_agents.json")
    text = markdown(result, budgets_of)
    (args.out / "summary.md").write_text(text)
    (args.out / "summary.json").write_text(json.dumps(compact(result), indent=1))
    written = plots(result, budgets_of, args.out)
    print(text)
    print(f"wrote {args.out / 'dse_agents.json'}, {args.out / 'summary.md'}, " + ", ".join(p.name for p in written))
    print(f"total {result['seconds']:.0f} s")
    return result


if __name__ == "__main__":
    main()
