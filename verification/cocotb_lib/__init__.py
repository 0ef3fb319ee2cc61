"""Reusable cocotb 2.x parts: clock/reset, valid/ready stream driver and monitor, scoreboard,
a weight-memory model, payload codecs and metrics a test records for the runner.

See ``docs/verification.md``.
"""
from verification.cocotb_lib.clock import drive_inputs, reset, start_clock
from verification.cocotb_lib.memory import MemoryModel
from verification.cocotb_lib.metrics import current_test_name, read_metrics, record_metric
from verification.cocotb_lib.payload import codec, to_python
from verification.cocotb_lib.ports import Port, load_ports, parse_ports
from verification.cocotb_lib.scoreboard import (MISSING, Mismatch, Scoreboard, ScoreboardError,
                                                compare)
from verification.cocotb_lib.streams import Beat, StreamDriver, StreamMonitor, StreamSignals

__all__ = [
    "MISSING", "Beat", "MemoryModel", "Mismatch", "Port", "Scoreboard", "ScoreboardError",
    "StreamDriver", "StreamMonitor", "StreamSignals", "codec", "compare", "current_test_name",
    "drive_inputs", "load_ports", "parse_ports", "read_metrics", "record_metric", "reset",
    "start_clock", "to_python",
]
