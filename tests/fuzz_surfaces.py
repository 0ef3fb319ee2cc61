"""Fuzzing every input surface: hypothesis strategies for well-formed and malformed inputs, and the
one property they all must keep.

A *case* is the files a user would hand us (written into a fresh folder) and the ``moearch``
arguments that read them. The property (:func:`check`): the command exits 0, or exits 2 with an
``error:`` line that names the input (the file, or the flag) and says what is allowed; never a
traceback (an exception other than ``SystemExit`` escaping the command), never another exit code,
and no output file left behind by a run that exited 2.

Surfaces (``SURFACES``): device YAML (every field mutated, units, ``extends`` chains and cycles),
Hugging Face ``config.json``, DSE space YAML and its constraint expressions, measured-data CSV,
codegen shapes and flags, hand-edited kernel manifests, and the flags of every fast command.
Well-formed inputs come from real catalog files mutated a few fields at a time, so most cases
reach deep into the checks instead of failing at the first line. ``tests/test_fuzz.py`` runs a
bounded number per surface in ``make test``; ``benchmarks/fuzz.py`` (``make fuzz``) runs many
more and records the counts in ``docs/robustness.md``.
"""
from __future__ import annotations

import atexit
import copy
import json
import math
import re
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import strategies as st

from moearch.cli.main import cli

REPO = Path(__file__).resolve().parents[1]
DEVICES = REPO / "accelerators" / "devices"
CONFIGS = REPO / "archmodel" / "workloads" / "configs"
EXAMPLES = REPO / "examples"

Files = dict[str, str | bytes]


@dataclass(frozen=True)
class Case:
    files: Files
    args: tuple[str, ...]            # "{dir}" is the folder the files were written to
    outputs: tuple[str, ...] = ()    # paths (relative to the folder) the command may write
    names: tuple[str, ...] = ()      # what an error must name: one of these (a file or a flag)


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    problem: str | None              # None: the property held
    message: str = ""


@dataclass(frozen=True)
class Surface:
    name: str
    doc: str
    cases: st.SearchStrategy[Case]


# ------------------------------------------------------------------------------------- values
ODD_STRINGS = ["", " ", "80 GB", "-1 GB", "0 GB", "5 parsecs", "1e999 TB/s", "nan", "inf", "-inf", "12", "3 TFLOPS",
               "1 us", "-3 us", "1e-30 W", "../../etc/passwd", "h100-sxm", "\x00", "é", "🙂", "{a: 1}", "[1, 2",
               "NaN TB/s", "10 Gbps", "1 TB", "64 KiB", "yes", "null"]
ODD_NUMBERS = [0, -1, 1, 2, 3, 7, 8, 64, 1000, 10**6, 2**31, 2**63, -2**63, 0.5, -0.0, 1e-300, 1e300,
               math.inf, -math.inf, math.nan]
