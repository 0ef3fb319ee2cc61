"""The tables in docs/ that come from benchmark JSON, regenerated between markers.

A generated table sits between two comment lines in a Markdown file::

    <!-- generated: dse-regret docs/dse-bench/summary.json fpga-kernel-fine -->
    | agent | 30 | ... |
    <!-- end generated -->

``kind`` names the renderer, then the JSON file (relative to the repository) and the renderer's
arguments. ``python benchmarks/docs_tables.py`` rewrites every such block in docs/*.md from its
JSON; ``--check`` only reports blocks that differ (tests/test_docs_tables.py runs it, so a table
typed or edited by hand fails the tests). The same renderers write the benchmark's own summary
(``benchmarks/dse_agents.py``), so the docs and the summary cannot drift apart.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from archmodel.formatting import si

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- generated: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def fmt_regret(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:.3f}" if abs(x) >= 0.001 else f"{x:.1e}"


def _agents(result: dict[str, Any], space: dict[str, Any]) -> list[str]:
    """Agent labels in the order the run was configured (its settings), then any others."""
    configured = list(result.get("settings", {}).get("agents", {}))
    return [a for a in configured if a in space["agents"]] + [a for a in space["agents"] if a not in configured]


def _label(result: dict[str, Any], label: str, with_options: bool) -> str:
    if not with_options:
        return label
    options = result["settings"]["agents"].get(label, {}).get("options", {})
    shown = " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items()
                     if k != "policy")
    return f"{label} (`{shown}`)" if shown else label


def regret_table(result: dict[str, Any], space_name: str, *, seconds: bool = True, options: bool = False) -> str:
    """Median normalised regret (share of seeds within 1 % of the optimum) per agent and budget, the
    exact random-search row, and the median seconds per run."""
    space = result["spaces"][space_name]
    budgets = [str(b) for b in result["settings"]["budgets"]]
    head = "| agent | " + " | ".join(budgets) + (" | s/run |" if seconds else " |")
    lines = [head, "|---|" + "---|" * (len(budgets) + (1 if seconds else 0))]
    for label in _agents(result, space):
        entry = space["agents"][label]
        cells = []
        for b in budgets:
            cell = entry["budgets"].get(b)
            cells.append("—" if cell is None else f"{fmt_regret(cell['regret']['median'])} "
                                                 f"({cell['share_within_1pct']:.0%})")
        tail = f" | {entry['seconds']['median']:.1f} |" if seconds else " |"
        lines.append(f"| {_label(result, label, options)} | " + " | ".join(cells) + tail)
    exact = space.get("random_exact")  # absent on a space too large to enumerate
    if exact is not None:
        lines.append("| random, exact | " + " | ".join(
            f"{fmt_regret(exact[b]['median_regret'])} ({exact[b]['p_within_1pct']:.0%})" for b in budgets)
            + (" | |" if seconds else " |"))
    return "\n".join(lines) + "\n"


def regret_ci_table(result: dict[str, Any], space_name: str) -> str:
    """Median normalised regret [bootstrap 95 % interval] and share of seeds within 1 % [Wilson 95 %
    interval] per agent and budget, and the median seconds per run."""
    space = result["spaces"][space_name]
    budgets = [str(b) for b in result["settings"]["budgets"]]
    lines = ["| agent | " + " | ".join(budgets) + " | s/run |", "|---|" + "---|" * (len(budgets) + 1)]
    for label in _agents(result, space):
        entry = space["agents"][label]
        cells = []
        for b in budgets:
            cell = entry["budgets"].get(b)
            if cell is None:
                cells.append("—")
                continue
            lo, hi = cell["regret"]["median_ci95"]
            slo, shi = cell["share_ci95"]
            cells.append(f"{fmt_regret(cell['regret']['median'])} [{fmt_regret(lo)}, {fmt_regret(hi)}] "
                         f"({cell['share_within_1pct']:.0%}, {slo:.0%}-{shi:.0%})")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {entry['seconds']['median']:.1f} |")
    exact = space.get("random_exact")  # enumerable spaces: random search's exact median and probability
    if exact is not None:
        lines.append("| random, exact | " + " | ".join(
            f"{fmt_regret(exact[b]['median_regret'])} ({exact[b]['p_within_1pct']:.0%})" for b in budgets) + " | |")
    return "\n".join(lines) + "\n"


def large_space_note(result: dict[str, Any], space_name: str) -> str:
    """How a space too large to enumerate was referenced: its reference runs, optimum and sample."""
    data = result["spaces"][space_name]
    ref, sample, s = data["reference"], data["sample"], data["space"]
    runs = ", ".join(f"{r['label']} {r['best']:.6g} ({r['evaluations']:,} evaluations, regret "
                     f"{fmt_regret(r['regret'])})" for r in ref["runs"])
    return (f"Reference: the best design any run found, {s['optimum']:.6g} (minimised {s['objectives'][0][0]}), "
            f"by {s['optimum_found_by']}. Reference runs to {ref['budget']:,} evaluations "
            f"({ref['factor']}x the largest budget): {runs}. Median: of the {sample['feasible']:,} feasible designs "
            f"of a uniform sample of {sample['designs']:,} ({sample['evaluable']:,} of them evaluable), "
            f"{sample['median']:.6g}; the sample's best {sample['best']:.6g}, "
            f"{sample['share_within_1pct_of_optimum']:.2%} of its feasible designs within 1 % of the reference.\n")


def hypervolume_table(result: dict[str, Any], space_name: str) -> str:
    """Median hypervolume ratio (found front / true front) per agent and budget."""
    space = result["spaces"][space_name]
    budgets = [str(b) for b in result["settings"]["budgets"]]
    lines = ["| agent | " + " | ".join(budgets) + " |", "|---|" + "---|" * len(budgets)]
    for label in _agents(result, space):
        entry = space["agents"][label]["budgets"]
        cells = ["—" if b not in entry else f"{entry[b]['hypervolume_ratio']['median']:.3f}" for b in budgets]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def validate_groups_table(report: dict[str, Any]) -> str:
    """``moearch validate --json``: per group (model / engine) the rows, MAPE and mean signed error."""
    lines = ["| group | rows | TTFT MAPE | TPOT MAPE | tok/s MAPE | TTFT bias | TPOT bias | tok/s bias |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for g in report["groups"]:
        m, b = g["mape"], g["mean_error"]
        lines.append(f"| {g['group']} | {g['rows']} | {m['ttft_ms']:.1%} | {m['tpot_ms']:.1%} | {m['tokens_per_s']:.1%} "
                     f"| {b['ttft_ms']:+.1%} | {b['tpot_ms']:+.1%} | {b['tokens_per_s']:+.1%} |")
    return "\n".join(lines) + "\n"


def validate_concurrency_table(report: dict[str, Any], metric: str) -> str:
    """Mean signed error of ``metric`` per aggregated group and client concurrency (how the error moves
    with load); disaggregated groups, whose pools differ from row to row, are left out."""
    rows = [r for r in report["rows"] if not r["group"].endswith(" disagg")]
    levels = sorted({r["concurrency"] for r in rows})
    lines = ["| group | " + " | ".join(f"c={c}" for c in levels) + " |", "|---|" + "---:|" * len(levels)]
    for g in report["groups"]:
        if g["group"].endswith(" disagg"):
            continue
        cells = []
        for c in levels:
            errs = [r[f"{metric}_error"] for r in rows if r["group"] == g["group"] and r["concurrency"] == c]
            cells.append(f"{sum(errs) / len(errs):+.0%} ({len(errs)})" if errs else "—")
        lines.append(f"| {g['group']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def validate_skipped_table(report: dict[str, Any]) -> str:
    """The rows ``moearch validate`` did not simulate, counted by reason."""
    counts: dict[str, int] = {}
    for row in report["skipped_rows"]:
        reason = row["reason"].split(" of line ")[0]
        counts[reason] = counts.get(reason, 0) + 1
    lines = ["| reason | rows |", "|---|---:|"]
    lines += [f"| {reason} | {n} |" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines) + "\n"


def _lead(text: str) -> str:
    """The citation up to its first comma or semicolon outside parentheses (the work, not the figures)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch in ",;" and depth == 0:
            return text[:i]
    return text


