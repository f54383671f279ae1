"""The engine interface (see :mod:`app.engine`): ordered, bounded ``map_batches`` over batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any


class Engine:
    """Base class: run ``fn`` over batches, results in input order, bounded in flight."""

    name = "base"
    workers = 1

    def map_batches(
        self, fn: Callable[..., Any], batches: Iterable[tuple], *, arg_index: int | Sequence[int] = 0
    ) -> Iterator[tuple[tuple, Any]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What a manifest or a log says about where the work ran."""
        return {"engine": self.name, "workers": self.workers}

    def close(self) -> None:
        """Release workers (pools, a Ray cluster this engine started)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def arg_indices(arg_index: int | Sequence[int]) -> list[int]:
    return [arg_index] if isinstance(arg_index, int) else list(arg_index)
