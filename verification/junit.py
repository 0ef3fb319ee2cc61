"""JUnit XML from the results of several runs (simulators, designs), for CI dashboards.

Layout: one ``<testsuite>`` per :class:`~verification.runner.RunResult`, named
``<simulator>.<toplevel>.<test module>``; one ``<testcase>`` per cocotb test with
``classname = <simulator>.<test module>``, ``time`` = wall seconds, a ``<failure>`` (failed) /
``<error>`` / ``<skipped>`` child, and ``<properties>`` holding the simulated time, the seed and
every recorded metric (``metric.<name>``). Paths are written relative to ``relative_to`` when
given, so the file carries no machine-specific absolute paths.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verification.runner import RunResult

__all__ = ["JUnitSummary", "read_junit", "to_junit_xml", "write_junit"]


def _shown(path: Path, relative_to: Path | None) -> str:
    if relative_to is None:
        return str(path)
    return os.path.relpath(path, relative_to)


def to_junit_xml(results: Sequence[RunResult], *, name: str = "moearch-rtl",
                 relative_to: Path | None = None) -> ET.Element:
    """The ``<testsuites>`` element for ``results``."""
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for run in results:
        counts = {
            "tests": len(run.tests),
            "failures": sum(t.outcome == "failed" for t in run.tests),
            "errors": sum(t.outcome == "error" for t in run.tests),
            "skipped": sum(t.outcome == "skipped" for t in run.tests),
        }
        suite_time = sum(t.wall_time_s for t in run.tests)
        suite = ET.SubElement(root, "testsuite",
                              name=f"{run.simulator}.{run.toplevel}.{run.test_module}",
                              attrib={"time": f"{suite_time:.3f}", **{k: str(v) for k, v in counts.items()}})
        props = ET.SubElement(suite, "properties")
        for key, value in (("simulator", run.simulator),
                           ("simulator_version", run.simulator_version),
                           ("toplevel", run.toplevel), ("seed", run.seed),
                           ("build_cached", run.build_cached),
                           ("build_time_s", f"{run.build_time_s:.3f}"),
                           ("log", _shown(run.log, relative_to))):
            ET.SubElement(props, "property", name=key, value=str(value))
        for test in run.tests:
            case = ET.SubElement(suite, "testcase", name=test.name,
                                 classname=f"{run.simulator}.{run.test_module}",
                                 time=f"{test.wall_time_s:.3f}")
            tag = {"failed": "failure", "error": "error", "skipped": "skipped"}.get(test.outcome)
            if tag is not None:
                first_line = test.message.splitlines()[0] if test.message else test.outcome
                child = ET.SubElement(case, tag, message=first_line)
                child.text = test.message
            case_props = ET.SubElement(case, "properties")
            ET.SubElement(case_props, "property", name="sim_time_ns", value=f"{test.sim_time_ns:g}")
            for metric, measured in sorted(test.metrics.items()):
                ET.SubElement(case_props, "property", name=f"metric.{metric}", value=f"{measured:g}")
        for key in totals:
            totals[key] += counts[key]
        total_time += suite_time
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    return root


def write_junit(results: Sequence[RunResult], path: Path, *, name: str = "moearch-rtl",
                relative_to: Path | None = None) -> Path:
    """Write the JUnit file atomically (temp file + rename) and return ``path``."""
    root = to_junit_xml(results, name=name, relative_to=relative_to)
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class JUnitSummary:
    tests: int
    failures: int
    errors: int
    skipped: int
    suites: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.tests > 0 and self.failures == 0 and self.errors == 0


def read_junit(path: Path) -> JUnitSummary:
    """Parse a JUnit file (ours or another tool's) and count its test cases by outcome."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    cases = [c for s in suites for c in s.iter("testcase")]
    return JUnitSummary(
        tests=len(cases),
        failures=sum(c.find("failure") is not None for c in cases),
        errors=sum(c.find("error") is not None for c in cases),
        skipped=sum(c.find("skipped") is not None for c in cases),
        suites=tuple(s.get("name", "") for s in suites))
