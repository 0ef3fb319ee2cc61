"""The demo's validation step: parity plot and per-group errors of the measured rows, or a clear note."""
from __future__ import annotations

from pathlib import Path

import pytest

from moearch.demo import sections, validation

ROWS = ("model,device,engine,isl,osl,concurrency,tp,ep,ttft_ms,tpot_ms\n"
        "llama-3.1-8b,h100-sxm,trtllm,512,64,4,1,1,40,8\n"
        "llama-3.1-8b,h100-sxm,trtllm,512,64,8,1,1,45,9\n"
        "llama-3.1-8b,h100-sxm,vllm,512,64,4,1,1,42,8.5\n"
        "not-a-model,h100-sxm,vllm,512,64,4,1,1,42,8.5\n")


def test_the_step_validates_writes_the_parity_plot_and_a_table(tmp_path: Path):
    measured = tmp_path / "m.csv"
    measured.write_text(ROWS)
    data = validation.run(tmp_path, quick=False, measured=measured)
    assert data["available"] and data["every"] == 1 and (data["simulated"], data["skipped"]) == (3, 1)
    assert [g["group"] for g in data["groups"]] == ["llama-3.1-8b / trtllm", "llama-3.1-8b / vllm"]
    assert (tmp_path / "parity.png").stat().st_size > 1000
    (section,) = sections.validation_sections(data, tmp_path)
    page = section.html()
    assert "llama-3.1-8b / trtllm" in page and "TPOT MAPE" in page and "data:image/png;base64" in page


def test_quick_takes_every_tenth_row(tmp_path: Path):
    measured = tmp_path / "m.csv"
    header, row = ROWS.splitlines()[:2]
    measured.write_text("\n".join([header] + [row] * 25) + "\n")
    data = validation.run(tmp_path, quick=True, measured=measured)
    assert data["every"] == validation.QUICK_EVERY and data["simulated"] + data["skipped"] == 3  # rows 1, 11, 21


def test_without_a_data_set_the_section_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MOEARCH_MEASURED", raising=False)
    data = validation.run(tmp_path, quick=True)
    assert data == {"available": False, "looked_for": str(validation.DEV_SET), "env": "MOEARCH_MEASURED"}
    (section,) = sections.validation_sections(data, tmp_path)
    assert "MOEARCH_MEASURED" in section.html() and not (tmp_path / "parity.png").exists()