def _count(x: float) -> str:
    """``70.55e9`` -> ``70.6B``."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def device_catalog_table(devices: list[dict[str, Any]]) -> str:
    """``moearch devices --json``: per chip, dense peaks by datatype, every memory tier, the
    scale-up link (per direction x domain), TDP, the peak's source."""
    lines = ["| device | kind | chips | dense peak per chip | memory tiers (capacity, read bandwidth) "
             "| scale-up (per direction x domain) | TDP | peak from |", "|---|---|---:|---|---|---|---:|---|"]
    for d in devices:
        unit = {"int8": "OPS", "int4": "OPS"}
        peaks = ", ".join(f"{k} {si(v, unit.get(k, 'FLOPS'))}" for k, v in d["peak"].items() if k != "fp32")
        tiers = ", ".join(f"{t['name']} {si(t['capacity'], 'B')} ({si(t['read_bandwidth'], 'B/s')})"
                          for t in d["memory"])
        up = d["scale_up"]
        link = "-" if up is None else f"{up['name']}, {si(up['bandwidth'], 'B/s')} x {up['domain'] or 1}"
        tdp = f"{d['tdp']:.0f} W" if d["tdp"] else "-"
        source = _lead(d["peak_source"]) + (f" (extends {d['extends']})" if d["extends"] else "")
        lines.append(f"| `{d['name']}` | {d['kind']} | {d['chips']} | {peaks} | {tiers} | {link} | {tdp} | {source} |")
    return "\n".join(lines) + "\n"


