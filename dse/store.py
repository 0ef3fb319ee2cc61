"""The job store: one SQLite file per job (WAL, one transaction per row).

Tables:

* ``meta(key, value)``: the space (YAML text and the directory its relative paths resolve
  against), agent, seed, budget, batch, agent options, status and stop reason, as JSON values;
* ``rows``: one row per design an agent proposed, appended as its evaluation completes —
  ``step`` (the ask/tell round) and ``slot`` (position in that round's batch) identify it;
  ``status`` is ``ok`` (evaluated), ``failed`` (the evaluator raised; ``error`` says what) or
  ``infeasible`` (rejected by a constraint before evaluation); ``feasible`` also reflects
  constraints on evaluated metrics; ``cached`` rows repeat a design evaluated earlier (no
  evaluator call). Evaluations = rows that are not cached and not infeasible.
* ``checkpoints(step, state, evaluations, stalled)``: the agent's JSON state after the tell of
  round ``step - 1`` (only the latest is kept).

A process killed at any moment leaves every committed row and the last checkpoint intact; WAL
mode makes each commit durable and readers never see half a row.
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from accelerators.errors import ConfigError

SCHEMA_VERSION: Final = 1
STATUSES: Final = ("ok", "failed", "infeasible")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    step INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    agent TEXT NOT NULL,
    seed INTEGER NOT NULL,
    design_key TEXT NOT NULL,
    design TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'infeasible')),
    feasible INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    objectives TEXT NOT NULL,
    violation REAL NOT NULL,
    violated TEXT NOT NULL,
    error TEXT,
    eval_s REAL NOT NULL,
    agent_s REAL NOT NULL,
    wall REAL NOT NULL,
    UNIQUE (step, slot)
);
CREATE INDEX IF NOT EXISTS rows_key ON rows (design_key, cached);
CREATE TABLE IF NOT EXISTS checkpoints (
    step INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    evaluations INTEGER NOT NULL,
    stalled INTEGER NOT NULL,
    wall REAL NOT NULL
);
"""


def count_rows(path: str | Path) -> int:
    """Rows in the job file at ``path``, read-only and safe while a job writes it (0 when the file
    or its table does not exist yet): what a watcher polls."""
    if not Path(path).exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)


@dataclass(frozen=True)
class Row:
    """One design's log entry. ``objectives`` maps objective metric -> raw value (ok rows)."""

    step: int
    slot: int
    agent: str
    seed: int
    key: str
    design: dict[str, Any]
    status: str
    feasible: bool
    cached: bool
    metrics: dict[str, float] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=dict)
    violation: float = 0.0
    violated: tuple[str, ...] = ()
    error: str | None = None
    eval_s: float = 0.0
    agent_s: float = 0.0
    wall: float = 0.0
    seq: int | None = None

    @property
    def evaluated(self) -> bool:
        """Whether this row cost an evaluator call (counts against the budget)."""
        return not self.cached and self.status != "infeasible"

    def comparable(self) -> tuple:
        """Everything but timings and arrival order: equal for equal runs on any backend."""
        return (self.step, self.slot, self.agent, self.seed, self.key, self.status, self.feasible, self.cached,
                _dumps(self.metrics), _dumps(self.objectives), round(self.violation, 12), self.violated, self.error)


@dataclass(frozen=True)
class Checkpoint:
    step: int
    state: dict[str, Any]
    evaluations: int
    stalled: int