VALUES = st.one_of(st.none(), st.booleans(), st.sampled_from(ODD_NUMBERS), st.integers(-2**70, 2**70),
                   st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(ODD_STRINGS),
                   st.text(max_size=12), st.lists(st.sampled_from(ODD_NUMBERS + ODD_STRINGS), max_size=3),
                   st.dictionaries(st.sampled_from(["a", "name", "peak", "bf16", "x"]),
                                   st.sampled_from(ODD_NUMBERS + ODD_STRINGS), max_size=2))


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON-like tree (keys and list indices), the root included."""
    out = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out += _paths(value, (*prefix, i))
    return out


def _apply(tree: Any, path: tuple, op: str, value: Any) -> Any:
    if not path:
        return value if op == "replace" else tree
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "replace":
        parent[key] = value
    elif op == "wrap":
        parent[key] = [parent[key]]
    elif op == "stringify":
        parent[key] = str(parent[key])
    elif op == "add" and isinstance(parent[key], dict):
        parent[key][str(value)[:8] or "extra"] = value
    return tree


@st.composite
def mutated(draw: st.DrawFn, tree: Any, *, max_edits: int = 3) -> Any:
    """``tree`` with one to ``max_edits`` fields deleted, replaced, wrapped, stringified or added."""
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, max_edits))):
        paths = _paths(tree)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["delete", "replace", "replace", "replace", "wrap", "stringify", "add"]))
        try:
            tree = _apply(tree, path, op, draw(VALUES))
        except (KeyError, IndexError, TypeError):
            continue
    return tree


def _dump_yaml(tree: Any) -> str:
    try:
        return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return repr(tree)


@st.composite
def broken_text(draw: st.DrawFn, text: str) -> str | bytes:
    """A real file cut short, with bytes flipped, or replaced by garbage."""
    kind = draw(st.sampled_from(["truncate", "flip", "garbage", "binary"]))
    if kind == "truncate":
        return text[:draw(st.integers(0, len(text)))]
    if kind == "flip":
        i = draw(st.integers(0, max(0, len(text) - 1)))
        return text[:i] + draw(st.sampled_from(["\t", ":", "{", "[", "'", "\"", "-", "&a", "*a", "!!python/x", "\x00"])) + text[i + 1:]
    if kind == "garbage":
        return draw(st.text(max_size=200))
    return draw(st.binary(max_size=200))


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------ surfaces
DEVICE_BASES = ("h100-sxm", "alveo-u280", "ascend-910b", "sn40l", "duplex", "mi300x")


@st.composite
def device_cases(draw: st.DrawFn) -> Case:
    base = draw(st.sampled_from(DEVICE_BASES))
    tree = _load_yaml(DEVICES / f"{base}.yaml")
    files: Files = {}
    main = f"{base}.yaml"  # a device's name is its file's name
    shape = draw(st.sampled_from(["mutate", "mutate", "mutate", "broken", "extends-chain", "extends-cycle"]))
    if shape == "broken":
        files[main] = draw(broken_text((DEVICES / main).read_text()))
    elif shape == "extends-chain":
        main, depth = "d0.yaml", draw(st.integers(1, 4))
        for i in range(depth):
            parent = f"d{i + 1}.yaml" if i + 1 < depth else draw(st.sampled_from([base, "no-such-device",
                                                                                 "missing.yaml", "../d0.yaml"]))
            child = {"name": f"d{i}", "extends": parent}
            overrides = draw(mutated(tree, max_edits=2)) if draw(st.booleans()) else {}
            if isinstance(overrides, dict):  # the child overrides a few of the parent's fields, some wrongly
                child.update({k: v for k, v in overrides.items()
                              if k not in ("name", "extends") and draw(st.integers(0, 3)) == 0})
            files[f"d{i}.yaml"] = _dump_yaml(child)
    elif shape == "extends-cycle":
        main, n = "d0.yaml", draw(st.integers(1, 3))
        for i in range(n):
            files[f"d{i}.yaml"] = _dump_yaml({"name": f"d{i}", "extends": f"d{(i + 1) % n}.yaml"})
    else:
        files[main] = _dump_yaml(draw(mutated(tree)))
    command = draw(st.sampled_from([("model", "-w", "mixtral-8x7b"), ("opb", "-w", "mixtral-8x7b"),
                                    ("serve", "-w", "llama-3.1-8b", "--isl", "64", "--osl", "8", "--requests", "8")]))
    return Case(files, (*command, "-d", "{dir}/" + main, "--json"), names=tuple(files) + ("-d", "--device"))


@st.composite
def hf_config_cases(draw: st.DrawFn) -> Case:
    source = draw(st.sampled_from(sorted(CONFIGS.glob("*.json"))))
    text = source.read_text()
    if draw(st.integers(0, 4)) == 0:
        body = draw(broken_text(text))
    else:
        body = json.dumps(draw(mutated(json.loads(text))), allow_nan=True)
    command = draw(st.sampled_from([("model", "-d", "h100-sxm"), ("opb",), ("serve", "-d", "h100-sxm", "--isl", "64",
                                                                          "--osl", "4", "--requests", "2")]))
    return Case({"config.json": body}, (*command, "-w", "{dir}/config.json", "--json"),
                names=("config.json", "-w", "--workload"))


OPERATORS = ["<=", ">=", "<", ">", "==", "+", "-", "*", "/", "**", "and", "or", "not", "(", ")", ",", "."]
NAMES = ["dsp", "bram_kib", "latency_s", "pe_rows", "pe_cols", "lut_fraction", "energy_j", "__import__", "os",
         "open", "lambda", "x", "max", "min", "abs", "log2", "__class__", "eval"]


@st.composite
def constraint(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(OPERATORS), st.sampled_from(NAMES),
                                    st.sampled_from([str(v) for v in ODD_NUMBERS]), st.text(max_size=3)),
                          min_size=1, max_size=9))
    return " ".join(parts)


@st.composite
def space_cases(draw: st.DrawFn) -> Case:
    source = draw(st.sampled_from(sorted(EXAMPLES.glob("*.yaml"))))
    tree = _load_yaml(source)
    kind = draw(st.sampled_from(["mutate", "mutate", "constraints", "broken"]))
    if kind == "broken":
        body: str | bytes = draw(broken_text(source.read_text()))
    else:
        if kind == "constraints":
            tree["constraints"] = draw(st.lists(constraint(), min_size=1, max_size=3))
        body = _dump_yaml(draw(mutated(tree)) if kind == "mutate" else tree)
    return Case({"space.yaml": body}, ("dse", "check", "{dir}/space.yaml"), names=("space.yaml",))


MEASURED_COLUMNS = ["model", "device", "engine", "isl", "osl", "concurrency", "tp", "ep", "ttft_ms", "tpot_ms"]
MEASURED_ROW = ["llama-3.1-8b", "h100-sxm", "vllm", "256", "16", "2", "1", "1", "30", "7"]


@st.composite
def measured_cases(draw: st.DrawFn) -> Case:
    header = list(MEASURED_COLUMNS)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        i = draw(st.integers(0, len(header) - 1))
        header[i] = draw(st.sampled_from(["", "model", "isl ", "extra", "tpot", "ISL"]))
    rows = []
    for _ in range(draw(st.integers(0, 3))):
        row = list(MEASURED_ROW)
        for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
            i = draw(st.integers(0, len(row) - 1))
            row[i] = str(draw(st.sampled_from(ODD_NUMBERS + ODD_STRINGS)))
        rows.append(row[:draw(st.sampled_from([len(row), len(row), len(row) - 1, len(row) + 1]))])
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    body = "\n".join(delimiter.join(f'"{c}"' if "," in c else c for c in line) for line in [header, *rows])
    if draw(st.integers(0, 5)) == 0:
        body = draw(broken_text(body))
    return Case({"m.csv": body}, ("validate", "{dir}/m.csv", "--requests", "4", "--csv", "{dir}/out.csv"),
                outputs=("out.csv",), names=("m.csv", "--requests"))


SIZES = st.one_of(st.sampled_from([0, -1, 1, 2, 3, 4, 8, 16, 17, 32, 64, 2**20, 2**40]), st.text(max_size=4))


@st.composite
def codegen_cases(draw: st.DrawFn) -> Case:
    shape = {k: draw(SIZES) for k in ("d", "f", "experts", "top_k")}
    if draw(st.integers(0, 3)):  # mostly the small sizes that generate quickly
        shape = {"d": draw(st.sampled_from([8, 16, 32])), "f": draw(st.sampled_from([16, 32, 64])),
                 "experts": draw(st.sampled_from([1, 2, 4, 8])), "top_k": draw(st.sampled_from([0, 1, 1, 2, 2, 9]))}
    keys = draw(st.permutations(list(shape)))[:draw(st.sampled_from([2, 3, 4, 4, 4, 4]))]
    text = ",".join(f"{k}={shape[k]}" for k in keys)
    tokens = draw(st.one_of(st.sampled_from([1, 2, 4, 8]), SIZES))
    args = ["codegen", "--shape", text, "--tokens", str(tokens), "--no-rtl", "--out", "{dir}/k"]
    if draw(st.booleans()):
        args += ["--pe", draw(st.sampled_from(["4x4", "4x8", "2x4", "8x8", "0x4", "1x1", "x", "4x", "100000x100000",
                                               "-4x4", "3x5", "64x128"]))]
    if draw(st.booleans()):
        args += ["--device", draw(st.sampled_from(["alveo-u280", "alveo-u280", "alveo-u55c", "versal-vck190",
                                                   "h100-sxm", "nope"]))]
    if draw(st.booleans()):
        args += ["--style", draw(st.sampled_from(["intar", "intar", "dataflow", "sequential", "magic"]))]
    if draw(st.booleans()):
        args += ["--stream-bytes", str(draw(st.sampled_from([0, 1, 3, 4, 8, 16, 16, 64, 4096, -8])))]
    if draw(st.booleans()):
        args += [draw(st.sampled_from(["--gated", "--no-gated"]))]
    return Case({}, tuple(args), outputs=("k",), names=("--shape", "--tokens", "--pe", "--device", "--style",
                                                       "--stream-bytes", "shape", "d", "f", "experts", "top_k"))


_KERNEL_CACHE: dict[str, Path] = {}


def generated_kernel() -> Path:
    """A small generated kernel (once per process), whose manifest the manifest cases edit."""
    if "k" not in _KERNEL_CACHE:
        root = Path(tempfile.mkdtemp(prefix="moearch-fuzz-kernel-"))
        atexit.register(shutil.rmtree, root, True)
        result = CliRunner().invoke(cli, ["codegen", "--shape", "d=16,f=32,experts=4,top_k=2", "--tokens", "4",
                                          "--pe", "4x8", "--out", str(root / "k")])
        assert result.exit_code == 0, result.output
        _KERNEL_CACHE["k"] = root / "k"
    return _KERNEL_CACHE["k"]


@st.composite
def manifest_cases(draw: st.DrawFn) -> Case:
    kernel = generated_kernel()
    files: Files = {f"k/{p.relative_to(kernel).as_posix()}": p.read_bytes()
                    for p in kernel.rglob("*") if p.is_file()}
    text = (kernel / "manifest.json").read_text()
    if draw(st.integers(0, 4)) == 0:
        files["k/manifest.json"] = draw(broken_text(text))
    else:
        files["k/manifest.json"] = json.dumps(draw(mutated(json.loads(text))), allow_nan=True)
    return Case(files, ("@manifest", "{dir}/k"), names=("manifest.json", "k"))


FAST_COMMANDS: dict[str, list[tuple[str, st.SearchStrategy]]] = {}


def _flag_values() -> st.SearchStrategy:
    return st.one_of(st.sampled_from([str(v) for v in ODD_NUMBERS]), st.sampled_from(ODD_STRINGS),
                     st.sampled_from(["mixtral-8x7b", "h100-sxm", "deepseek-v3", "alveo-u280", "sn40l-node",
                                      "ascend-910b", "fp8", "bf16", "nvfp4", "int4", "zipf:1.2", "uniform",
                                      "prefill", "decode", "4", "8", "16", "128"]))


FLAGS = {
    "model": ["-w", "-d", "--devices", "--tp", "--ep", "--pp", "--phase", "--sequences", "--isl", "--context",
              "--routing", "--dtype"],
    "serve": ["-w", "-d", "--devices", "--tp", "--ep", "--pp", "--isl", "--osl", "--concurrency", "--max-batch-size",
              "--schedule", "--engine", "--max-num-tokens", "--kv-block-tokens", "--memory-fraction", "--rate",
              "--requests", "--routing", "--dtype", "--kv-dtype", "--beyond-max-positions"],
    "serve-pd": ["-w", "-d", "--isl", "--osl", "--prefill-devices", "--prefill-sequences", "--decode-devices",
                 "--decode-sequences", "--mtp", "--concurrency", "--dtype"],
    "opb": ["-w", "-d", "--devices", "--tp", "--ep", "--pp", "--context", "--routing", "--dtype", "--kv-dtype"],
    "compare": ["-w", "-d", "--isl", "--osl", "--devices", "--concurrency", "--schedule", "--engine", "--dtype"],
    "coe": ["--experts", "-d", "--devices", "--concurrency", "--osl", "--isl", "--requests", "--seed", "--routing",
            "--dtype"],
    "fpga": ["-k", "-d", "-s", "--pe", "--macs-per-dsp", "--hbm-channels", "--bram", "--uram", "--switch-cycles",
             "--seq", "--heads", "--hidden", "--ffn", "-t", "--dims", "--experts", "--top-k", "--stream-bytes"],
    "devices": [],
    "workloads": [],
}


@st.composite
def flag_cases(draw: st.DrawFn) -> Case:
    command = draw(st.sampled_from(sorted(FLAGS)))
    args = [command]
    base = {"model": ["-w", "mixtral-8x7b", "-d", "h100-sxm"], "serve": ["-w", "mixtral-8x7b", "-d", "h100-sxm"],
            "serve-pd": ["-w", "mixtral-8x7b", "-d", "h100-sxm"], "opb": ["-w", "mixtral-8x7b"],
            "compare": ["-w", "mixtral-8x7b"]}.get(command, [])
    if draw(st.booleans()):
        args += base
    for flag in draw(st.lists(st.sampled_from(FLAGS[command] or ["--json"]), max_size=4)):
        if flag in ("--beyond-max-positions", "--json"):
            args.append(flag)
        else:
            args += [flag, draw(_flag_values())]
    if draw(st.booleans()):
        args.append(draw(st.sampled_from(["--json", "--bogus", "-x", "--", "extra"])))
    return Case({}, tuple(args), names=tuple(FLAGS[command]) + ("--json",))


SURFACES: dict[str, Surface] = {s.name: s for s in (
    Surface("device-yaml", "device YAML: fields, units, extends chains and cycles", device_cases()),
    Surface("hf-config", "Hugging Face config.json", hf_config_cases()),
    Surface("space-yaml", "DSE space YAML and constraint expressions", space_cases()),
    Surface("measured-csv", "measured-data CSV (validate)", measured_cases()),
    Surface("codegen", "codegen shapes and flags", codegen_cases()),
    Surface("manifest", "kernel manifests edited by hand (verify's loader)", manifest_cases()),
    Surface("cli-flags", "the flags of every fast command", flag_cases()),
)}


# ------------------------------------------------------------------------------------ property
#: an input that takes longer than this is a finding (the codegen issue: every call under 30 s)
SLOW_S = 30.0


class _NoAnswer(Exception):
    """Raised by the alarm when a command has not answered within ``SLOW_S``."""


def _alarm(signum, frame) -> None:  # noqa: ARG001 - the signal handler's signature
    raise _NoAnswer(f"no answer within {SLOW_S:.0f} s")


def _write(folder: Path, files: Files) -> None:
    for name, body in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8", errors="surrogatepass")


def _load_manifest(directory: str) -> int:
    """``verify``'s first step (the manifest check and every field the bench reads), in process."""
    from accelerators.errors import ConfigError
    from verification.kernel_bench.kernel import KernelDir

    try:
        kernel = KernelDir.load(directory)
        _ = (kernel.toplevel, kernel.sources, kernel.shape, kernel.activation, kernel.geometry(), kernel.front,
             kernel.switch_cycles, kernel.nominal_counts, kernel.design(), kernel.spec().validate())
    except ConfigError as error:
        raise SystemExit(2) from error
    return 0


