"""Compare received stream words with expected ones and report mismatches by index."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MISSING", "Mismatch", "Scoreboard", "ScoreboardError", "compare"]


class _Missing:
    def __repr__(self) -> str:
        return "nothing"


MISSING: Any = _Missing()  #: stands for a word that never arrived (or was never expected)


class ScoreboardError(AssertionError):
    """Received words differ from the expected ones; the message lists the differences."""


@dataclass(frozen=True)
class Mismatch:
    index: int
    expected: Any  # MISSING for an unexpected extra word
    got: Any  # MISSING for a word that did not arrive


def compare(expected: Sequence[Any], got: Sequence[Any]) -> list[Mismatch]:
    """Every index where ``got`` differs from ``expected``, including missing and extra words."""
    out = []
    for i in range(max(len(expected), len(got))):
        e = expected[i] if i < len(expected) else MISSING
        g = got[i] if i < len(got) else MISSING
        if e is MISSING or g is MISSING or not bool(e == g):
            out.append(Mismatch(i, e, g))
    return out


def _hex(value: Any) -> str:
    if value is MISSING:
        return "nothing"
    if isinstance(value, bool) or not isinstance(value, int):
        return repr(value)
    return f"{value} (0x{value:x})" if value >= 0 else str(value)


class Scoreboard:
    """Expected words in order; received words arrive through :meth:`receive` (a monitor callback).

    :meth:`check` raises :class:`ScoreboardError` listing the first ``max_report`` differences as
    ``index i: expected E, got G``.
    """

    def __init__(self, name: str = "stream", *, max_report: int = 10,
                 format_value: Callable[[Any], str] = _hex) -> None:
        self.name = name
        self.max_report = max_report
        self._format = format_value
        self.expected: list[Any] = []
        self.received: list[Any] = []

    def expect(self, values: Iterable[Any]) -> None:
        self.expected.extend(values)

    def receive(self, value: Any) -> None:
        self.received.append(value)

    def mismatches(self) -> list[Mismatch]:
        return compare(self.expected, self.received)

    def report(self) -> str:
        """A readable summary: counts, then one line per mismatch (up to ``max_report``)."""
        bad = self.mismatches()
        head = (f"scoreboard {self.name!r}: {len(bad)} mismatch(es); "
                f"expected {len(self.expected)} words, received {len(self.received)}")
        lines = [head]
        for m in bad[:self.max_report]:
            lines.append(f"  index {m.index}: expected {self._format(m.expected)}, "
                         f"got {self._format(m.got)}")
        if len(bad) > self.max_report:
            lines.append(f"  ... and {len(bad) - self.max_report} more")
        return "\n".join(lines)

    def check(self) -> None:
        """:class:`ScoreboardError` unless every expected word arrived, in order, and no more."""
        if self.mismatches():
            raise ScoreboardError(self.report())
