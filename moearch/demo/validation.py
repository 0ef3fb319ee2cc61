"""Step 2 of the demo: the serving simulation against measured engines (the parity plot and the
per-group errors of ``moearch validate`` on the development set, aiconfigurator's H100 silicon rows)."""
from __future__ import annotations

import os
from pathlib import Path

from archmodel.parity import parity_plot
from archmodel.validate import validate
from moearch.cli.common import atomic_write
from moearch.demo.progress import Note, silent

#: where a checkout finds the development set (the project's shared data sets beside the checkout)
DEV_SET = Path("..") / "shared" / "datasets" / "aic-silicon" / "h100-measured.csv"
#: the quick demo simulates every QUICK_EVERY-th row of the file
QUICK_EVERY = 10


def measured_file(given: Path | None) -> Path | None:
    """``given``, else ``$MOEARCH_MEASURED``, else the development set beside the checkout, if it exists."""
    if given is not None:
        return given
    env = os.environ.get("MOEARCH_MEASURED")
    candidate = Path(env) if env else DEV_SET
    return candidate if candidate.is_file() else None


def run(out: Path, quick: bool, measured: Path | None = None, note: Note = silent) -> dict:
    """Validate the measured rows (every ``QUICK_EVERY``-th with ``quick``); write ``parity.png``."""
    path = measured_file(measured)
    if path is None:
        return {"available": False, "looked_for": str(DEV_SET), "env": "MOEARCH_MEASURED"}
    every = QUICK_EVERY if quick else 1
    note(f"simulating the measured rows of {path.name}" + (f" (every {every}th)" if every > 1 else ""))
    report = validate(path, every=every)
    atomic_write(out / "parity.png", lambda p: parity_plot(report, p))
    data = report.to_json()
    return {"available": True, "file": str(path), "every": every, "simulated": data["simulated"],
            "skipped": data["skipped"], "groups": data["groups"]}