def _attention_text(m: dict[str, Any]) -> str:
    a = m["attention"]
    if a["kind"] == "mla":
        text = f"MLA, {a['heads']} heads, kv_lora {a['kv_lora_rank']} + rope {a['rope_dim']}"
    elif a["kind"] == "mha":
        text = f"MHA {a['heads']}"
    else:
        text = f"GQA {a['heads']} q / {a['kv_heads']} kv"
    if a["kind"] != "mla" and a["head_dim"] * a["heads"] != m["hidden"]:
        text += f", head {a['head_dim']}"
    text += ", q/k norm" if a["qk_norm"] else ""
    text += ", sinks" if a["sinks"] else ""
    if m["windowed_layers"]:
        text += f"; window {m['sliding_window']} on {m['windowed_layers']} of {m['layers']} layers"
    return text


def workload_catalog_table(models: list[dict[str, Any]]) -> str:
    """``moearch workloads --json``: the shape of every built-in model and where it comes from."""
    lines = ["| name | layers | hidden | attention | experts / top-k | params total / active | KV B/tok (fp16) "
             "| source |", "|---|---|---|---|---|---|---|---|"]
    for m in models:
        layers = str(m["layers"])
        if m["dense_layers"] and m["moe_layers"]:
            layers += f" ({m['dense_layers']} dense + {m['moe_layers']} MoE)"
        moe = m["moe"]
        if moe is None:
            ffn = m["dense_ffn"]
            experts = f"dense ({'SwiGLU' if ffn['gated'] else m['hidden_act'].split('_')[0].upper()}, {ffn['intermediate']})"
        else:
            experts = f"{moe['experts']} / {moe['top_k']}"
            if moe["shared"]:
                experts += f", +{moe['shared']} shared"
                if moe["shared_intermediate"] != moe["intermediate"]:
                    experts += f" ({moe['shared_intermediate']})"
        params = f"{_count(m['total_params'])} / {_count(m['active_params'])}"
        lines.append(f"| `{m['name']}` | {layers} | {m['hidden']} | {_attention_text(m)} | {experts} | {params} "
                     f"| {m['kv_bytes_per_token_fp16']} | {m['source']} |")
    return "\n".join(lines) + "\n"


def fuzz_counts_table(result: dict[str, Any]) -> str:
    """``tests/fuzz_run.py``: per input surface, inputs tried, accepted (exit 0), refused (exit 2
    with the error naming the input) and failures of the property, with the run's date."""
    lines = ["| surface | inputs | accepted | refused | failures | seconds | run |", "|---|---|---|---|---|---|---|"]
    for s in result["surfaces"].values():
        lines.append(f"| {s['surface']}: {s['doc']} | {s['inputs']:,} | {s['accepted']:,} | {s['refused']:,} "
                     f"| {s['failures']:,} | {s['seconds']:,.0f} | {s['date']} |")
    return "\n".join(lines) + "\n"


