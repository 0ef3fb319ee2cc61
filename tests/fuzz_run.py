"""``make fuzz``: many generated inputs per surface of ``tests/fuzz_surfaces.py``; the counts (and
every kind of failure found, with one input that shows it) go to ``docs/robustness-data/fuzz.json``,
from which ``docs/robustness.md``'s table is generated (``benchmarks/docs_tables.py``).

Unlike the bounded test, a failing input does not stop the run: each kind of failure (its first
line) is counted, and the first input of each kind is kept.

    python tests/fuzz_run.py --examples 10000 [--surface NAME ...]
"""
from __future__ import annotations

import argparse
import collections
import json
import platform
import resource
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzz_surfaces import REPO, SURFACES, Case, check  # noqa: E402

OUT = REPO / "docs" / "robustness-data" / "fuzz.json"


def run_surface(name: str, examples: int, seed: int) -> dict:
    surface = SURFACES[name]
    codes: collections.Counter[int] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    first: dict[str, dict] = {}
    start = time.perf_counter()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(surface.cases)
    def run(case: Case) -> None:
        outcome = check(case)
        codes[outcome.exit_code] += 1
        if outcome.problem:
            kind = outcome.problem.splitlines()[0][:160]
            kinds[kind] += 1
            first.setdefault(kind, {"args": list(case.args), "files": {k: (v if isinstance(v, str) else repr(v))[:400]
                                                                       for k, v in case.files.items()
                                                                       if not k.startswith("k/") or k.endswith(".json")},
                                    "message": outcome.message[-600:]})

    hypothesis_seed(seed)(run)()
    tried = sum(codes.values())
    return {"surface": name, "doc": surface.doc, "inputs": tried, "accepted": codes.get(0, 0),
            "refused": codes.get(2, 0), "failures": sum(kinds.values()),
            "kinds": [{"problem": k, "count": n, "example": first[k]} for k, n in kinds.most_common()],
            "seconds": round(time.perf_counter() - start, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000, help="inputs per surface")
    parser.add_argument("--surface", action="append", choices=sorted(SURFACES), help="only these (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--memory-gb", type=float, default=12.0,
                        help="address-space limit of this process: an input that needs more is a MemoryError "
                             "finding instead of the machine's OOM killer ending the run")
    args = parser.parse_args(argv)
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    previous = json.loads(args.out.read_text()) if args.out.is_file() else {"surfaces": {}}
    surfaces = dict(previous.get("surfaces", {}))
    for name in args.surface or sorted(SURFACES):
        result = run_surface(name, args.examples, args.seed)
        result["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        surfaces[name] = result
        print(f"{name:14s} {result['inputs']:>7,} inputs  {result['accepted']:>6,} accepted  "
              f"{result['refused']:>6,} refused  {result['failures']:>4} failures  {result['seconds']:>7.1f} s",
              flush=True)
        for kind in result["kinds"]:
            print(f"    {kind['count']:>5} x {kind['problem']}")
    data = {"tool": "tests/fuzz_run.py", "hypothesis": version("hypothesis"), "python": platform.python_version(),
            "surfaces": dict(sorted(surfaces.items()))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(args.out)
    return 1 if any(s["failures"] for s in surfaces.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
