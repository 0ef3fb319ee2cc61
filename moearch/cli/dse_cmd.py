"""``moearch dse``: run, resume and report design-space exploration jobs; check spaces."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from accelerators.errors import ConfigError
from dse.agents import AGENTS
from dse.backends import BACKENDS, make_backend
from dse.evaluation import evaluator_for
from dse.job import JobSettings, default_budget, resume_job, run_job
from dse.report import load_jobs, write_report
from dse.space import pre_constraints
from dse.space_file import load_space
from moearch.cli.common import flag_names, renamed

stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
stdout = Console(width=None if sys.stdout.isatty() else 160)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _best_text(best: dict[str, float] | None) -> str:
    if not best:
        return "best: -"
    return "best: " + ", ".join(f"{k}={_fmt(v)}" for k, v in best.items())


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(None, "--option", pair, "KEY=VALUE, e.g. population=32")
        options[key.strip()] = yaml.safe_load(value)
    return options


def _backend_options(f):
    f = click.option("--workers", type=int, default=None,
                     help="Worker processes (process) or CPUs of a local Ray (ray). Default: up to 4.")(f)
    f = click.option("--address", default=None, help="Ray cluster address (with --backend ray), e.g. auto or "
                     "ray://head:10001.")(f)
    f = click.option("--backend", type=click.Choice(BACKENDS), default="inline", show_default=True,
                     help="Where designs are evaluated.")(f)
    return f


def _run_with_progress(fn, budget_hint: int, quiet: bool):
    if quiet:
        return fn(None)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
               TextColumn("evals"), TimeElapsedColumn(), TextColumn("{task.fields[best]}", markup=False,
                          table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")))
    with Progress(*columns, console=stderr, transient=False, expand=True) as bar:
        task = bar.add_task("exploring", total=budget_hint, best="best: -")

        def progress(done: int, budget: int, best: dict[str, float] | None) -> None:
            bar.update(task, completed=done, total=budget, best=_best_text(best))

        return fn(progress)


def _print_summary(summary, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
        return
    table = Table(title=f"job {summary.path}", show_header=False)
    for key in ("agent", "seed", "evaluations", "rows", "infeasible", "failed", "cached", "stop_reason"):
        table.add_row(key, str(getattr(summary, key)))
    table.add_row("best", _best_text(summary.best).removeprefix("best: "))
    table.add_row("best design", json.dumps(summary.best_design) if summary.best_design else "-")
    stdout.print(table)


@click.group("dse")
def dse() -> None:
    """Design-space exploration: agents search a YAML design space; jobs live in one SQLite file."""


@dse.command("run")
@click.argument("space", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--agent", required=True, help="random, exhaustive, ga, tpe, gp, ppo, marl (see `moearch dse agents`); "
              "marl takes --option policy=shared|independent.")
@click.option("--budget", type=int, default=None,
              help="Unique evaluations to spend. Required, except with --agent exhaustive (default: every design).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The job file to create (SQLite). Required.")
@renamed("--out", "--output", "out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--designs-per-round", "batch", type=int, default=8, show_default=True,
              help="Designs the agent proposes per round.")
@renamed("--batch", "--designs-per-round", "batch", type=int)
@click.option("--chunk", type=int, default=8, show_default=True, help="Designs per evaluation task.")
@click.option("--patience", type=int, default=20, show_default=True,
              help="Stop after this many rounds that proposed only designs seen before.")
@click.option("--option", "options", multiple=True, help="Agent option KEY=VALUE (repeatable).")
@_backend_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run_cmd(space, agent, budget, seed, out, batch, chunk, patience, options, backend, address, workers, quiet,
            as_json):
    """Explore SPACE with an agent; every evaluation is appended to the job file as it completes."""

    if out is None:
        raise ConfigError(None, "--output", None, "the job file to create (-o/--output JOB.db)")
    with flag_names(**{"--batch": "--designs-per-round", "--out": "--output"}):
        if budget is None:
            budget = default_budget(space, agent)
        settings = JobSettings(agent=agent, seed=seed, budget=budget, batch=batch, chunk=chunk, patience=patience,
                               options=_parse_options(options))
        with make_backend(backend, address=address, workers=workers) as engine:
            summary = _interruptible(out, lambda progress: run_job(space, out, settings, engine, progress),
                                     budget, quiet)
    _print_summary(summary, as_json)


@dse.command("resume")
@click.argument("job", type=click.Path(dir_okay=False, path_type=Path))
@_backend_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def resume_cmd(job, backend, address, workers, quiet, as_json):
    """Continue JOB from its last checkpoint without re-evaluating a stored design."""

    with make_backend(backend, address=address, workers=workers) as engine:
        summary = _interruptible(job, lambda progress: resume_job(job, engine, progress), 0, quiet)
    _print_summary(summary, as_json)


def _interruptible(path: Path, fn, budget: int, quiet: bool):
    try:
        return _run_with_progress(fn, budget, quiet)
    except KeyboardInterrupt:
        click.echo(f"interrupted; every finished evaluation is saved. Continue with: moearch dse resume {path}",
                   err=True)
        sys.exit(130)


@dse.command("report")
@click.argument("jobs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the Markdown/HTML summary and PNGs.")
@renamed("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--top", type=int, default=10, show_default=True, help="Best designs listed per job.")
@click.option("--json", "as_json", is_flag=True, help="Print per-job results as JSON.")
def report_cmd(jobs, out_dir, top, as_json):
    """Pareto front, best-so-far curves and best designs of one or more jobs."""

    loaded = load_jobs(jobs)
    if out_dir is None and not as_json:
        raise ConfigError(None, "--out", None, "an output directory (--out DIR), or --json")
    if out_dir is not None:
        written = write_report(loaded, out_dir, top=top)
        if not as_json:
            for path in written:
                click.echo(str(path))
    if as_json:
        click.echo(json.dumps([job.summary_json() for job in loaded], indent=2))


@dse.command("check")
@click.argument("space", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the parsed space as JSON.")
def check_cmd(space, as_json):
    """Validate a space file and show its parameters, groups, constraints and metrics."""

    s = load_space(space)
    evaluator = evaluator_for(s)
    early = {c.text for c in pre_constraints(s, evaluator.precheck_metrics)}
    table = None if s.table is None else {"path": s.table.path, "format": s.table.format}
    if as_json:
        click.echo(json.dumps({
            "name": s.name, "domain": s.domain, "base_device": s.base_device, "table": table, "size": s.size,
            "parameters": [{"name": p.name, "values": list(p.values), "agent": p.agent, "target": p.target,
                            "path": p.path} for p in s.parameters],
            "groups": {k: [s.parameters[i].name for i in v] for k, v in s.groups.items()},
            "constraints": [{"text": c.text, "before_evaluation": c.text in early} for c in s.constraints],
            "objectives": [{"metric": o.metric, "goal": o.goal} for o in s.objectives],
            "metrics": dict(evaluator.metrics)}, indent=2))
        return
    source = f"table {s.table.name}" if s.table else f"domain {s.domain}, base {Path(s.base_device or '').name}"
    shown = Table(title=f"{s.name}: {s.size:,} designs, {source}")
    for column in ("parameter", "agent", "target", "values"):
        shown.add_column(column)
    for p in s.parameters:
        values = ", ".join(map(str, p.values)) if p.size <= 8 else \
            f"{', '.join(map(str, p.values[:3]))}, ... {p.values[-1]} ({p.size})"
        shown.add_row(p.name, p.agent, f"{p.target}.{p.path}" if p.target == "device" else p.target, values)
    stdout.print(shown)
    for c in s.constraints:
        stdout.print(escape(f"constraint  {c.text}  ({'before' if c.text in early else 'after'} evaluation)"))
    for o in s.objectives:
        stdout.print(escape(f"objective   {o.goal} {o.metric}  [{evaluator.metrics[o.metric]}]"))


@dse.command("agents")
def agents_cmd():
    """List the agents and their options."""

    table = Table(title="agents")
    for column in ("name", "description", "options"):
        table.add_column(column)
    for name in sorted(AGENTS):
        cls = AGENTS[name]
        table.add_row(name, cls.description, "; ".join(f"{k}: {v}" for k, v in cls.options.items()) or "-")
    stdout.print(table)