def fuzz_failures_table(result: dict[str, Any]) -> str:
    """Every kind of failure the latest fuzz run found, per surface (none: the property held)."""
    rows = [(s["surface"], k) for s in result["surfaces"].values() for k in s["kinds"]]
    if not rows:
        return "No failure in the latest run.\n"
    lines = ["| surface | failure | inputs | first input |", "|---|---|---|---|"]
    for surface, k in rows:
        args = " ".join(k["example"]["args"]).replace("|", "\\|")
        problem = k["problem"].replace("|", "\\|")
        lines.append(f"| {surface} | {problem} | {k['count']:,} | `{args}` |")
    return "\n".join(lines) + "\n"


def dse_rtl_table(result: dict[str, Any]) -> str:
    """``benchmarks/dse_rtl.py``: the RTL job on Ray, uninterrupted and under SIGKILL, and whether
    the interrupted job's rows equal the uninterrupted one's."""
    lines = [f"{result['budget']} evaluations of `{result['space']}`, agent {result['agent']} (seed {result['seed']}), "
             f"{result['backend']}, each run with an empty kernel cache; measured {result['date']}.", "",
             "| run | wall s | evaluations | rows | failed | designs measured in RTL | kernels measured | kills |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name in ("uninterrupted", "interrupted"):
        r = result[name]
        kills = "-"
        if name == "interrupted":
            w, d = r["worker_killed"], r["driver_killed"]
            kills = (f"Ray worker at {w['at_s']:.0f} s (mid-measurement, {w['rows']} rows); driver at {d['at_s']:.0f} s "
                     f"({d['rows']} rows); `dse resume` took {r['resume_s']:.0f} s")
        lines.append(f"| {name} | {r['wall_s']:.0f} | {r['evaluations']} | {r['rows']} | {r['failed']} "
                     f"| {r['rtl_designs']} | {r['kernels_measured']} | {kills} |")
    lines += ["", f"Rows of the interrupted job equal the uninterrupted job's (design, status, metrics, objectives): "
              f"**{'yes' if result['same_rows'] else 'no'}**."]
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[..., str]] = {
    "dse-rtl": dse_rtl_table,
    "fuzz-counts": fuzz_counts_table,
    "fuzz-failures": fuzz_failures_table,
    "device-catalog": device_catalog_table,
    "workload-catalog": workload_catalog_table,
    "validate-groups": validate_groups_table,
    "validate-concurrency": validate_concurrency_table,
    "validate-skipped": validate_skipped_table,
    "dse-regret": lambda result, space: regret_table(result, space),
    "dse-regret-options": lambda result, space: regret_table(result, space, seconds=False, options=True),
    "dse-hypervolume": hypervolume_table,
    "dse-regret-ci": regret_ci_table,
    "dse-large-note": large_space_note,
}


def render(spec: str, root: Path = REPO) -> str:
    """The table a marker's ``kind json-file args...`` asks for."""
    kind, source, *args = spec.split()
    if kind not in RENDERERS:
        raise ValueError(f"unknown generated-table kind {kind!r}; known: {', '.join(RENDERERS)}")
    return RENDERERS[kind](json.loads((root / source).read_text(encoding="utf-8")), *args)


def regenerate(text: str, root: Path = REPO) -> str:
    return BLOCK.sub(lambda m: m.group(1) + render(m.group("spec"), root) + m.group(4), text)


def stale_blocks(paths: Sequence[Path], root: Path = REPO) -> list[str]:
    """``file: spec`` of every generated block whose text differs from what its JSON gives."""
    stale = []
    for path in paths:
        for m in BLOCK.finditer(path.read_text(encoding="utf-8")):
            if m.group("body") != render(m.group("spec"), root):
                stale.append(f"{path.relative_to(root)}: {m.group('spec')}")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report stale tables, write nothing (exit 1 if any)")
    args = parser.parse_args(argv)
    docs = sorted((REPO / "docs").rglob("*.md"))
    if args.check:
        stale = stale_blocks(docs)
        print("\n".join(stale) or "every generated table matches its JSON")
        return 1 if stale else 0
    for path in docs:
        text = path.read_text(encoding="utf-8")
        new = regenerate(text)
        if new != text:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(new, encoding="utf-8")
            os.replace(tmp, path)
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