def check(case: Case, folder: Path | None = None) -> Outcome:
    """Run ``case`` in a fresh folder; the property's verdict."""
    own = folder is None
    folder = Path(tempfile.mkdtemp(prefix="moearch-fuzz-")) if folder is None else folder
    try:
        _write(folder, case.files)
        args = [a.replace("{dir}", str(folder)) for a in case.args]
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, SLOW_S)
        try:
            return _judge(case, folder, args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    finally:
        if own:
            shutil.rmtree(folder, ignore_errors=True)


def _judge(case: Case, folder: Path, args: list[str]) -> Outcome:
    """The property's verdict on one run of ``args`` (files already written into ``folder``)."""
    if args[0] == "@manifest":
        try:
            code, message, error = _load_manifest(args[1]), "", None
        except SystemExit as stop:
            code, message, error = int(stop.code or 0), f"error: {stop.__cause__}", None
        except Exception as exc:  # noqa: BLE001 - what the property forbids
            code, message, error = 1, "", exc
    else:
        result = CliRunner().invoke(cli, args, catch_exceptions=True)
        code, message = result.exit_code, result.stderr or result.output
        error = result.exception if not isinstance(result.exception, SystemExit) else None
    if isinstance(error, _NoAnswer):
        return Outcome(code, str(error), message)
    if error is not None:
        return Outcome(code, f"traceback: {type(error).__name__}: {error}", message)
    if code not in (0, 2):
        return Outcome(code, f"exit code {code}", message)
    if code == 2:
        if "rror" not in message:
            return Outcome(code, "exit 2 without an error line", message)
        named = (any(n in message for n in case.names) or ("field '" in message and "got" in message)
                 or re.search(r"'-{1,2}[A-Za-z]", message) is not None or "extra argument" in message
                 or "No such command" in message)
        if not named:
            return Outcome(code, "the error names neither the file, the flag nor the field", message)
        left = [o for o in case.outputs if (folder / o).exists()]
        if left:
            return Outcome(code, f"exit 2 left output {left}", message)
    return Outcome(code, None, message)
