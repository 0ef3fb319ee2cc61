"""The first screen of the report as a PNG, rendered by headless Chromium (``moearch demo --screenshot``).

The README's picture is this image of the full demo's report; ``tests/test_demo.py`` takes it of
the quick report with the same command.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from accelerators.errors import ConfigError

FIRST_SCREEN = (1280, 1500)  # width x height in CSS pixels: the summary and the first charts
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def first_screen(index: Path, png: Path, size: tuple[int, int] = FIRST_SCREEN) -> Path:
    """Render ``index`` (an HTML file) at ``size`` into ``png``, written atomically."""
    exe = find_chromium()
    if exe is None:
        raise ConfigError(None, "--screenshot", str(png), "Chromium installed (apt-get install chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="moearch-chromium-") as profile:
        tmp = png.parent / f".{png.name}.{os.getpid()}.tmp.png"
        try:
            proc = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
                                   f"--window-size={size[0]},{size[1]}", f"--screenshot={tmp}",
                                   index.resolve().as_uri()], capture_output=True, text=True, timeout=120)
            if proc.returncode != 0 or not tmp.is_file():
                raise RuntimeError(f"chromium could not render {index}: {proc.stderr.strip()[-500:]}")
            os.replace(tmp, png)
        finally:
            tmp.unlink(missing_ok=True)
    return png
