"""The benchmark protocol on spaces small enough to enumerate (``benchmarks/dse_agents.py``).

* :mod:`dse.bench.spaces` — the benchmark spaces (``bench_space(name)``);
* :mod:`dse.bench.table` — :class:`MetricTable` (every design evaluated once, cached as ``.npz``)
  and :class:`TableEvaluator` (answers from the table, counts unique evaluations like a job);
* :mod:`dse.bench.runner` — :func:`run_agent`: an agent against a table, the job's loop;
* :mod:`dse.bench.stats` — normalised regret, within 1 %, the exact distribution of random
  search's best value, hypervolume ratio.
"""
from .runner import Trace, run_agent
from .spaces import BENCH_SPACES, QUICK_SPACES, bench_space, list_bench_spaces
from .stats import RandomExact, Reference, random_exact, random_monte_carlo, reference_of
from .table import MetricTable, TableEvaluator, enumerate_space, load_table

__all__ = ["BENCH_SPACES", "MetricTable", "QUICK_SPACES", "RandomExact", "Reference", "TableEvaluator", "Trace",
           "bench_space", "enumerate_space", "list_bench_spaces", "load_table", "random_exact", "random_monte_carlo",
           "reference_of", "run_agent"]
