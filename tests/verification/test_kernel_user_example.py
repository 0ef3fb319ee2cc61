"""docs/verification.md, "Testing a generated kernel from pytest": the two files of the example,
taken from the page, run with pytest as a user project would (its own conftest enabling the
plugin), sharing this session's simulator build cache."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from verification.pytest_plugin import ensure_simulator

DOC = Path(__file__).resolve().parents[2] / "docs" / "verification.md"


def _example_files() -> dict[str, str]:
    section = DOC.read_text().split("### Testing a generated kernel from pytest", 1)[1]
    section = section.split("\n### ", 1)[0]
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, flags=re.S):
        first = block.splitlines()[0]
        assert first.startswith("# ") and first.endswith(".py"), first
        files[first[2:]] = block
    return files


def test_the_documented_example_runs(pytester: pytest.Pytester, request: pytest.FixtureRequest,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for sim in ("verilator", "icarus"):
        ensure_simulator(sim)
    files = _example_files()
    assert set(files) == {"test_my_kernel.py", "cocotb_my_kernel.py"}
    for name, text in files.items():
        (pytester.path / name).write_text(text)
    pytester.makeconftest('pytest_plugins = ["verification.pytest_plugin"]\n')
    for var in ("CI", "MOEARCH_REQUIRE_SIMULATORS"):
        monkeypatch.delenv(var, raising=False)
    from verification.pytest_plugin import _SESSION_KEY

    root = request.config.stash[_SESSION_KEY].build_root
    result = pytester.runpytest_subprocess(f"--moearch-build-root={root}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
