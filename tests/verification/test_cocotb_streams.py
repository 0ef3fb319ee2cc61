"""verification.cocotb_lib.streams (with clock, payload and metrics) inside a simulator:
the Requantizer driven with struct payloads; the FIFO runs in test_runner.py exercise the
driver, monitor, reset and memory model on both simulators."""
from __future__ import annotations

from pathlib import Path

from verification.cocotb_lib.streams import StreamSignals


def test_stream_signal_names_follow_amaranth() -> None:
    assert StreamSignals.amaranth("i") == StreamSignals("i__payload", "i__valid", "i__ready")
    custom = StreamSignals("s_tdata", "s_tvalid", "s_tready")
    assert StreamSignals.of(custom) is custom and StreamSignals.of("o").valid == "o__valid"


def test_driver_monitor_codec_on_the_requantizer(sim_build_root: Path) -> None:
    """Struct payloads through codec, golden agreement, latency 3 measured from beat times."""
    from fifo_bench import REPO
    from designs import write_verilog

    from codegen.hdl.requantizer import Requantizer
    from verification.pytest_plugin import ensure_simulator
    from verification.runner import DesignSources, build_and_run

    ensure_simulator("icarus")  # the cheap build; Verilator runs the same parts in test_runner
    src = write_verilog(Requantizer(2), "requantizer2", REPO / "build" / "tests" / "verification")
    run = build_and_run(DesignSources("requantizer2", (src,)), "icarus",
                        Path(__file__).with_name("cocotb_requantizer_tests.py"),
                        build_root=sim_build_root, seed=99)
    assert run.passed, run.summary()
    assert [t.name for t in run.tests] == ["matches_golden_under_backpressure",
                                           "latency_is_three_cycles"]
    assert run.test("latency_is_three_cycles").metrics == {"latency_cycles": 3.0}
