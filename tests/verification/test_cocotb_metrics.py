"""verification.cocotb_lib.metrics: the metrics side file a cocotb test writes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from verification.cocotb_lib.metrics import METRICS_ENV, read_metrics, record_metric


def test_metrics_merge_per_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "metrics.json"
    monkeypatch.setenv(METRICS_ENV, str(path))
    record_metric("cycles", 120, test="t1")
    record_metric("latency", 3.5, test="t1")
    record_metric("cycles", 7, test="t2")
    record_metric("cycles", 121, test="t1")  # the last value wins
    assert read_metrics(path) == {"t1": {"cycles": 121.0, "latency": 3.5}, "t2": {"cycles": 7.0}}
    assert json.loads(path.read_text())["t2"] == {"cycles": 7}
    with pytest.raises(ValueError, match="finite"):
        record_metric("bad", float("nan"), test="t1")
    assert read_metrics(tmp_path / "absent.json") == {}


def test_metrics_outside_a_cocotb_test_need_a_name(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(METRICS_ENV, str(tmp_path / "m.json"))
    with pytest.raises(RuntimeError, match="pass test=<name>"):
        record_metric("cycles", 1)
