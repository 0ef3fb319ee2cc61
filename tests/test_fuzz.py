"""The bounded fuzz run of ``make test``: every input surface of ``tests/fuzz_surfaces.py`` keeps
its property (exit 0, or exit 2 with one error naming the input; no traceback, no partial output)
on a few dozen generated inputs. ``make fuzz`` runs many more (``tests/fuzz_run.py``) and records
the counts in ``docs/robustness.md``."""
from __future__ import annotations

import pytest
from fuzz_surfaces import SURFACES, Case, check
from hypothesis import HealthCheck, given, settings

BOUNDED = {"hf-config": 15, "manifest": 25}  # the slower surfaces; the rest get DEFAULT
DEFAULT = 40


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_keeps_the_property(name: str) -> None:
    surface = SURFACES[name]

    @settings(max_examples=BOUNDED.get(name, DEFAULT), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(surface.cases)
    def run(case: Case) -> None:
        outcome = check(case)
        assert outcome.problem is None, f"{outcome.problem}\nargs: {case.args}\nmessage: {outcome.message[-800:]}"

    run()


def test_the_property_on_inputs_with_known_verdicts() -> None:
    """The checker itself: a non-UTF-8 device file (once a traceback) is now a named refusal, a
    ConfigError-shaped message counts as naming its field, and a refused run that leaves an output
    file is flagged."""
    crash = check(Case({"dev.yaml": b"\xff"}, ("model", "-w", "mixtral-8x7b", "-d", "{dir}/dev.yaml")))
    assert crash.problem is None and crash.exit_code == 2 and "UTF-8" in crash.message
    unnamed = check(Case({}, ("model", "-w", "mixtral-8x7b", "-d", "h100-sxm", "--tp", "3"), names=("nothing",)))
    assert unnamed.exit_code == 2 and unnamed.problem is None  # names the field '--tp' (ConfigError shape)
    leaked = check(Case({"out.csv": "x"}, ("devices", "--bogus"), outputs=("out.csv",)))
    assert leaked.problem is not None and leaked.problem.startswith("exit 2 left output")
