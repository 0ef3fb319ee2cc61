"""Shared fixtures: small spaces over the cluster adapter (fast: one compiled model)."""
from __future__ import annotations

from pathlib import Path

import pytest
from dse_fixtures import SMALL  # noqa: E402 - tests/dse is on sys.path (rootdir-relative imports)


@pytest.fixture
def small_space_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture
def small_space(small_space_file: Path):
    from dse.space_file import load_space
    return load_space(small_space_file)


@pytest.fixture
def write_space(tmp_path: Path):
    """Write a space YAML text to a file and return its path."""
    counter = iter(range(1000))

    def write(text: str) -> Path:
        path = tmp_path / f"space{next(counter)}.yaml"
        path.write_text(text)
        return path
    return write
