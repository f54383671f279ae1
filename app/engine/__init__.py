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

from app.engine.base import Engine
from app.errors import EngineError

ENGINES = ("local", "ray")
__all__ = ["ENGINES", "Engine", "EngineError", "make_engine"]


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