class JobStore:
    """A job's SQLite file. Open with :meth:`create` (new job) or :meth:`open` (existing)."""

    def __init__(self, path: Path, connection: sqlite3.Connection):
        self.path = path
        self._db = connection

    # --- opening -----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, meta: Mapping[str, Any]) -> "JobStore":
        path = Path(path)
        if path.exists():
            raise ConfigError(str(path), "--out", str(path),
                              "a file that does not exist yet (continue a job with `moearch dse resume`)")
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(path, cls._connect(path))
        with store._tx() as db:
            # One statement at a time: executescript() would commit outside this transaction.
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            rows = {"schema_version": SCHEMA_VERSION, "created": time.time(), "status": "running", **meta}
            db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [(k, _dumps(v)) for k, v in rows.items()])
        return store

    @classmethod
    def open(cls, path: str | Path) -> "JobStore":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(str(path), None, str(path), "an existing job file written by `moearch dse run`")
        try:
            store = cls(path, cls._connect(path))
        except sqlite3.DatabaseError as error:
            raise ConfigError(str(path), None, str(path), f"a moearch job file ({error})") from None
        try:
            version = store.meta().get("schema_version")
        except sqlite3.DatabaseError as error:
            store.close()
            raise ConfigError(str(path), None, str(path), f"a moearch job file ({error})") from None
        if version != SCHEMA_VERSION:
            store.close()
            raise ConfigError(str(path), "schema_version", version, f"a job file of schema version {SCHEMA_VERSION}")
        return store

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "JobStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- meta --------------------------------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta")}

    def set_meta(self, **values: Any) -> None:
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                           [(k, _dumps(v)) for k, v in values.items()])

    # --- rows --------------------------------------------------------------------------------
    def append(self, row: Row) -> None:
        """Append one row in its own transaction."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO rows (step, slot, agent, seed, design_key, design, status, feasible, cached, metrics, "
                "objectives, violation, violated, error, eval_s, agent_s, wall) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row.step, row.slot, row.agent, row.seed, row.key, _dumps(row.design), row.status, int(row.feasible),
                 int(row.cached), _dumps(row.metrics), _dumps(row.objectives),
                 row.violation if math.isfinite(row.violation) else 1e308, _dumps(list(row.violated)), row.error,
                 row.eval_s, row.agent_s, row.wall or time.time()))

    _COLUMNS: Final = ("seq, step, slot, agent, seed, design_key, design, status, feasible, cached, metrics, "
                       "objectives, violation, violated, error, eval_s, agent_s, wall")

    @staticmethod
    def _row(r: tuple) -> Row:
        return Row(seq=r[0], step=r[1], slot=r[2], agent=r[3], seed=r[4], key=r[5], design=json.loads(r[6]),
                   status=r[7], feasible=bool(r[8]), cached=bool(r[9]), metrics=json.loads(r[10]),
                   objectives=json.loads(r[11]), violation=r[12], violated=tuple(json.loads(r[13])), error=r[14],
                   eval_s=r[15], agent_s=r[16], wall=r[17])

    def rows(self) -> list[Row]:
        """Every row, in (step, slot) order."""
        cur = self._db.execute(f"SELECT {self._COLUMNS} FROM rows ORDER BY step, slot")
        return [self._row(r) for r in cur]

    def rows_for_step(self, step: int) -> dict[int, Row]:
        cur = self._db.execute(f"SELECT {self._COLUMNS} FROM rows WHERE step = ? ORDER BY slot", (step,))
        return {row.slot: row for row in map(self._row, cur)}

    def lookup(self, key: str) -> Row | None:
        """The first non-cached row of design ``key`` (the result a cache hit repeats)."""
        cur = self._db.execute(f"SELECT {self._COLUMNS} FROM rows WHERE design_key = ? AND cached = 0 "
                               "ORDER BY step, slot LIMIT 1", (key,))
        found = cur.fetchone()
        return self._row(found) if found else None

    def evaluations(self, before_step: int | None = None) -> int:
        """Unique evaluator calls (rows neither cached nor infeasible), optionally before a round."""
        sql = "SELECT COUNT(*) FROM rows WHERE cached = 0 AND status != 'infeasible'"
        args: tuple = ()
        if before_step is not None:
            sql += " AND step < ?"
            args = (before_step,)
        return int(self._db.execute(sql, args).fetchone()[0])

    def distinct_designs(self) -> int:
        return int(self._db.execute("SELECT COUNT(DISTINCT design_key) FROM rows").fetchone()[0])

    # --- checkpoints -------------------------------------------------------------------------
    def checkpoint(self, step: int, state: Mapping[str, Any], evaluations: int, stalled: int) -> None:
        """Save the agent state reached after round ``step - 1``; older checkpoints are dropped."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO checkpoints (step, state, evaluations, stalled, wall) "
                       "VALUES (?, ?, ?, ?, ?)", (step, _dumps(dict(state)), evaluations, stalled, time.time()))
            db.execute("DELETE FROM checkpoints WHERE step < ?", (step,))

    def latest_checkpoint(self) -> Checkpoint | None:
        found = self._db.execute("SELECT step, state, evaluations, stalled FROM checkpoints "
                                 "ORDER BY step DESC LIMIT 1").fetchone()
        if found is None:
            return None
        return Checkpoint(step=found[0], state=json.loads(found[1]), evaluations=found[2], stalled=found[3])
