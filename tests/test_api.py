"""The public API: moearch's own docstring examples and the README's Python example run as written."""
from __future__ import annotations

import doctest
import re
from pathlib import Path

import moearch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_docstring_examples_run() -> None:
    result = doctest.testmod(moearch, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 20 and result.failed == 0, result


def test_every_public_name_is_documented_and_exists() -> None:
    for name in moearch.__all__:
        obj = getattr(moearch, name)
        assert name == "EXAMPLES" or (obj.__doc__ or "").strip(), f"{name} has no docstring"
    assert (moearch.EXAMPLES / "fpga-moe-kernel.yaml").is_file()


def test_the_readme_python_example_runs(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(README), "exec"), {})  # the README's own example, as a user runs it
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("TTFT ") and len(lines) == 4
    assert [line.split()[0] for line in lines[1:]] == ["h100-sxm", "ascend-910c", "sn40l-node"]
