"""pytest plugin: run cocotb tests on a Verilog design in a few lines.

Enable it with ``pytest_plugins = ["verification.pytest_plugin"]`` in a top-level ``conftest.py``
(moearch's ``tests/conftest.py`` does). It provides

* the fixture ``moearch_sim`` (a :class:`SimSession` shared by the whole pytest session):
  ``result = moearch_sim.run(design_dir_or_sources, test_module=..., sim="verilator")`` builds the
  design once per simulator (cached on disk by content, see :mod:`verification.runner`), runs the
  cocotb tests and fails the pytest test with the run's summary if any cocotb test failed
  (``check=False`` returns the :class:`~verification.runner.RunResult` instead);
* for a kernel directory written by ``moearch codegen``: ``moearch_sim.run_kernel(dir, sim=...)``
  runs the built-in kernel tests (``verification.kernel_bench``: bit-exact against the golden
  model, cycles and PE utilisation per stage) and ``moearch_sim.kernel_report(result)`` returns
  their per-stage tables; ``moearch_sim.run(dir, test_module="my_tests.py")`` runs a user's own
  cocotb module on the kernel (``MOEARCH_KERNEL_DIR`` is set, so
  ``verification.kernel_bench.bench.start_kernel_bench(dut)`` finds the manifest);
* the session fixture ``moearch_kernel``: ``moearch_kernel("--shape d=16,f=32,experts=4,top_k=2
  --tokens 4 --pe 4x4")`` generates the kernel ``moearch codegen`` writes for those arguments
  (:func:`codegen.generate_kernel`, no CLI) into a session directory (once per argument list)
  and returns the kernel directory;
* the marker ``@pytest.mark.requires_sim("verilator", "icarus")`` for tests that need simulators
  without going through ``moearch_sim``;
* options ``--moearch-build-root DIR`` (default ``<rootdir>/build/sim``), ``--moearch-seed N``,
  ``--moearch-waves`` and ``--moearch-junit FILE`` (a JUnit XML of every run, written at the end).

A missing simulator skips the test with the reason (what to install); in CI (``CI=true`` or
``MOEARCH_REQUIRE_SIMULATORS=1``) it fails it instead. :func:`ensure_simulator` is that rule.
"""
from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from accelerators.errors import ConfigError
from codegen.generate import generate_kernel, spec_from_args
from verification.junit import write_junit
from verification.kernel_bench import CONFIG_ENV, REPORT_NAME, TEST_MODULE
from verification.kernel_bench.kernel import KERNEL_ENV, KernelDir
from verification.runner import DesignSources, build_and_run
from verification.simulators import SIMULATORS, SimulatorInfo, SimulatorMissing, require, simulators_required

if TYPE_CHECKING:
    from verification.runner import DesignSources, RunResult

__all__ = ["SimSession", "ensure_simulator", "missing_simulator"]

_SESSION_KEY = pytest.StashKey["SimSession"]()


def missing_simulator(exc: SimulatorMissing) -> NoReturn:
    """Fail (CI) or skip (elsewhere) the current test because of ``exc``."""
    if simulators_required():
        pytest.fail(f"{exc} [simulators are required: CI=true or MOEARCH_REQUIRE_SIMULATORS=1]",
                    pytrace=False)
    pytest.skip(str(exc))


def ensure_simulator(sim: str) -> SimulatorInfo:
    """The simulator, or skip/fail the current test (see :func:`missing_simulator`)."""
    try:
        return require(sim)
    except SimulatorMissing as exc:
        missing_simulator(exc)


