"""Worker processes for the streamed map's independent pieces (placement blocks, clusters), results in order.

The streamed map (:mod:`app.maps.scale`) runs most of its CPU in loops whose steps share nothing: each block of
points placed on the UMAP map (:mod:`app.maps.place`), each k-means cluster's SemDeDup, fine cells and neighbour
search (:mod:`app.maps.probe`). :func:`ordered` runs such a loop in ``workers`` processes and yields the results in
the order of the items, so what the caller writes is the same, row for row, whatever the number of workers.

- Processes are *spawned* (not forked): the parent holds a DuckDB connection and numba/BLAS threads, none of which
  may be cloned safely into a child. Each worker gets the loop's shared ``state`` once, then one item per task.
- BLAS runs on one thread everywhere, in the workers and in the one-process path alike: two processes with two BLAS
  threads each would oversubscribe two cores, and the same thread count keeps the float results identical between
  one worker and several.
- At most ``window`` items are in flight (sent and not yet handed back), so memory stays bounded when one early
  item is slow and later ones finish first.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: the default number of workers is the usable cores, at most this many (each holds one cluster: ~0.4 GB at 10M)
MAX_DEFAULT_WORKERS = 4

_STATE: Any = None
_LIMIT: Any = None


def default_workers() -> int:
    """The usable CPU cores (affinity-aware), at most :data:`MAX_DEFAULT_WORKERS`: the map is the only stage
    running when it runs, so it takes every core it may; the cap bounds the memory of many-core machines."""
    from app.maps.knn import usable_cores

    return max(1, min(usable_cores(), MAX_DEFAULT_WORKERS))


def _init(state: Any) -> None:
    global _STATE, _LIMIT
    from threadpoolctl import threadpool_limits

    _STATE = state
    _LIMIT = threadpool_limits(limits=1, user_api="blas")  # kept referenced: the limit lasts the worker's life


def _call(fn: Callable[[Any, Any], Any], item: Any) -> Any:
    return fn(_STATE, item)


def ordered(
    fn: Callable[[Any, Any], Any],
    items: Iterable[Any],
    *,
    state: Any,
    workers: int,
    window: int | None = None,
) -> Iterator[Any]:
    """``fn(state, item)`` for every item, yielded in the items' order. ``fn`` must be a module-level function
    (workers import it by name); ``state`` and each item are pickled to the workers. ``workers <= 1`` runs in this
    process (same BLAS thread count, same results). An exception in a worker is raised here; a worker that dies
    (killed, out of memory) is one :class:`~app.errors.MapError`. As with any spawned process, a script that calls
    this must guard its top level with ``if __name__ == "__main__":``."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from app.maps.knn import one_blas_thread

    if workers <= 1:
        with one_blas_thread():
            for item in items:
                yield fn(state, item)
        return
    window = max(1, window or 2 * workers)
    ctx = mp.get_context("spawn")
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(state,)) as pool:
            pending: deque[Any] = deque()
            for item in items:
                pending.append(pool.submit(_call, fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        # leaving the block joined the workers: their CPU time shows in the parent's RUSAGE_CHILDREN
    except BrokenProcessPool as e:
        from app.errors import MapError

        raise MapError(f"a map worker process stopped ({e}); try fewer --workers or more memory") from e


def _fit_child(conn: Any, base: Any, seed: int) -> None:
    """The fit process's body: the coordinates (or the error) sent back through ``conn``."""
    from app.maps import project

    try:
        conn.send(("ok", project.umap_fit(base, seed=seed)))
    except Exception as e:  # handed to the parent, which raises it
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


class BackgroundFit:
    """The UMAP fit of the sample (:func:`app.maps.project.umap_fit`) in a spawned process while the caller goes
    on; :meth:`result` waits for its coordinates. umap-learn fits on one thread when seeded, so on two cores the
    streamed map's cluster stages use the other core meanwhile. The same function on the same rows gives the same
    coordinates as a fit in the parent (numba's code is the same; BLAS keeps its default threads, as there). Leaving
    the ``with`` block early (an error) stops the fit process."""

    def __init__(self, base: Any, *, seed: int) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_fit_child, args=(child, base, seed), daemon=True)
        self._proc.start()
        child.close()
        self._taken = False

    def __enter__(self) -> BackgroundFit:
        return self

    def result(self) -> Any:
        """The fitted coordinates; a fit that failed or a process that died is one :class:`~app.errors.MapError`."""
        from app.errors import MapError

        try:
            status, value = self._conn.recv()
            self._taken = True
        except EOFError as e:
            self._proc.join()
            raise MapError(f"the UMAP fit process stopped (exit code {self._proc.exitcode})") from e
        if status != "ok":
            raise MapError(f"the UMAP fit failed: {value}")
        return value

    def __exit__(self, *exc: object) -> None:
        if self._proc.is_alive() and not self._taken:  # left early: the fit is not wanted
            self._proc.terminate()
        self._proc.join()
        self._conn.close()
