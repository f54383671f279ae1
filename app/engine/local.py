"""The local engine: this process, or a pool of spawned worker processes with at most ``2 * workers`` batches
in flight (bounded memory), results in input order.

The pool starts on first use and lives until :meth:`LocalEngine.close` (or the ``with`` block ends), so its
workers import Winnow and load their scorers once however many runs use the engine, as Ray's workers do."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from app.engine.base import Engine, arg_indices


class LocalEngine(Engine):
    name = "local"

    def __init__(self, *, workers: int = 1) -> None:
        self.workers = workers
        self._pool: Any = None

    def _get_pool(self) -> Any:
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"))
        return self._pool

    def map_batches(
        self, fn: Callable[..., Any], batches: Iterable[tuple], *, arg_index: int | Sequence[int] = 0
    ) -> Iterator[tuple[tuple, Any]]:
        idx = arg_indices(arg_index)
        if self.workers <= 1:
            for b in batches:
                yield b, fn(*(b[i] for i in idx))
            return
        pool = self._get_pool()
        pending: collections.deque = collections.deque()
        try:
            for b in batches:
                pending.append((b, pool.submit(_pooled, fn, *(b[i] for i in idx))))
                if len(pending) >= 2 * self.workers:
                    b0, f0 = pending.popleft()
                    yield b0, f0.result()
            while pending:
                b0, f0 = pending.popleft()
                yield b0, f0.result()
        finally:
            for _, f in pending:  # a failed or abandoned run: drop what is still queued
                f.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _pooled(fn: Callable[..., Any], *args: Any) -> Any:
    """Run in a pool process: ``fn(*args)``, then the batch's freed memory goes back to the OS, so a worker's
    RSS stays flat over a long run (:mod:`app.engine.memory`)."""
    from app.engine.memory import release

    try:
        return fn(*args)
    finally:
        release()
