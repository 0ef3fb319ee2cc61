"""docs/cli.md lists every option of every `moearch` command, and every hidden (deprecated) spelling."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from moearch.cli.main import cli

DOC = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            if [p for p in command.params if isinstance(p, click.Option)]:
                yield (*path, name), command
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = dict(_commands(cli))


def _rows(section: str) -> list[tuple[str, str]]:
    """(command, flags cell) of each table row under the heading ``section``."""
    text = DOC.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) >= 2 and cells[0].startswith("`"):
            words = cells[0].strip("`").split()
            command = " ".join(w for w in words if not w.rstrip(".").isupper())
            rows.append((command, cells[1]))
    return rows


def _flags(cell: str) -> set[str]:
    return {flag for code in re.findall(r"`([^`]*)`", cell) for flag in re.findall(r"(?<![\w-])--?[\w-]+", code)}


def test_every_command_is_documented() -> None:
    documented = {command for command, _ in _rows("Every command and option")}
    assert documented == {" ".join(path) for path in COMMANDS}


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_option_is_documented(path: tuple[str, ...]) -> None:
    name = " ".join(path)
    shown = set().union(*[_flags(cell) for command, cell in _rows("Every command and option") if command == name])
    old = set().union(*[_flags(cell) for command, cell in _rows("Deprecated aliases") if command == name])
    for param in COMMANDS[path].params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        flags = set(param.opts + param.secondary_opts)
        if param.hidden:
            assert flags <= old, f"{name}: hidden {sorted(flags)} is not under 'Deprecated aliases'"
        else:
            assert flags <= shown, f"{name}: {sorted(flags - shown)} is not in the table"
    hidden = {f for p in COMMANDS[path].params if isinstance(p, click.Option) and p.hidden for f in p.opts}
    assert old == hidden, f"{name}: 'Deprecated aliases' lists {sorted(old - hidden)} the command does not accept"


def test_defaults_in_the_table_are_the_commands_own() -> None:
    rows = {(c, cell): line for line in DOC.splitlines() for c, cell in _rows("Every command and option")
            if line.startswith(f"| `{c}` |") and f"| {cell} |" in line}
    checked = 0
    for (command, cell), line in rows.items():
        default = line.rstrip(" |").rsplit("|", 1)[1].strip()
        flags = _flags(cell)
        path = tuple(w for w in command.split())
        for param in COMMANDS[path].params:
            if isinstance(param, click.Option) and set(param.opts) == flags and isinstance(param.default, (int, str)) \
                    and not isinstance(param.default, bool) and param.default is not None:
                assert str(param.default) in default, (command, cell, param.default, default)
                checked += 1
    assert checked >= 20
