"""Run and resume exploration jobs: agent rounds, evaluation through a backend, one row per design.

A round: ``agent.ask(n)`` (``n = min(batch, budget - evaluations)``), answer repeats from the
store (``cached`` rows), evaluate the new designs in chunks of ``chunk`` through the backend,
append each row as its chunk completes, ``agent.tell`` the round in slot order, checkpoint the
agent state. The job stops when the budget of unique evaluations is spent, the agent has
nothing more to propose, or ``patience`` rounds in a row proposed only designs seen before.

Resume after a kill (even SIGKILL): the agent is rebuilt from the last checkpoint (round ``k``)
and asks round ``k`` again — the same designs, because agents keep their randomness in the state
or derive it from (seed, round). Slots of round ``k`` already in the store are taken from it (no
re-evaluation, no duplicate row); the rest are evaluated. A finished resumed job therefore has
the same rows as an uninterrupted one (timings and arrival order aside).
"""
from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelerators.errors import ConfigError

from .agents import Agent, Observation, make_agent
from .backends import Backend, InlineBackend
from .evaluation import Evaluation, chunked, minimised
from .space import Space
from .space_file import load_space, parse_space
from .store import JobStore, Row

Progress = Callable[[int, int, "dict[str, float] | None"], None]


@dataclass(frozen=True)
class JobSettings:
    """How a job runs (stored in the job file, reused on resume)."""

    agent: str
    seed: int
    budget: int
    batch: int = 8
    chunk: int = 8
    patience: int = 20
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("budget", "batch", "chunk", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(None, f"--{name}", value, "a whole number >= 1")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(None, "--seed", self.seed, "a whole number >= 0")


@dataclass(frozen=True)
class JobSummary:
    path: str
    agent: str
    seed: int
    evaluations: int
    rows: int
    infeasible: int
    failed: int
    cached: int
    best: dict[str, float] | None
    best_design: dict[str, Any] | None
    stop_reason: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def best_row(space: Space, rows: Sequence[Row]) -> Row | None:
    """The best feasible evaluated row: lexicographically smallest minimised objectives (the first
    objective decides, later ones break ties); the earliest such row wins a full tie."""
    best, best_key = None, None
    for row in rows:
        if row.status != "ok" or not row.feasible or row.cached:
            continue
        key = minimised(space, row.objectives)
        if best_key is None or key < best_key:
            best, best_key = row, key
    return best


def summarise(path: str | Path, space: Space, meta: Mapping[str, Any], rows: Sequence[Row]) -> JobSummary:
    best = best_row(space, rows)
    return JobSummary(
        path=str(path), agent=meta["agent"], seed=meta["seed"], evaluations=sum(r.evaluated for r in rows),
        rows=len(rows), infeasible=sum(r.status == "infeasible" and not r.cached for r in rows),
        failed=sum(r.status == "failed" and not r.cached for r in rows), cached=sum(r.cached for r in rows),
        best=dict(best.objectives) if best else None, best_design=dict(best.design) if best else None,
        stop_reason=str(meta.get("stop_reason", "running")))


def _row(step: int, slot: int, agent: Agent, key: str, design: dict, ev: Evaluation, agent_s: float) -> Row:
    return Row(step=step, slot=slot, agent=agent.name, seed=agent.seed, key=key, design=design, status=ev.status,
               feasible=ev.feasible, cached=False, metrics=ev.metrics, objectives=ev.objectives,
               violation=ev.violation, violated=ev.violated, error=ev.error, eval_s=ev.eval_s, agent_s=agent_s,
               wall=time.time())


def _cached(prior: Row, step: int, slot: int, agent_s: float) -> Row:
    return Row(step=step, slot=slot, agent=prior.agent, seed=prior.seed, key=prior.key, design=prior.design,
               status=prior.status, feasible=prior.feasible, cached=True, metrics=prior.metrics,
               objectives=prior.objectives, violation=prior.violation, violated=prior.violated, error=prior.error,
               eval_s=0.0, agent_s=agent_s, wall=time.time())


def _observation(space: Space, design: tuple[int, ...], row: Row) -> Observation:
    objectives = minimised(space, row.objectives) if row.status == "ok" else None
    return Observation(design=design, status=row.status, objectives=objectives, violation=row.violation,
                       cached=row.cached)


class _Best:
    """Best-so-far tracker for progress reports."""

    def __init__(self, space: Space, rows: Sequence[Row]):
        self.space = space
        self.row = best_row(space, rows)

    def update(self, row: Row) -> None:
        candidate = best_row(self.space, [r for r in (self.row, row) if r is not None])
        self.row = candidate

    @property
    def objectives(self) -> dict[str, float] | None:
        return dict(self.row.objectives) if self.row else None


def _drive(store: JobStore, space: Space, agent: Agent, settings: JobSettings, backend: Backend,
           progress: Progress | None) -> str:
    checkpoint = store.latest_checkpoint()
    if checkpoint is None:
        step, stalled, evaluations = 0, 0, 0
    else:
        agent.load_state_dict(checkpoint.state)
        step, stalled, evaluations = checkpoint.step, checkpoint.stalled, checkpoint.evaluations
    best = _Best(space, store.rows())
    done = store.evaluations()
    if progress:
        progress(done, settings.budget, best.objectives)
    while True:
        if evaluations >= settings.budget:
            return "budget"
        if stalled >= settings.patience:
            return "stalled"
        n = min(settings.batch, settings.budget - evaluations)
        started = time.perf_counter()
        designs = [space.check(d) for d in agent.ask(n)]
        if not designs:
            return "exhausted"
        agent_s = (time.perf_counter() - started) / len(designs)
        keys = [space.key(d) for d in designs]
        rows: list[Row | None] = [None] * len(designs)
        for slot, stored in store.rows_for_step(step).items():
            if slot >= len(designs) or stored.key != keys[slot]:
                raise RuntimeError(f"{store.path}: round {step} slot {slot} holds {stored.key} but the resumed agent "
                                   f"proposed {keys[slot] if slot < len(keys) else 'nothing'}; the agent did not "
                                   "replay deterministically")
            rows[slot] = stored

        def record(row: Row, rows: list[Row | None] = rows) -> None:  # this round's rows, bound now
            nonlocal done
            store.append(row)
            rows[row.slot] = row
            best.update(row)
            done += row.evaluated
            if progress:
                progress(done, settings.budget, best.objectives)

        first: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        to_evaluate: list[int] = []
        for slot, key in enumerate(keys):
            if key in first:  # a repeat within this round: answered once the first is evaluated
                if rows[slot] is None:
                    repeats.append((slot, first[key]))
                continue
            first[key] = slot
            if rows[slot] is not None:
                continue
            prior = store.lookup(key)
            if prior is not None:
                record(_cached(prior, step, slot, agent_s))
            else:
                to_evaluate.append(slot)
        groups = chunked(to_evaluate, settings.chunk)
        for index, evaluations_of_chunk in backend.map_chunks(space, [[designs[s] for s in g] for g in groups]):
            for slot, ev in zip(groups[index], evaluations_of_chunk):
                record(_row(step, slot, agent, keys[slot], space.values_of(designs[slot]), ev, agent_s))
        for slot, original in repeats:
            source = rows[original]
            assert source is not None
            record(_cached(source, step, slot, agent_s))
        complete = [r for r in rows if r is not None]
        assert len(complete) == len(designs)
        agent.tell([_observation(space, d, r) for d, r in zip(designs, complete)])
        evaluations += sum(r.evaluated for r in complete)
        stalled = 0 if any(not r.cached for r in complete) else stalled + 1
        step += 1
        store.checkpoint(step, agent.state_dict(), evaluations, stalled)


def _create_store(out: Path, meta: Mapping[str, Any]) -> JobStore:
    """Create the job file under a temporary name and rename it into place once initialised."""
    out = Path(out)
    if out.exists():
        raise ConfigError(str(out), "--out", str(out),
                          "a file that does not exist yet (continue a job with `moearch dse resume`)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        JobStore.create(tmp, meta).close()
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, f"{tmp}-wal", f"{tmp}-shm"):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return JobStore.open(out)


def default_budget(space_path: str | Path, agent: str) -> int:
    """The budget a job may leave out: the exhaustive agent's is the whole space (every design once);
    any other agent needs one (``ConfigError``)."""
    if agent != "exhaustive":
        raise ConfigError(None, "--budget", None,
                          "unique evaluations to spend (a whole number >= 1); only --agent exhaustive needs none")
    return load_space(space_path).size


def run_job(space_path: str | Path, out: str | Path, settings: JobSettings, backend: Backend | None = None,
            progress: Progress | None = None) -> JobSummary:
    """Start a new job exploring the space in ``space_path``; the job file is ``out``."""
    space_path = Path(space_path)
    space = load_space(space_path)
    agent = make_agent(settings.agent, space, settings.seed, **dict(settings.options))
    meta = {"space_yaml": space_path.read_text(encoding="utf-8"), "space_dir": str(space_path.resolve().parent),
            "space_source": str(space_path), "space_name": space.name, "fingerprint": space.fingerprint,
            "agent": settings.agent, "seed": settings.seed, "budget": settings.budget, "batch": settings.batch,
            "chunk": settings.chunk, "patience": settings.patience, "options": dict(settings.options),
            "objectives": [[o.metric, o.goal] for o in space.objectives]}
    with _create_store(Path(out), meta) as store:
        return _finish(store, space, agent, settings, backend, progress)


def load_job_space(store: JobStore) -> Space:
    """The space a job was started with (its stored YAML text)."""
    meta = store.meta()
    space = parse_space(meta["space_yaml"], source=f"{store.path} (space {meta['space_source']})",
                        base_dir=Path(meta["space_dir"]))
    if space.fingerprint != meta["fingerprint"]:
        raise ConfigError(str(store.path), "fingerprint", space.fingerprint,
                          f"the stored space's fingerprint {meta['fingerprint']} (a model or device file it refers to "
                          "changed since the job started)")
    return space


def job_settings(meta: Mapping[str, Any]) -> JobSettings:
    return JobSettings(agent=meta["agent"], seed=meta["seed"], budget=meta["budget"], batch=meta["batch"],
                       chunk=meta["chunk"], patience=meta["patience"], options=meta["options"])


def resume_job(path: str | Path, backend: Backend | None = None, progress: Progress | None = None) -> JobSummary:
    """Continue the job in ``path`` from its last checkpoint (a finished job is only summarised)."""
    with JobStore.open(path) as store:
        meta = store.meta()
        space = load_job_space(store)
        settings = job_settings(meta)
        if meta.get("status") == "done":
            return summarise(path, space, meta, store.rows())
        agent = make_agent(settings.agent, space, settings.seed, **dict(settings.options))
        return _finish(store, space, agent, settings, backend, progress)


def _finish(store: JobStore, space: Space, agent: Agent, settings: JobSettings, backend: Backend | None,
            progress: Progress | None) -> JobSummary:
    own = backend is None
    backend = backend or InlineBackend()
    try:
        reason = _drive(store, space, agent, settings, backend, progress)
    finally:
        if own:
            backend.close()
    store.set_meta(status="done", stop_reason=reason, finished=time.time())
    return summarise(store.path, space, store.meta(), store.rows())
