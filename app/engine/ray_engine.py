"""The Ray engine: batches run as Ray tasks, on a local cluster started for the run or on ``address``.

Results come back in input order with at most ``2 * workers`` batches in flight, exactly like the local pool,
so a run writes the same rows in the same order. Ray's worker processes are reused across tasks, and scorers
are cached per process, so a model loads once per worker. A task's exception comes back as the original
Winnow error (one line), not a Ray traceback.

Where the overhead over the local pool goes (``bench/bench_engine.py`` measures the scoring's own CPU inside the
workers, :mod:`app.engine.timing`, and subtracts it from every process's CPU): a batch's trip through Ray costs
about what it costs through the pool. Per 6,000 realmix documents (~0.7 CPU-s of Gopher + C4 + FineWeb scoring):
the texts pickled out (~4 ms in the driver) and unpickled in the worker (~3 ms), the columns sent back as Arrow
arrays (:mod:`app.engine.columns`; as lists they cost the driver ~11 ms), the worker's memory release (~6 ms);
per-thread CPU from ``/proc`` shows nothing else in the workers. What Ray adds is time-proportional background:
an idle cluster uses ~0.03 CPU-s per second (half of it the workers' core-worker loop polling for signals every
10 ms, fixed in Ray's C++, then the raylet and the GCS), more while tasks run, so its share grows with the
run's wall time on a loaded machine. A local cluster is started lean for that reason: no dashboard, monitor or
log monitor, no metrics or task events, and workers that import Winnow through the inherited ``PYTHONPATH`` (the
prestarted ones serve the tasks).

Ray is optional (``pip install 'winnow[ray]'``); without it ``--engine ray`` says so in one line.
"""

from __future__ import annotations

import collections
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from app.engine.base import Engine, arg_indices
from app.errors import EngineError, MissingDependency, WinnowError

#: tries to start a local Ray cluster (its raylet must register within a fixed 30 s, which a loaded machine misses)
STARTS = 3


def _call(fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """Run in a Ray worker: ``(True, result)`` or ``(False, one-line error)`` (Winnow errors keep their text)."""
    from app.engine.memory import release

    try:
        return True, fn(*args)
    except WinnowError as e:
        return False, (type(e).__name__, str(e))
    except Exception as e:  # a bug: keep the type and the message, not the remote traceback
        return False, ("EngineError", f"{type(e).__name__}: {e}")
    finally:
        release()  # the batch's freed memory back to the OS: a worker's RSS stays flat (app.engine.memory)


class RayEngine(Engine):
    name = "ray"

    def __init__(self, *, workers: int = 1, address: str | None = None) -> None:
        try:
            import ray
        except ImportError as e:
            raise MissingDependency("ray", "--engine ray") from e
        self.workers, self.address, self._ray = workers, address, ray
        self._started = False
        if not ray.is_initialized():
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local cluster for one run needs no token
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
            if address:  # the cluster's workers import app.* from this checkout
                kw["runtime_env"] = {"env_vars": {"PYTHONPATH": _project_root()}}
            for attempt in range(STARTS):
                before = _children()
                try:
                    if address:
                        ray.init(address=address, **kw)
                    else:
                        # the environment is inherited by the raylet, so by every worker it starts
                        with _environ(_local_env()), _lean_head():
                            ray.init(num_cpus=workers, **kw)
                    break
                except Exception as e:  # ConnectionError, a bad address, no free port
                    # a failed local start leaves Ray's GCS, monitor and dashboard processes running: end them
                    ray.shutdown()
                    _end(_children() - before)
                    # Ray waits a fixed 30 s for its raylet: on a busy machine a local start can miss it
                    if not address and "timed out during startup" in str(e) and attempt + 1 < STARTS:
                        continue
                    where = "address " + address if address else "local"
                    raise EngineError(f"cannot start Ray ({where}): {e}") from e
            self._started = True
        self._task = ray.remote(num_cpus=1)(_call)

    def describe(self) -> dict[str, Any]:
        return {"engine": "ray", "workers": self.workers, **({"address": self.address} if self.address else {})}

    def map_batches(
        self, fn: Callable[..., Any], batches: Iterable[tuple], *, arg_index: int | Sequence[int] = 0
    ) -> Iterator[tuple[tuple, Any]]:
        idx = arg_indices(arg_index)
        ray = self._ray
        pending: collections.deque = collections.deque()

        def take() -> tuple[tuple, Any]:
            b0, ref = pending.popleft()
            ok, val = ray.get(ref)
            if not ok:
                from app import errors

                cls = getattr(errors, val[0], None)
                raise (cls if isinstance(cls, type) and issubclass(cls, WinnowError) else EngineError)(val[1])
            return b0, val

        for b in batches:
            pending.append((b, self._task.remote(fn, *(b[i] for i in idx))))
            if len(pending) >= 2 * self.workers:
                yield take()
        while pending:
            yield take()

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


#: a local cluster's processes read these at start (Ray's ``RAY_<config>`` variables): no metrics collected
#: or exported (nothing reads them: the run has no dashboard), no per-task events sent to the GCS
QUIET = {
    "RAY_enable_metrics_collection": "false",
    "RAY_task_events_report_interval_ms": "0",
    "RAY_event_stats": "false",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def _local_env() -> dict[str, str]:
    """The variables a local cluster starts with: :data:`QUIET`, and ``PYTHONPATH`` with this checkout first, so
    the workers import ``app.*`` as plain (prestarted) workers; a ``runtime_env`` would make Ray start
    dedicated workers for it and leave the prestarted ones idle."""
    path = os.environ.get("PYTHONPATH")
    return {**QUIET, "PYTHONPATH": _project_root() + (os.pathsep + path if path else "")}


@contextlib.contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """``env`` set in ``os.environ`` inside the block, the previous values back after it."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _lean_head() -> Iterator[None]:
    """A local cluster started inside the block runs without Ray's autoscaler monitor and log monitor.

    Why: on the 2 cores they share with the run, each costs about 1 CPU-second to start and the log monitor
    about 0.01 CPU-s per second after (it tails the workers' log files for a driver that does not print them,
    ``log_to_driver=False``); a fixed ``num_cpus`` cluster never autoscales. ``ray.init`` does not expose the
    two options (``ray start --no-monitor --include-log-monitor=false`` does), so the parameters ``ray.init``
    builds get them while the block lasts. Where a Ray version names them otherwise, nothing changes."""
    try:
        from ray._private.parameter import RayParams
    except ImportError:
        yield
        return
    plain = RayParams.__init__

    def lean(self: Any, *args: Any, **kwargs: Any) -> None:
        plain(self, *args, **kwargs)
        if getattr(self, "no_monitor", None) is False and getattr(self, "include_log_monitor", True) is None:
            self.no_monitor, self.include_log_monitor = True, False

    RayParams.__init__ = lean
    try:
        yield
    finally:
        RayParams.__init__ = plain


def _children() -> set[int]:
    """Ids of this process's live child processes (from ``/proc``; empty where there is none)."""
    from pathlib import Path

    me, out = os.getpid(), set()
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == me:
                out.add(int(p.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _end(pids: set[int]) -> None:
    """Terminate the child processes ``pids`` (a failed Ray start's) and reap them; killed after 5 s."""
    import signal
    import time

    left = set(pids)
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 1.0)):
        for pid in left:
            try:
                os.kill(pid, sig)
            except OSError:
                continue
        end = time.monotonic() + wait
        while left and time.monotonic() < end:
            for pid in list(left):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        left.discard(pid)
                except ChildProcessError:  # already reaped
                    left.discard(pid)
            time.sleep(0.05)


def _project_root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2])
