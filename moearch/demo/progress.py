"""What the demo shows while it runs: one bar over the steps, a line per sub-step (kept above the
bar in a terminal, and the whole output in a log, where a live bar does not render) and a counter
for work that has one (the DSE jobs' evaluations)."""
from __future__ import annotations

import time
from typing import Protocol

from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class Note(Protocol):
    """What a step reports to: called with each sub-step before it runs; ``count`` for counted work."""

    def __call__(self, text: str) -> None: ...

    def count(self, done: int, total: int, what: str) -> None: ...


class _Silent:
    """A :class:`Note` that shows nothing (steps run outside the demo, e.g. from tests)."""

    def __call__(self, text: str) -> None:
        pass

    def count(self, done: int, total: int, what: str) -> None:
        pass


silent = _Silent()


def demo_progress(console) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
                    transient=False)


class StepLog:
    """The :class:`Note` of one step (call it with a sub-step) and its counter (:meth:`count`)."""

    def __init__(self, progress: Progress, step: TaskID, counter: TaskID, title: str, start: float) -> None:
        self.progress, self.step, self.counter = progress, step, counter
        self.title, self.start = title, start

    def __call__(self, text: str) -> None:
        self.progress.update(self.step, description=f"{self.title}: {text}")
        self.progress.update(self.counter, visible=False)
        self.progress.console.print(f"[dim]{time.perf_counter() - self.start:6.1f} s[/]  {self.title}: {text}",
                                    highlight=False)

    def count(self, done: int, total: int, what: str) -> None:
        """``done`` of ``total`` ``what`` (a live counter under the step's line)."""
        self.progress.update(self.counter, description=f"  {what}", completed=done, total=total, visible=True)
