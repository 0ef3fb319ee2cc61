"""Named numbers a cocotb test records (cycles per stage, latencies) for the runner to collect.

Inside the simulator, :func:`record_metric` merges ``{test name: {metric: value}}`` into the JSON
file named by ``MOEARCH_METRICS_FILE`` (set by :func:`verification.runner.build_and_run`;
``moearch-metrics.json`` in the working directory otherwise). The runner reads it back with
:func:`read_metrics` and attaches each test's numbers to its result.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

__all__ = ["METRICS_ENV", "current_test_name", "read_metrics", "record_metric"]

METRICS_ENV = "MOEARCH_METRICS_FILE"
_DEFAULT_FILE = "moearch-metrics.json"


def current_test_name() -> str:
    """The name of the running cocotb test (as it appears in results.xml).

    cocotb 2.1 has no public accessor; this reads the regression manager's current test and
    raises ``RuntimeError`` (asking for an explicit ``test=``) if that ever changes.
    """
    try:
        from cocotb import regression

        return str(regression._manager_inst._test.name)  # noqa: SLF001 - no public API
    except (ImportError, AttributeError) as exc:
        raise RuntimeError("cannot tell the running cocotb test; pass test=<name> "
                           "to record_metric") from exc


def read_metrics(path: str | Path) -> dict[str, dict[str, float]]:
    """``{test: {metric: value}}`` from a metrics file; empty if the file does not exist."""
    p = Path(path)
    if not p.is_file():
        return {}
    raw = json.loads(p.read_text())
    return {str(t): {str(k): float(v) for k, v in m.items()} for t, m in raw.items()}


def record_metric(name: str, value: float, *, test: str | None = None) -> None:
    """Record ``name = value`` for ``test`` (default: the running test); the last value wins."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"metric {name!r} must be a finite number, got {value!r}")
    owner = test if test is not None else current_test_name()
    path = Path(os.environ.get(METRICS_ENV, _DEFAULT_FILE))
    data = read_metrics(path)
    data.setdefault(owner, {})[name] = number
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)
