"""Where chunks of designs are evaluated: inline, a local process pool, or a Ray cluster.

Every backend runs the same pure function (:func:`dse.evaluation.evaluate_chunk`) on the same
chunks (the job's chunk size, never the backend's worker count, decides them), so a job gives the
same rows on every backend; only the order in which chunks complete (and are appended to the store)
differs. ``map_chunks`` yields ``(chunk index, evaluations)``
as chunks complete.

* ``inline`` (default): in this process, one chunk after the other.
* ``process``: a ``concurrent.futures`` pool of ``workers`` spawned processes (spawn, not fork,
  so a parent that loaded torch or Ray threads is never forked).
* ``ray``: one Ray task per chunk; ``address`` joins an existing cluster (``ray start --head``
  on a head node, ``auto`` or ``ray://host:10001``), otherwise a local Ray is started with
  ``workers`` CPUs. If this process already initialised Ray, that session is used. Workers
  import ``dse``: install moearch on every node (or pass a ``runtime_env``).
"""
from __future__ import annotations

import multiprocessing
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Final

from accelerators.errors import ConfigError

from .evaluation import Evaluation, evaluate_chunk
from .space import Design, Space

BACKENDS: Final = ("inline", "process", "ray")


class Backend(ABC):
    name: str

    @abstractmethod
    def map_chunks(self, space: Space, chunks: Sequence[Sequence[Design]]) -> Iterator[tuple[int, list[Evaluation]]]:
        """Evaluate each chunk; yield ``(index, evaluations)`` as chunks complete."""

    def close(self) -> None:
        """Release workers (idempotent); a backend without workers has nothing to release."""
        return None

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineBackend(Backend):
    name = "inline"

    def map_chunks(self, space, chunks):
        for index, chunk in enumerate(chunks):
            yield index, evaluate_chunk(space, chunk)


class ProcessBackend(Backend):
    name = "process"

    def __init__(self, workers: int | None = None):
        self.workers = workers or max(1, min(4, multiprocessing.cpu_count()))
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def map_chunks(self, space, chunks):
        pool = self._executor()
        pending: dict[Future, int] = {pool.submit(evaluate_chunk, space, list(c)): i for i, c in enumerate(chunks)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    yield index, future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayBackend(Backend):
    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError(None, "--backend", "ray", "Ray installed (pip install 'moearch[dist]')") from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            kwargs: dict = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=workers or max(1, min(4, multiprocessing.cpu_count())), **kwargs)
            self._started = True
        self._task = ray.remote(evaluate_chunk)

    def map_chunks(self, space, chunks):
        ray = self._ray
        space_ref = ray.put(space)
        pending = {self._task.remote(space_ref, list(c)): i for i, c in enumerate(chunks)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    index = pending.pop(ref)
                    yield index, ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def make_backend(name: str = "inline", *, address: str | None = None, workers: int | None = None) -> Backend:
    """A backend by name; ConfigError for an unknown name or an address without Ray."""
    if name not in BACKENDS:
        raise ConfigError(None, "--backend", name, f"one of: {', '.join(BACKENDS)}")
    if address and name != "ray":
        raise ConfigError(None, "--address", address, "only with --backend ray")
    if workers is not None and workers < 1:
        raise ConfigError(None, "--workers", workers, "a whole number >= 1")
    if name == "inline":
        return InlineBackend()
    if name == "process":
        return ProcessBackend(workers)
    return RayBackend(address, workers)
