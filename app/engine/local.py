"""The local engine: this process, or a pool of spawned worker processes with at most ``2 * workers`` batches
in flight (bounded memory), results in input order."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from app.engine.base import Engine, arg_indices


class LocalEngine(Engine):
    name = "local"

    def __init__(self, *, workers: int = 1) -> None:
        self.workers = workers

    def map_batches(
        self, fn: Callable[..., Any], batches: Iterable[tuple], *, arg_index: int | Sequence[int] = 0
    ) -> Iterator[tuple[tuple, Any]]:
        idx = arg_indices(arg_index)
        if self.workers <= 1:
            for b in batches:
                yield b, fn(*(b[i] for i in idx))
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pending: collections.deque = collections.deque()
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn")) as pool:
            for b in batches:
                pending.append((b, pool.submit(fn, *(b[i] for i in idx))))
                if len(pending) >= 2 * self.workers:
                    b0, f0 = pending.popleft()
                    yield b0, f0.result()
            while pending:
                b0, f0 = pending.popleft()
                yield b0, f0.result()
