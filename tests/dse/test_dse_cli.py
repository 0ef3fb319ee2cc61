"""The `moearch dse` contract: run/resume/report JSON keys, report files, exit code 2 on bad input."""
from __future__ import annotations

import json

from click.testing import CliRunner

from dse.space_file import load_space
from moearch.cli.main import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_run_report_json_and_files(small_space_file, tmp_path):
    jobs = []
    for agent in ("random", "ga"):
        out = tmp_path / f"{agent}.db"
        result = run("dse", "run", small_space_file, "--agent", agent, "--budget", 10, "--seed", 4, "--output", out,
                     "--quiet", "--json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["evaluations"] == 10 and summary["agent"] == agent
        jobs.append(out)
    result = run("dse", "report", *jobs, "--out", tmp_path / "rep", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["agent"] for d in data] == ["random", "ga"]
    for d in data:
        assert {"agent", "seed", "evaluations", "best", "best_design"} <= d.keys()
        assert d["seed"] == 4 and d["evaluations"] == 10
        assert set(d["best"]) == {"tokens_per_s_per_device", "energy_per_token_j"}
        assert set(d["best_design"]) == {"tp", "ep", "batch", "dtype"}
    names = {p.name for p in (tmp_path / "rep").iterdir()}
    assert {"pareto.png", "best_so_far.png", "hypervolume.png", "summary.md", "summary.html", "summary.json"} <= names
    assert not any(n.startswith(".") for n in names)  # no temporary files left behind
    markdown = (tmp_path / "rep" / "summary.md").read_text()
    assert "## Pareto front" in markdown and "![pareto](pareto.png)" in markdown
    assert "<img alt='pareto' src='pareto.png'>" in (tmp_path / "rep" / "summary.html").read_text()


def test_check_and_agents(small_space_file):
    result = run("dse", "check", small_space_file, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["size"] == 192 and data["groups"] == {"parallelism": ["tp", "ep"], "serving": ["batch", "dtype"]}
    assert [c["before_evaluation"] for c in data["constraints"]] == [True, False]
    assert run("dse", "agents").exit_code == 0


def test_bad_input_exits_2(small_space_file, tmp_path, write_space):
    bad = write_space(small_space_file.read_text().replace("name: tp,", "name: pe_rows,"))
    cases = [
        ("dse", "run", bad, "--agent", "random", "--budget", 5, "--output", tmp_path / "a.db"),
        ("dse", "run", small_space_file, "--agent", "annealing", "--budget", 5, "--output", tmp_path / "b.db"),
        ("dse", "run", small_space_file, "--agent", "random", "--budget", 0, "--output", tmp_path / "c.db"),
        ("dse", "run", small_space_file, "--agent", "ga", "--budget", 5, "--option", "nope", "--output",
         tmp_path / "d.db"),
        ("dse", "resume", tmp_path / "missing.db"),
        ("dse", "report", tmp_path / "missing.db", "--json"),
    ]
    for args in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "error:" in result.output
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()
    done = tmp_path / "done.db"
    assert run("dse", "run", small_space_file, "--agent", "random", "--budget", 3, "--output", done,
               "--quiet").exit_code == 0
    again = run("dse", "run", small_space_file, "--agent", "random", "--budget", 3, "--output", done, "--quiet")
    assert again.exit_code == 2 and "dse resume" in again.output


def test_old_spellings_are_hidden_aliases_that_warn(small_space_file, tmp_path):
    base = ("dse", "run", small_space_file, "--agent", "ga", "--budget", 9, "--seed", 2, "--quiet", "--json")
    want = run(*base, "-o", tmp_path / "new.db", "--designs-per-round", 3)
    got = run(*base, "--out", tmp_path / "old.db", "--batch", 3)
    assert want.exit_code == got.exit_code == 0, got.output
    new, old = json.loads(want.stdout), json.loads(got.stdout)
    assert {k: v for k, v in old.items() if k != "path"} == {k: v for k, v in new.items() if k != "path"}
    assert old["path"].endswith("old.db") and (tmp_path / "old.db").is_file()
    assert got.stderr.count("is deprecated") == 2 and want.stderr == ""
    assert "warning: --out is deprecated and will be removed in the next release; use --output" in got.stderr
    assert "warning: --batch is deprecated and will be removed in the next release; use --designs-per-round" \
        in got.stderr
    helptext = run("dse", "run", "--help").output
    assert "--designs-per-round" in helptext and "--batch" not in helptext
    report = run("dse", "report", tmp_path / "new.db", "-o", tmp_path / "rep")
    assert report.exit_code == 0, report.output
    assert "warning: -o is deprecated" in report.stderr and (tmp_path / "rep" / "summary.md").is_file()


def test_run_errors_name_the_flag(small_space_file, tmp_path):
    base = ("dse", "run", small_space_file, "--agent", "random", "--budget", 5)
    for args, flag in [((*base, "--designs-per-round", 0, "-o", tmp_path / "a.db"), "--designs-per-round"),
                       ((*base, "--batch", 0, "-o", tmp_path / "b.db"), "--designs-per-round"),
                       (base, "--output")]:
        result = run(*args)
        assert result.exit_code == 2 and f"field '{flag}'" in result.output, result.output
    assert run(*base, "-o", tmp_path / "job.db", "--quiet").exit_code == 0
    nowhere = run("dse", "report", tmp_path / "job.db")
    assert nowhere.exit_code == 2 and "field '--out'" in nowhere.output


def test_exhaustive_needs_no_budget(small_space_file, tmp_path):
    """Exhaustive spends the whole space when --budget is left out; every other agent needs one."""
    size = load_space(small_space_file).size
    result = run("dse", "run", small_space_file, "--agent", "exhaustive", "--output", tmp_path / "all.db", "--quiet",
                 "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == size and summary["stop_reason"] == "exhausted", summary
    refused = run("dse", "run", small_space_file, "--agent", "random", "--output", tmp_path / "r.db", "--quiet")
    assert refused.exit_code == 2 and "--budget" in refused.output and "exhaustive" in refused.output
    assert not (tmp_path / "r.db").exists()
