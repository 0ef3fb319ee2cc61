"""`moearch validate`: the serving simulation against measured rows (table, JSON, CSV, parity plot).

Reads the aiconfigurator silicon CSV or our own schema (:mod:`archmodel.measured`), simulates each
aggregated row it can map (:mod:`archmodel.validate`) and prints the per-group error table, the
per-row listing and every row it did not simulate with the reason.
"""
from __future__ import annotations

import csv
from pathlib import Path

import click
from rich.table import Table

from archmodel.parity import parity_plot
from archmodel.validate import METRICS, ValidationReport, validate
from moearch.cli.common import atomic_write, console, json_option, print_json


def _ranges(lines: list[int]) -> str:
    """1, 2, 3, 7 -> '1-3, 7'."""
    out: list[str] = []
    start = prev = None
    for n in sorted(lines) + [None]:
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}-{prev}" if prev != start else f"{start}")
        start = prev = n
    return ", ".join(out)


def _write_csv(report: ValidationReport, path: Path) -> None:
    rows = [r.to_json() for r in report.rows] + [s.to_json() for s in report.skipped]
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    atomic_write(path, write)


def _print(report: ValidationReport) -> None:
    groups = Table(title=f"{report.file}: {len(report.rows)} rows simulated, {len(report.skipped)} not")
    for col in ("group", "rows", "TTFT MAPE", "TPOT MAPE", "tok/s MAPE", "TTFT bias", "TPOT bias", "tok/s bias"):
        groups.add_column(col, justify="left" if col == "group" else "right")
    for g in report.groups:
        groups.add_row(g.group, str(g.rows), *(f"{g.mape[m]:.1%}" for m in METRICS),
                       *(f"{g.mean_error[m]:+.1%}" for m in METRICS))
    console.print(groups)
    rows = Table(title="rows (error = predicted / measured - 1)")
    for col in ("line", "group", "isl/osl", "conc", "tp/ep", "TTFT ms meas", "pred", "err",
                "TPOT ms meas", "pred", "err", "tok/s err", "bound"):
        rows.add_column(col, justify="left" if col in ("group", "bound") else "right")
    for r in report.rows:
        row = r.row
        rows.add_row(str(row.line), r.group, f"{row.isl}/{row.osl}", str(row.concurrency), f"{row.tp}/{row.ep}",
                     f"{r.measured['ttft_ms']:.1f}", f"{r.predicted['ttft_ms']:.1f}", f"{r.error('ttft_ms'):+.0%}",
                     f"{r.measured['tpot_ms']:.2f}", f"{r.predicted['tpot_ms']:.2f}", f"{r.error('tpot_ms'):+.0%}",
                     f"{r.error('tokens_per_s'):+.0%}", r.bound)
    console.print(rows)
    by_reason: dict[str, list[int]] = {}
    for s in report.skipped:
        reason = s.reason.split(" of line ")[0] if s.reason.startswith("duplicate") else s.reason
        by_reason.setdefault(reason, []).append(s.row.line)
    if by_reason:
        skipped = Table(title="rows not simulated")
        skipped.add_column("reason")
        skipped.add_column("rows", justify="right")
        skipped.add_column("lines")
        for reason, lines in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            skipped.add_row(reason, str(len(lines)), _ranges(lines))
        console.print(skipped)


@click.command("validate")
@click.argument("measured", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--map", "map_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="YAML file mapping measured names to the catalog: models: {name: workload}, systems: {name: device}.")
@click.option("--requests", type=int, default=None,
              help="Requests simulated per row (default: ten per client, at least 100).")
@json_option
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV file to write: one line per row, simulated or not (with the reason).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="PNG parity plot to write (predicted vs measured, log axes, one colour per group).")
def validate_cmd(measured, map_file, requests, as_json, csv_out, output):
    """Simulate measured serving rows (aiconfigurator silicon CSV or our schema) and report the errors."""
    report = validate(measured, map_file, requests=requests)
    if csv_out is not None:
        _write_csv(report, csv_out)
    if output is not None:
        atomic_write(output, lambda tmp: parity_plot(report, tmp))
    if as_json:
        print_json(report.to_json())
    else:
        _print(report)