class SimSession:
    """Simulator runs of one pytest session: shared build root, options and collected results."""

    def __init__(self, build_root: Path, *, seed: int | None = None, waves: bool = False) -> None:
        self.build_root = build_root
        self.seed = seed
        self.waves = waves
        self.results: list[RunResult] = []
        self._simulators: dict[str, SimulatorInfo] = {}

    def simulator(self, sim: str) -> SimulatorInfo:
        """The simulator (looked up once per session), or skip/fail the current test."""
        if sim not in self._simulators:
            self._simulators[sim] = ensure_simulator(sim)
        return self._simulators[sim]

    @staticmethod
    def design(design: DesignSources | str | Path, toplevel: str | None = None) -> DesignSources:
        """``design`` itself, or the design in a directory / a single Verilog file. A kernel
        directory of ``moearch codegen`` gives its Verilog with the kernel's build options."""

        if isinstance(design, DesignSources):
            return design
        path = Path(design)
        if path.is_file():
            return DesignSources(toplevel=toplevel or path.stem, sources=(path,))
        if _is_kernel_dir(path) and toplevel is None:
            return KernelDir.load(path).design()
        return DesignSources.from_dir(path, toplevel)

    def run(self, design: DesignSources | str | Path, *, test_module: str | Path,
            sim: str = "verilator", testcases: Sequence[str] | None = None,
            toplevel: str | None = None, seed: int | None = None, waves: bool | None = None,
            extra_env: Mapping[str, str] | None = None, check: bool = True) -> RunResult:
        """Build (cached) and run; with ``check`` a failing cocotb test fails the pytest test."""

        self.simulator(sim)
        env = dict(extra_env or {})
        if not isinstance(design, DesignSources) and _is_kernel_dir(Path(design)):
            env.setdefault(KERNEL_ENV, str(Path(design).resolve()))
        result = build_and_run(
            self.design(design, toplevel), sim, test_module, testcases,
            build_root=self.build_root, seed=seed if seed is not None else self.seed,
            waves=self.waves if waves is None else waves, extra_env=env)
        self.results.append(result)
        if check and not result.passed:
            pytest.fail(result.summary(), pytrace=False)
        return result

    def run_kernel(self, directory: str | Path, *, sim: str = "verilator",
                   tests: Sequence[str] | None = None, config: Mapping[str, object] | None = None,
                   seed: int | None = None, waves: bool | None = None,
                   check: bool = True) -> RunResult:
        """Run the built-in kernel tests (``verification.kernel_bench.TESTS``; all by default)
        on a kernel directory of ``moearch codegen``. ``config`` overrides their run-time
        inputs (``verification.kernel_bench.cocotb_kernel.DEFAULTS``: seed, layers, rates ...).
        The manifest is checked first: a directory that is not a valid kernel raises
        ``accelerators.errors.ConfigError``."""
        import json

        KernelDir.load(directory)  # not a kernel, no RTL, edited sources: ConfigError
        cfg = dict(config or {})
        if seed is not None:
            cfg.setdefault("seed", seed)
        return self.run(directory, test_module=TEST_MODULE, sim=sim, testcases=tests, seed=seed,
                        waves=waves, extra_env={CONFIG_ENV: json.dumps(cfg)}, check=check)

    @staticmethod
    def kernel_report(result: RunResult) -> dict:
        """Per test of a :meth:`run_kernel` result: its layers with counts, measured and
        predicted cycles, and the per-stage table (``kernel_bench.json`` of the run)."""
        import json


        path = result.run_dir / REPORT_NAME
        return json.loads(path.read_text()) if path.is_file() else {}


def _is_kernel_dir(path: Path) -> bool:
    """A directory ``moearch codegen`` wrote (its manifest names the codegen schema)."""
    manifest = path / "manifest.json"
    if not manifest.is_file():
        return False
    import json

    try:
        return str(json.loads(manifest.read_text()).get("schema", "")).startswith("moearch.codegen.")
    except (ValueError, AttributeError):
        return False


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("moearch", "moearch RTL simulation")
    group.addoption("--moearch-build-root", default=None,
                    help="directory for simulator builds (default: <rootdir>/build/sim)")
    group.addoption("--moearch-seed", type=int, default=None,
                    help="cocotb random seed for every run (default: cocotb picks one)")
    group.addoption("--moearch-waves", action="store_true", default=False,
                    help="record waves (FST/VCD) in each run directory")
    group.addoption("--moearch-junit", default=None,
                    help="write a JUnit XML file of every simulator run to this path")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires_sim(*names): needs these simulators (default: all of "
        f"{', '.join(SIMULATORS)}); skipped with a reason when missing, failed in CI")
    root = config.getoption("--moearch-build-root")
    build_root = Path(root) if root else config.rootpath / "build" / "sim"
    config.stash[_SESSION_KEY] = SimSession(build_root.resolve(),
                                            seed=config.getoption("--moearch-seed"),
                                            waves=config.getoption("--moearch-waves"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires_sim"):
        for sim in mark.args or SIMULATORS:
            ensure_simulator(sim)


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--moearch-junit")
    sim_session = session.config.stash.get(_SESSION_KEY, None)
    if path and sim_session is not None and sim_session.results:

        write_junit(sim_session.results, Path(path), relative_to=session.config.rootpath)


@pytest.fixture
def moearch_sim(request: pytest.FixtureRequest) -> SimSession:
    """The session's :class:`SimSession` (``moearch_sim.run(...)``)."""
    return request.config.stash[_SESSION_KEY]


@pytest.fixture(scope="session")
def moearch_kernel(tmp_path_factory: pytest.TempPathFactory):
    """``moearch_kernel(args) -> Path``: the kernel ``moearch codegen <args>`` would write, generated
    into a session directory by :func:`codegen.generate_kernel`, once per argument list (a string
    is split like a shell command line)."""
    made: dict[tuple[str, ...], Path] = {}
    root = tmp_path_factory.mktemp("kernels")

    def generate(args: str | Sequence[str]) -> Path:
        key = tuple(shlex.split(args) if isinstance(args, str) else (str(a) for a in args))
        if key not in made:
            out = root / f"k{len(made)}"
            try:
                spec, rtl = spec_from_args(key)
                generate_kernel(spec, out, rtl=rtl)
            except ConfigError as exc:
                pytest.fail(f"moearch codegen {' '.join(key)}: {exc}", pytrace=False)
            made[key] = out
        return made[key]

    return generate
