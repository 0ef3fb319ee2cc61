"""moearch as a user gets it: the wheel, built from this checkout and unpacked outside it.

The unpacked wheel is run with the test environment's third-party packages (``python -S`` with the
environment's site-packages on ``PYTHONPATH``, so no download and no second copy of torch) but
without the checkout: ``-S`` keeps the editable install's import hook out, and the current
directory is a fresh temporary one. A module or data file the wheel lacks fails here.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


#: never copied into the build: the environment, VCS data, caches and build outputs of this checkout
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "demo-report", "*.egg-info", "__pycache__", ".*_cache",
                              ".hypothesis", "sim_build", "*.db")


def build_wheel(dist: Path) -> Path:
    """The wheel of a clean copy of the checkout (an in-tree build would reuse ``build/lib``, where a
    module deleted from the source lives on and would ship)."""
    source = dist.parent / "source"
    shutil.copytree(REPO, source, ignore=SKIP, symlinks=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(source)], check=True, capture_output=True, text=True)
    wheels = sorted(dist.glob("moearch-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def unpack(wheel: Path, site: Path) -> Path:
    """What an installer does with a pure-Python wheel: its files under site-packages."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def installed_env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]])
    return env


def run_installed(site: Path, cwd: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """``moearch ARGS`` from the unpacked wheel, in ``cwd``."""
    return subprocess.run([sys.executable, "-S", "-m", "moearch.cli.main", *args], cwd=cwd, env=installed_env(site),
                          capture_output=True, text=True, timeout=timeout)
