"""Kill a real ``moearch`` process with SIGKILL once its job store has enough rows (the resume tests)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dse.store import count_rows

REPO = Path(__file__).resolve().parents[2]
__all__ = ["REPO", "count_rows", "kill_when"]


def kill_when(args: list[str], path: Path, rows: int) -> int:
    """Run ``moearch`` with ``args``; SIGKILL it once the job has ``rows`` rows; return the count then."""
    proc = subprocess.Popen([sys.executable, "-m", "moearch.cli.main", *args], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while count_rows(path) < rows:
            if proc.poll() is not None:
                raise AssertionError(f"finished before the kill: {proc.stderr.read().decode()}")
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return count_rows(path)
