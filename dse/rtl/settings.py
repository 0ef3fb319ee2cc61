"""The ``rtl:`` section of a space file: how a design's kernel is sized, measured and cached.

A design of the ``fpga-kernel`` domain is a whole layer on a whole part (a Mixtral-8x7B layer on
a U280); simulating that RTL takes hours. The kernel the RTL evaluator builds keeps the design's
schedule style and array shape up to ``max_pe`` a side and divides the layer's ``d`` and ``f`` by
``scale`` at ``tokens`` tokens, as the demo does. Fields (all optional):

* ``scale`` (128), ``tokens`` (8), ``max_pe`` (4): the simulated kernel's size;
* ``simulator`` (``verilator``): ``verilator`` or ``icarus``;
* ``resources`` (true): Yosys ``synth_xilinx`` of the kernel too;
* ``screen`` (1.0): the share of each evaluated chunk that RTL measures, the designs the model
  ranks best on the first objective (the rest keep the model's figures, ``fidelity`` 0); a job
  whose ``chunk`` equals its ``batch`` screens each round's proposals;
* ``cache``: the folder of measured kernels (relative to the space file; default
  ``$XDG_CACHE_HOME/moearch/rtl``, else ``~/.cache/moearch/rtl``).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerators.errors import ConfigError

SIMULATORS = ("verilator", "icarus")
RTL_DOMAINS = ("fpga-kernel",)  # the domains whose designs codegen turns into kernels
RESOURCES = ("lut", "ff", "dsp", "bram36", "uram")  # Yosys counts recorded beside the model's
FIELDS = ("scale", "tokens", "max_pe", "simulator", "resources", "screen", "cache")


@dataclass(frozen=True)
class RtlSettings:
    scale: int = 128
    tokens: int = 8
    max_pe: int = 4
    simulator: str = "verilator"
    resources: bool = True
    screen: float = 1.0
    cache: str | None = None  # absolute; None: the user cache folder

    def cache_dir(self) -> Path:
        if self.cache:
            return Path(self.cache)
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "moearch" / "rtl"

    def fingerprint(self) -> dict[str, Any]:
        """What decides the measured metrics (not where they are cached)."""
        return {"scale": self.scale, "tokens": self.tokens, "max_pe": self.max_pe, "simulator": self.simulator,
                "resources": self.resources, "screen": self.screen}


def _whole(source: str, name: str, value: object, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(source, f"rtl.{name}", value, f"a whole number >= {low}")
    return value


def parse_rtl_settings(data: object, source: str, base_dir: Path | None) -> RtlSettings:
    """The ``rtl:`` mapping of a space file (``None``: every default); one ConfigError for every problem."""
    if data is None:
        return RtlSettings()
    if not isinstance(data, Mapping):
        raise ConfigError(source, "rtl", data, f"a mapping with any of: {', '.join(FIELDS)}")
    problems: list[ConfigError] = []
    values: dict[str, Any] = {}
    for key, value in data.items():
        try:
            if key in ("scale", "tokens", "max_pe"):
                values[key] = _whole(source, key, value, 1)
            elif key == "simulator":
                if value not in SIMULATORS:
                    raise ConfigError(source, "rtl.simulator", value, f"one of: {', '.join(SIMULATORS)}")
                values[key] = value
            elif key == "resources":
                if not isinstance(value, bool):
                    raise ConfigError(source, "rtl.resources", value, "true or false")
                values[key] = value
            elif key == "screen":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                    raise ConfigError(source, "rtl.screen", value,
                                      "a share of each chunk in (0, 1] (1: RTL measures every design)")
                values[key] = float(value)
            elif key == "cache":
                if not isinstance(value, str) or not value.strip():
                    raise ConfigError(source, "rtl.cache", value, "a folder path")
                path = Path(value).expanduser()
                values[key] = str((base_dir / path if base_dir is not None and not path.is_absolute() else path)
                                  .resolve())
            else:
                raise ConfigError(source, f"rtl.{key}", value, f"no such field; allowed: {', '.join(FIELDS)}")
        except ConfigError as problem:
            problems.append(problem)
    if problems:
        raise ConfigError.combine(problems)
    return RtlSettings(**values)
