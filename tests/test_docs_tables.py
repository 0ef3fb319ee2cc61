"""Every table in docs/ that comes from benchmark JSON is what that JSON gives (benchmarks/docs_tables.py)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from moearch.cli.main import cli

REPO = Path(__file__).resolve().parents[1]
# Loaded from its file: benchmarks/ must not go on sys.path, where its codegen.py would shadow the
# codegen package in every process spawned later in the session.
_SPEC = importlib.util.spec_from_file_location("docs_tables", REPO / "benchmarks" / "docs_tables.py")
assert _SPEC is not None and _SPEC.loader is not None
docs_tables = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(docs_tables)

DOCS = sorted((REPO / "docs").rglob("*.md"))


def test_there_are_generated_tables() -> None:
    assert sum(len(docs_tables.BLOCK.findall(p.read_text(encoding="utf-8"))) for p in DOCS) >= 4


def test_every_generated_table_matches_its_json() -> None:
    stale = docs_tables.stale_blocks(DOCS)
    assert not stale, f"regenerate with `python benchmarks/docs_tables.py`: {stale}"


def test_a_hand_edit_is_caught(tmp_path: Path) -> None:
    doc = REPO / "docs" / "dse.md"
    edited = tmp_path / "docs" / "dse.md"
    edited.parent.mkdir()
    text = doc.read_text(encoding="utf-8")
    block = docs_tables.BLOCK.search(text)
    assert block is not None
    body = block.group("body")
    edited.write_text(text.replace(body, body.replace("|", "| 0.2 |", 1), 1), encoding="utf-8")
    for data in (REPO / "docs").iterdir():  # the JSON the blocks are generated from
        if data.is_dir():
            (tmp_path / "docs" / data.name).symlink_to(data)
    assert docs_tables.stale_blocks([edited], root=tmp_path) == [f"docs/dse.md: {block.group('spec')}"]


def test_the_hypervolume_table_has_ratios_not_seconds() -> None:
    """The defect this module replaced: a column of seconds pasted into the hypervolume table."""
    result = docs_tables.json.loads((REPO / "docs/dse-bench/summary.json").read_text())
    table = docs_tables.hypervolume_table(result, "fpga-kernel-fine")
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")[1:]]
        assert all(c == "—" or 0.0 <= float(c) <= 1.0 for c in cells), row


@pytest.mark.parametrize("spec", ["nonsense docs/dse-bench/summary.json x"])
def test_an_unknown_kind_is_an_error(spec: str) -> None:
    with pytest.raises(ValueError, match="unknown generated-table kind"):
        docs_tables.render(spec)


@pytest.mark.parametrize("command, data", [("devices", "devices.json"), ("workloads", "workloads.json")])
def test_the_catalog_tables_come_from_the_current_catalog(command: str, data: str) -> None:
    """docs/catalog-data/*.json is what `moearch devices|workloads --json` prints today (a device or
    workload file changed without regenerating fails here)."""
    result = CliRunner().invoke(cli, [command, "--json"])
    assert result.exit_code == 0, result.output
    stored = json.loads((REPO / "docs" / "catalog-data" / data).read_text(encoding="utf-8"))
    assert json.loads(result.output) == stored, (
        f"regenerate: moearch {command} --json > docs/catalog-data/{data}; python benchmarks/docs_tables.py")


def test_the_interval_table_keeps_the_exact_random_row_where_there_is_one() -> None:
    cell = {"regret": {"median": 0.25, "median_ci95": [0.125, 0.5]}, "share_within_1pct": 0.5, "share_ci95": [0.25, 0.75]}
    space = {"agents": {"ga": {"budgets": {"30": cell}, "seconds": {"median": 1.5}}},
             "random_exact": {"30": {"median_regret": 0.375, "p_within_1pct": 0.125}}}
    result = {"settings": {"budgets": [30], "agents": {"ga": {}}}, "spaces": {"s": space}}
    lines = docs_tables.regret_ci_table(result, "s").splitlines()
    assert lines[2] == "| ga | 0.250 [0.125, 0.500] (50%, 25%-75%) | 1.5 |"
    assert lines[3] == "| random, exact | 0.375 (12%) | |"
    del space["random_exact"]                                   # a space too large to enumerate has none
    assert len(docs_tables.regret_ci_table(result, "s").splitlines()) == 3
