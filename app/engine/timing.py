"""The CPU a batch's own work takes, measured inside whichever process runs it (this one, a pool worker, a Ray
worker), so an engine's overhead can be told apart from the work it carries.

Why: an engine's cost over the single-process path is small next to the work (a few per cent), and the work's
own CPU moves by 10-20 % from run to run on a shared machine (cache and memory-bandwidth contention, other
processes), so "all CPU of the pool or of Ray minus the single process's CPU" mostly measures that noise.
Measuring the work in the worker and subtracting it from the same run's total leaves what the engine itself
spent: (de)serialising the batches, Ray's processes, the per-batch memory release (``bench/bench_engine.py``).

``timed`` is a top-level function of an importable module, so both engines can pickle it by reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``(fn(*args), CPU seconds of this process while it ran)``.

    Process CPU time (all threads), not the calling thread's: work that a scorer hands to native threads
    counts as work. In a Ray worker the core worker's own threads run meanwhile too, for a few milliseconds
    per second, which this then counts as work; the engine's overhead is understated by that much."""
    start = time.process_time()
    out = fn(*args)
    return out, time.process_time() - start
