"""The demo report's sections from hand-made step data: formatting and the notes a reader needs."""
from __future__ import annotations

from pathlib import Path

from moearch.demo.report import Table
from moearch.demo.sections import exploration_sections, kernel_sections


def _test(name: str) -> dict:
    return {"name": name, "passed": True}


def _kernel_data(sims: dict) -> dict:
    return {"spec": {"style": "intar", "pe": [8, 8], "layer": "mixtral-8x7b", "scale": 64, "hidden": 64,
                     "ffn": 224, "experts": 8, "top_k": 2, "gated": True, "tokens": 16},
            "predicted_cycles": 44129, "csim_bit_exact": True, "image": "schedule.png", "rtl_available": True,
            "rtl_message": None,
            "verify": {"lint": {"outcome": "passed"}, "simulators": sims,
                       "resources": {"data": {"rows": [
                           {"resource": "lut", "predicted": 19910.0, "measured": 20480.0, "error": 0.0286,
                            "target": "within 25%", "ok": True}]}}}}


def _html(sections) -> str:
    return "".join(s.html() for s in sections)


def test_a_simulator_that_ran_fewer_tests_is_explained(tmp_path: Path) -> None:
    (tmp_path / "schedule.png").write_bytes(b"\x89PNG")
    names = ("nominal_routing", "random_layers", "back_pressure")
    sims = {"verilator": {"tests": [_test(n) for n in names], "timing": None},
            "icarus": {"tests": [_test("nominal_routing")], "timing": None}}
    page = _html(kernel_sections(_kernel_data(sims), tmp_path))
    assert "not run on icarus" in page and "--sim icarus" in page
    assert page.count("<td>-</td>") == 2          # random_layers and back_pressure on Icarus
    assert "19,910" in page and "20,480" in page and "+2.9%" in page   # counts in full, not 1.991e+04


def test_no_note_when_every_simulator_ran_every_test(tmp_path: Path) -> None:
    (tmp_path / "schedule.png").write_bytes(b"\x89PNG")
    sims = {s: {"tests": [_test("nominal_routing")], "timing": None} for s in ("verilator", "icarus")}
    assert "not run on" not in _html(kernel_sections(_kernel_data(sims), tmp_path))


def test_dse_objectives_are_plain_numbers_not_si_prefixes(tmp_path: Path) -> None:
    job = {"agent": "marl", "evaluations": 150, "infeasible": 182, "cached": 0,
           "best": {"latency_s": 0.07353, "energy_j": 1.5612}, "best_design": {"pe_rows": 16}}
    data = {"objectives": ["latency_s", "energy_j"], "space": "fpga-moe-kernel", "budget": 150, "seed": 0,
            "jobs": [job], "images": []}
    page = _html(exploration_sections(data, tmp_path))
    assert "<td>0.07353</td>" in page and "<td>1.561</td>" in page and "73.5 m" not in page


def test_table_cells_format_counts_with_separators_and_fractions_to_four_digits() -> None:
    html = Table(("a", "b", "c", "d"), [(19910.0, 0.012345, 2.0, 123456.7)]).html()
    assert "<td>19,910</td><td>0.01235</td><td>2</td><td>123,457</td>" in html


def test_a_simulator_that_is_not_installed_is_named(tmp_path: Path) -> None:
    (tmp_path / "schedule.png").write_bytes(b"\x89PNG")
    data = _kernel_data({"verilator": {"tests": [_test("nominal_routing")], "timing": None}})
    data["missing_simulators"] = ["icarus"]
    assert "Not installed here, so not run: icarus" in _html(kernel_sections(data, tmp_path))
