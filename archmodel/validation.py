"""Published serving measurements and the model's estimate of each (tests and docs share this)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from accelerators.catalog import load_device
from accelerators.schema import Efficiency

from .precision import Precision
from .serve import serve
from .workloads import load_workload


@dataclass(frozen=True)
class ValidationRow:
    metric: str  # "throughput" (output tokens/s/device) or "ttft_ms"
    batch: int
    isl: int
    osl: int
    measured: float
    modelled: float
    bottleneck: str

    @property
    def error(self) -> float:
        """Signed relative error (model - measured) / measured."""
        return (self.modelled - self.measured) / self.measured


def read_rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def evaluate_rows(path: Path, workload: str, device: str, dtype: str, device_override=None) -> list[ValidationRow]:
    """Model every row of a golden CSV (columns metric, batch, isl, osl, measured)."""
    model = load_workload(workload)
    dev = device_override or load_device(device)
    precision = Precision.of(dtype)
    out = []
    for row in read_rows(path):
        batch, isl, osl = int(row["batch"]), int(row["isl"]), int(row["osl"])
        r = serve(model, dev, isl=isl, osl=osl, batch=batch, precision=precision)
        value = r.output_tokens_per_s_per_device if row["metric"] == "throughput" else r.ttft_s * 1e3
        out.append(ValidationRow(row["metric"], batch, isl, osl, float(row["measured"]), value, r.bottleneck))
    return out


def plain_roofline(device):
    """The same device with no efficiency losses: peak compute and bandwidth, no launch cost, unit tiles."""
    return device.model_copy(update={
        "efficiency": Efficiency(matmul=1.0, memory=1.0, kernel_overhead="0 us"),
        "compute": device.compute.model_copy(update={"tile": (1, 1)}),
    })
