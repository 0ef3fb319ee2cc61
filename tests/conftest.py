"""Shared pytest configuration for the whole suite.

``verification.pytest_plugin`` provides the ``moearch_sim`` fixture (build and run cocotb tests
on a Verilog design) and the ``requires_sim(...)`` marker: a missing simulator skips a test with
the reason, and fails it in CI (``CI=true`` or ``MOEARCH_REQUIRE_SIMULATORS=1``).
``pytester`` lets tests run pytest on small generated test files.
"""
import os

from hypothesis import settings

pytest_plugins = ["verification.pytest_plugin", "pytester"]

# In CI, property tests draw the same examples every run (a failure is reproducible from the log);
# locally they explore new examples each time.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="also run the tests marked `slow` (long simulations, more examples)")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` are skipped unless ``--slow`` is given."""
    if config.getoption("--slow"):
        return
    import pytest

    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
