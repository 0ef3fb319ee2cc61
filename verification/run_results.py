"""What a simulator run reports: :class:`TestResult`, :class:`RunResult` and
:func:`parse_results` (a cocotb ``results.xml`` plus the metrics side channel)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from verification.simulators import SimName

__all__ = ["RunResult", "TestResult", "parse_results"]


@dataclass(frozen=True)
class TestResult:
    """One cocotb test of a run."""

    __test__ = False  # not a pytest test class

    name: str
    outcome: Literal["passed", "failed", "skipped", "error"]
    sim_time_ns: float
    wall_time_s: float
    message: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


@dataclass(frozen=True)
class RunResult:
    """What one :func:`build_and_run` call did and what every test reported."""

    simulator: SimName
    simulator_version: str
    toplevel: str
    test_module: str
    tests: tuple[TestResult, ...]
    seed: int | None  # the seed cocotb used (from results.xml), or the requested one
    build_dir: Path
    run_dir: Path
    results_xml: Path
    log: Path
    build_cached: bool
    build_time_s: float  # 0 when cached
    run_time_s: float
    waves: Path | None = None

    @property
    def passed(self) -> bool:
        """At least one test passed and none failed or errored (skips allowed)."""
        return (any(t.passed for t in self.tests)
                and all(t.outcome in ("passed", "skipped") for t in self.tests))

    @property
    def failures(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.outcome in ("failed", "error"))

    def test(self, name: str) -> TestResult:
        for t in self.tests:
            if t.name == name:
                return t
        raise KeyError(f"no test {name!r} in this run; tests: {[t.name for t in self.tests]}")

    def summary(self) -> str:
        """One line per test, then every failure message."""
        head = (f"{self.test_module} on {self.simulator} {self.simulator_version} "
                f"({self.toplevel}, seed {self.seed}, "
                f"build {'cached' if self.build_cached else 'fresh'})")
        lines = [head]
        for t in self.tests:
            lines.append(f"  {t.outcome:7s} {t.name}  sim {t.sim_time_ns:.0f} ns  "
                         f"wall {t.wall_time_s:.2f} s")
        for t in self.failures:
            lines.append(f"--- {t.name}: {t.message}")
        lines.append(f"log: {self.log}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------ results parsing
def _properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def _message(element: ET.Element) -> str:
    text = element.get("message") or ""
    body = (element.text or "").strip()
    if body and body not in text:
        text = f"{text}\n{body}" if text else body
    return text


def parse_results(results_xml: Path, metrics: Mapping[str, Mapping[str, float]] | None = None
                  ) -> tuple[list[TestResult], int | None]:
    """The tests in a cocotb results.xml and the random seed it reports."""
    root = ET.parse(results_xml).getroot()
    tests: list[TestResult] = []
    seed: int | None = None
    for case in root.iter("testcase"):
        props = _properties(case)
        if seed is None and props.get("random_seed", "").lstrip("-").isdigit():
            seed = int(props["random_seed"])
        outcome: Literal["passed", "failed", "skipped", "error"] = "passed"
        message = ""
        for tag, kind in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            element = case.find(tag)
            if element is not None:
                outcome, message = kind, _message(element)  # type: ignore[assignment]
                break
        name = case.get("name", "")
        tests.append(TestResult(
            name=name, outcome=outcome,
            # cocotb subtracts float times; round to the 1 ps precision of every build
            sim_time_ns=round(float(props.get("sim_time_duration", 0.0) or 0.0), 3),
            wall_time_s=float(case.get("time", 0.0) or 0.0), message=message,
            metrics=dict((metrics or {}).get(name, {}))))
    return tests, seed
