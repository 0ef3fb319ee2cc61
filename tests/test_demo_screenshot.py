"""`moearch demo --screenshot`: refused before the job when Chromium is missing; the renderer writes
a PNG of the asked size atomically (the full check, on the demo's own report, is in test_demo.py)."""
from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from moearch.cli.main import cli
from moearch.demo import screenshot


def test_without_chromium_the_demo_is_refused_up_front(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("moearch.cli.demo_cmd.find_chromium", lambda: None)
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["demo", "--quick", "--out", str(out), "--screenshot", str(tmp_path / "s.png")])
    assert result.exit_code == 2, result.output
    assert "--screenshot" in result.output and "Chromium" in result.output
    assert not out.exists()  # nothing was run or written


def test_a_page_rendered_at_the_asked_size(tmp_path: Path) -> None:
    if screenshot.find_chromium() is None:  # in CI a missing browser fails, as in test_demo.py
        message = "chromium is not installed (apt-get install chromium; `make test` does it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    page = tmp_path / "index.html"
    page.write_text("<html><body><h1>moearch</h1></body></html>", encoding="utf-8")
    png = screenshot.first_screen(page, tmp_path / "shots" / "first.png", size=(640, 400))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (640, 400)
    assert [p.name for p in png.parent.iterdir()] == ["first.png"]  # no temporary file left
