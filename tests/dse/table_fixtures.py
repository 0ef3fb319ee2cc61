"""Hand-made table files for the table-space tests: an 8-row Kernel Tuner T4 file and an 8-row CSV.

Kernel Tuner file: configuration keys ``block_x`` (16, 32, 64), ``block_y`` (1, 2), ``unroll``
(0, 1) and a constant ``use_cmem`` (1): 12 designs, 8 rows — 6 measured correct, one failing to
compile, one failing at run time — so 4 designs are not in the table. Times in milliseconds.
"""
from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

# (block_x, block_y, unroll) -> (time ms, power W, compilation, framework, validation, runtimes)
CORRECT = {
    (16, 1, 0): (4.0, 250.0, 900.0, 100.0, 0.0, [4.0, 4.0]),
    (16, 1, 1): (3.0, 260.0, 1000.0, 50.0, 10.0, [3.0, 3.0, 3.0]),
    (16, 2, 0): (2.5, 270.0, 800.0, 20.0, 5.0, [2.5, 2.5]),
    (32, 1, 0): (1.5, 280.0, 1200.0, 30.0, 0.0, [1.5, 1.5]),
    (32, 2, 1): (1.25, 300.0, 1500.0, 40.0, 20.0, [1.25, 1.25, 1.25, 1.25]),
    (64, 1, 0): (2.0, 240.0, 700.0, 10.0, 0.0, [2.0, 2.0]),
}
INVALID = {(64, 2, 0): ("compile", "CompilationFailedConfig", 3000.0), (32, 2, 0): ("runtime", "RuntimeFailedConfig", 1100.0)}
ABSENT = [(16, 2, 1), (32, 1, 1), (64, 1, 1), (64, 2, 1)]


def expected_cost_s(config: tuple[int, int, int]) -> float:
    """eval_cost_s by hand: (compilation + framework + validation + sum(runtimes)) ms -> s."""
    _, _, compilation, framework, validation, runtimes = CORRECT[config]
    return (compilation + framework + validation + sum(runtimes)) / 1000


def kt_document() -> dict[str, Any]:
    results = []
    for (bx, by, unroll), (time, power, compilation, framework, validation, runtimes) in CORRECT.items():
        results.append({"timestamp": "2025-01-01 00:00:00+00:00",
                        "configuration": {"block_x": bx, "block_y": by, "unroll": unroll, "use_cmem": 1},
                        "times": {"compilation": compilation, "framework": framework, "search_algorithm": 7.0,
                                  "validation": validation, "runtimes": runtimes},
                        "invalidity": "correct", "correctness": 1,
                        "measurements": [{"name": "time", "value": time, "unit": ""},
                                         {"name": "power", "value": power, "unit": "W"}],
                        "objectives": ["time"]})
    for (bx, by, unroll), (why, value, compilation) in INVALID.items():
        results.insert(3, {"timestamp": "2025-01-01 00:00:00+00:00",
                           "configuration": {"block_x": bx, "block_y": by, "unroll": unroll, "use_cmem": 1},
                           "times": {"compilation": compilation, "framework": 2.0, "search_algorithm": 0,
                                     "validation": 0},
                           "invalidity": why, "correctness": 0,
                           "measurements": [{"name": "time", "value": value, "unit": ""}], "objectives": ["time"]})
    return {"schema_version": "1.0.0", "metadata": {"timeunit": "miliseconds"}, "results": results}


def write_kt(directory: Path, name: str = "kt.json", document: dict[str, Any] | None = None,
             compress: bool = False) -> Path:
    text = json.dumps(document if document is not None else kt_document())
    path = directory / name
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def mutated(change) -> dict[str, Any]:
    """A copy of the Kernel Tuner document after ``change(document)``."""
    document = copy.deepcopy(kt_document())
    change(document)
    return document


def kt_space(table: str = "kt.json", extra: str = "") -> str:
    return f"""
name: kt-fixture
evaluator: table
table: {{path: {table}, format: kernel-tuner}}
objectives: [{{metric: time_s, goal: min}}]
{extra}"""


# CSV: block_x (16, 32, 64) x layout (row, col) x unroll (0, 1) = 12 designs, 8 rows: 6 valid, one
# invalid without a reason (valid = 0), one failing to compile; a column the space does not use.
CSV = """block_x,layout,unroll,time_s,power_w,valid,note
16,row,0,0.004,250,1,first
16,col,0,0.0035,255,true,
32,row,0,0.002,270,yes,
32,col,1,0.0015,290,correct,best
64,row,1,0.003,240,TRUE,
64,col,0,,245,1,time not measured
16,row,1,,,0,
32,row,1,,,compile,
"""
CSV_VALID = {(16, "row", 0): (0.004, 250.0), (16, "col", 0): (0.0035, 255.0), (32, "row", 0): (0.002, 270.0),
             (32, "col", 1): (0.0015, 290.0), (64, "row", 1): (0.003, 240.0)}


def csv_space(table: str = "points.csv", objective: str = "power_w", extra: str = "") -> str:
    return f"""
name: csv-fixture
evaluator: table
table: {{path: {table}, format: csv, parameters: [block_x, layout, unroll], metrics: {{time_s: s, power_w: W}}}}
objectives: [{{metric: {objective}, goal: min}}]
{extra}"""
