"""Engines: where Winnow's per-document work runs (scorers over batches), locally or on a Ray cluster.

One interface, :class:`Engine`, with one method that matters: :meth:`Engine.map_batches` yields
``(batch, fn(*batch[arg_index...]))`` **in input order** with a bounded number of batches in flight, so every
caller (``winnow score``, near-duplicate bands, headless ``winnow apply``) writes the same rows in the same order
whatever runs the work. That order is what makes a Ray run's output byte-identical to a local one.

- :class:`app.engine.local.LocalEngine`: this process (``workers=1``) or a pool of ``workers`` spawned processes.
- :class:`app.engine.ray_engine.RayEngine`: Ray tasks on a local Ray cluster started for the run
  (``num_cpus=workers``) or on an existing one (``address``); Ray is the optional extra ``winnow[ray]``.

Functions passed to an engine must be importable top-level functions (they are pickled by reference); scorer
objects are built once per worker process and cached there (:func:`app.signals.engine._scorer`), which is how
models load once per worker under both engines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from app.errors import EngineError

ENGINES = ("local", "ray")
__all__ = ["ENGINES", "Engine", "EngineError", "make_engine"]


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


def make_engine(name: str = "local", *, workers: int = 1, address: str | None = None) -> Engine:
    """The engine called ``name`` (``local`` or ``ray``); a one-line error for anything else."""
    if workers < 1:
        raise EngineError("--workers must be at least 1")
    if name == "local":
        if address:
            raise EngineError("--ray-address needs --engine ray")
        from app.engine.local import LocalEngine

        return LocalEngine(workers=workers)
    if name == "ray":
        from app.engine.ray_engine import RayEngine

        return RayEngine(workers=workers, address=address)
    raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def arg_indices(arg_index: int | Sequence[int]) -> list[int]:
    return [arg_index] if isinstance(arg_index, int) else list(arg_index)
