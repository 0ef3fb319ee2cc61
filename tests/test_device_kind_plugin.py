"""A new device kind is three new files and no edit: its device-file rules
(``accelerators/kinds/<kind>.py``), its model package (``archmodel/devices/<kind>/``) and a device
file. The test writes exactly those into a copy of the two packages and runs a step on the new kind
in a fresh interpreter, so a kind list anywhere else (a Literal, a dict of models, an energy table)
would make it fail."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

KIND_RULES = '''
from accelerators.fields import Count, Frozen
from accelerators.kinds import KindSchema


class ToySpec(Frozen):
    lanes: Count


KIND = KindSchema("toy", section=ToySpec, roofline=True)
'''

KIND_MODEL = '''
from dataclasses import replace

from accelerators.kinds.toy import ToySpec
from archmodel.devices import DeviceKind
from archmodel.devices.gpu import RooflineModel


class ToyModel(RooflineModel):
    """The roofline, with the matrix peak of ``toy.lanes`` lanes of the GPU's."""

    @staticmethod
    def device_args(device, precision, parallel, weight_tier=None):
        args = RooflineModel.device_args(device, precision, parallel, weight_tier)
        return replace(args, matrix=args.matrix * device.require_section(ToySpec).lanes)


PLUGIN = DeviceKind("toy", ToyModel, energy_node=(5.0, 0.7))
'''

DEVICE = '''
name: toy-1
extends: h100-sxm
kind: toy
description: a toy device of a kind added by three files
toy: {lanes: 2}
sources:
  toy.lanes: this test
'''

RUN = '''
from accelerators import load_device
from archmodel.energy import node_scale
from archmodel.step import DEVICE_MODELS, model_step
from archmodel.workloads import load_workload

toy, gpu = load_device("toy-1"), load_device("h100-sxm")
assert toy.kind == "toy" and DEVICE_MODELS["toy"].__name__ == "ToyModel"
model = load_workload("mixtral-8x7b")
fast = float(model_step(model, toy, b=64, s=512, c=0).latency)
slow = float(model_step(model, gpu, b=64, s=512, c=0).latency)
assert fast < slow, (fast, slow)  # twice the matrix peak on a compute-bound prefill
assert abs(node_scale("toy") - (5 / 45) * (0.7 / 0.9) ** 2) < 1e-12
print("ok", slow / fast)
'''


def _copy(tmp: Path) -> Path:
    for package in ("accelerators", "archmodel"):
        shutil.copytree(ROOT / package, tmp / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp / "accelerators/kinds/toy.py").write_text(textwrap.dedent(KIND_RULES))
    (tmp / "archmodel/devices/toy").mkdir()
    (tmp / "archmodel/devices/toy/__init__.py").write_text(textwrap.dedent(KIND_MODEL))
    (tmp / "accelerators/devices/toy-1.yaml").write_text(textwrap.dedent(DEVICE))
    return tmp


@pytest.mark.timeout(300)
def test_a_new_kind_is_three_files(tmp_path):
    root = _copy(tmp_path)
    done = subprocess.run([sys.executable, "-c", RUN], cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok"), done.stdout
