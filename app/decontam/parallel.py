"""Match batches of documents against a benchmark index in several processes, in input order.

Matching is CPU-bound Python (word splitting and hashing) plus numpy, so threads do not help; with
``workers > 1`` each worker process (spawned, like :mod:`app.engine.local`) receives the index once, at start,
and then batches of texts. At most ``2 * workers`` batches are in flight, so memory is ``workers`` copies of
the index plus a few batches -- still bounded by the benchmark size, not the corpus.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from app.decontam.index import BenchIndex, Matches

T = TypeVar("T")
_INDEX: BenchIndex | None = None


def _init(index: BenchIndex) -> None:
    global _INDEX
    _INDEX = index


def _match(texts: list[str]) -> Matches:
    assert _INDEX is not None
    return _INDEX.match(texts)


def match_batches(index: BenchIndex, batches: Iterable[tuple[T, list[str]]], *, workers: int = 1) -> Iterator[tuple[T, Matches]]:  # fmt: skip
    """``(tag, Matches)`` for each ``(tag, texts)`` of ``batches``, in order (the tag travels along, e.g. the
    batch's ids); ``workers`` processes match them (1: in this process)."""
    if workers <= 1:
        for tag, texts in batches:
            yield tag, index.match(texts)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    pending: deque[tuple[T, Any]] = deque()
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init, initargs=(index,)) as ex:
        for tag, texts in batches:
            pending.append((tag, ex.submit(_match, texts)))
            if len(pending) >= 2 * workers:
                t, fut = pending.popleft()
                yield t, fut.result()
        while pending:
            t, fut = pending.popleft()
            yield t, fut.result()
