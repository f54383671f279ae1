"""A workspace a long-lived process keeps open only while it uses it, so other processes can use it too.

The dashboard used to hold its DuckDB connection for its whole life, and DuckDB's file lock then refused every
other process (``winnow info``, ``winnow score``, ``duckdb FILE -c ...``), readers included. A
:class:`SharedWorkspace` is a :class:`~app.workspace.Workspace` whose connection opens on first use and closes

- after ``idle_s`` seconds without use (plain DuckDB readers, which cannot ask, get the file then), or
- at once when another process asks for the file (:func:`app.locks.pending_requests`: a waiting ``winnow``
  command) and nothing here is using it,

and reopens transparently on the next use (``ws.con`` / ``ws.cursor()``), waiting up to ``wait_s`` for a writer
elsewhere. Opening costs ~70-100 ms whatever the size of the file (docs/concurrency.md): a burst of interactions
shares one connection; only the first after a pause pays it.

"In use": a Streamlit script thread or a dashboard job thread that touched the workspace uses it until it ends
(a script run, a job); a cursor from :meth:`SharedWorkspace.cursor` from its creation until it is closed or
dropped (the Thresholds panel's HTTP handlers run several queries on one); any other touch for ``grace_s``.
DuckDB itself refuses to close a connection while one of its cursors runs a query, so a close never interrupts
work: the release is retried on the next tick.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from app.locks import connect, pending_requests
from app.workspace import Workspace, bound_memory

#: threads whose whole life is one use: a Streamlit script run, a dashboard job
BOUNDED_THREADS = ("ScriptRunner.scriptThread", "winnow-job-")
IDLE_S = float(os.environ.get("WINNOW_UI_IDLE_S", "3"))
TICK_S = 0.2
#: an open cursor unused this long no longer keeps the connection (a cursor someone forgot to close)
CURSOR_STALE_S = 30.0


class SharedWorkspace(Workspace):
    """A workspace whose connection is opened on use and released when idle or asked for (module docstring)."""

    def __init__(self, path: Path, *, idle_s: float = IDLE_S, wait_s: float = 3.0, grace_s: float = 0.5):
        self._lock = threading.RLock()
        self._con: Any = None
        self._touched: dict[threading.Thread, float] = {}
        self._cursors: dict[int, float] = {}  # open cursors: id -> last use
        self._bootstrapped = False
        self.idle_s, self.wait_s, self.grace_s = idle_s, wait_s, grace_s
        self.opens = self.releases = 0
        super().__init__(Path(path), None, read_only=False)
        _reaper().add(self)

    @property
    def con(self) -> Any:
        """The open connection (opened now when released: may wait ``wait_s`` for another process)."""
        with self._lock:
            self._touched[threading.current_thread()] = time.monotonic()
            if self._con is None:
                if not self._bootstrapped:  # the first open creates the tables a new workspace needs
                    ws = Workspace.open(self.path, create=True, wait=self.wait_s)
                    self._con, self._bootstrapped = ws.con, True
                else:
                    self._con = connect(self.db_path, read_only=False, wait=self.wait_s, on_wait=None)
                    bound_memory(self._con)  # as the first open (Workspace.open) set it
                self.opens += 1
            return self._con

    @con.setter
    def con(self, value: Any) -> None:
        self._con = value

    def cursor(self) -> Any:
        """A new cursor, counted as a use until it is closed or dropped (see :class:`_Cursor`). Opened and counted
        under the lock: a :meth:`release` between the two would close the connection under the new cursor."""
        with self._lock:
            return _Cursor(self.con.cursor(), self)

    @property
    def is_open(self) -> bool:
        return self._con is not None

    def in_use(self, *, grace: float | None = None) -> bool:
        """Whether the connection is in use now: an open cursor (used within :data:`CURSOR_STALE_S`), a running
        script or job thread that touched it, or any other thread within ``grace`` seconds of its last touch."""
        now, grace = time.monotonic(), self.grace_s if grace is None else grace
        with self._lock:
            if any(now - t < CURSOR_STALE_S for t in self._cursors.values()):
                return True
            for th, t in list(self._touched.items()):
                if not th.is_alive():
                    del self._touched[th]
                elif th.name.startswith(BOUNDED_THREADS) or now - t < grace:
                    return True
        return False

    def idle_for(self) -> float:
        """Seconds since the last touch by any thread."""
        with self._lock:
            last = max(self._touched.values(), default=0.0)
        return time.monotonic() - last

    def release(self) -> bool:
        """Close the connection if nothing uses it (the next use reopens it); True when it was closed."""
        import duckdb

        with self._lock:
            if self._con is None or self.in_use():
                return False
            try:
                self._con.close()
            except duckdb.Error:  # a query still runs on one of its cursors: try again on the next tick
                return False
            self._con = None
            self.releases += 1
            return True

    def tick(self) -> None:
        """Release when asked for by another process, or when idle for ``idle_s``."""
        if self._con is None:
            return
        if self.idle_for() >= self.idle_s or pending_requests(self.db_path):
            self.release()

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):
            if self._con is not None:
                self._con.close()
            self._con = None


class _Cursor:
    """A DuckDB cursor that tells its :class:`SharedWorkspace` it is in use from creation to ``close()`` (or to
    being dropped), so a request running several queries is never cut between two of them. Everything else is
    the cursor's own (attribute access is forwarded); ``execute`` returns this wrapper, as DuckDB returns the
    cursor. A cursor unused for :data:`CURSOR_STALE_S` no longer counts (a leak must not pin the file)."""

    __slots__ = ("_cur", "_key", "_owner")

    def __init__(self, cur: Any, owner: SharedWorkspace):
        self._cur, self._owner, self._key = cur, owner, id(self)
        with owner._lock:
            owner._cursors[self._key] = time.monotonic()

    def _touch(self) -> None:
        with self._owner._lock:
            if self._key in self._owner._cursors:
                self._owner._cursors[self._key] = time.monotonic()

    def __getattr__(self, name: str) -> Any:
        if name in _Cursor.__slots__:  # not set yet (a failed __init__): never recurse
            raise AttributeError(name)
        self._touch()
        return getattr(self._cur, name)

    def execute(self, *args: Any, **kwargs: Any) -> _Cursor:
        self._touch()
        self._cur.execute(*args, **kwargs)
        return self

    def _forget(self) -> None:
        with self._owner._lock:
            self._owner._cursors.pop(self._key, None)

    def close(self) -> None:
        self._forget()
        self._cur.close()

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._forget()


class _Reaper:
    """One daemon thread per process ticking every open :class:`SharedWorkspace`. It is stopped, and a tick in
    progress waited for, when the interpreter exits: a daemon thread still inside DuckDB then (releasing a
    workspace) was killed mid-call and the process aborted ("terminate called ... FATAL: exception not
    rethrown") after every test had passed, in about one run of three of the Thresholds page tests."""

    def __init__(self) -> None:
        self.items: weakref.WeakSet[SharedWorkspace] = weakref.WeakSet()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="winnow-workspace-reaper", daemon=True)
        self.thread.start()
        atexit.register(self.stop)

    def add(self, ws: SharedWorkspace) -> None:
        self.items.add(ws)

    def stop(self) -> None:
        """End the loop after the tick in progress (bounded: a tick releases idle workspaces, quick)."""
        self.stopped.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        while not self.stopped.wait(TICK_S):
            for ws in list(self.items):
                with contextlib.suppress(Exception):  # a failed release is retried on the next tick
                    ws.tick()


_REAPER: list[_Reaper] = []
_REAPER_LOCK = threading.Lock()


def _reaper() -> _Reaper:
    with _REAPER_LOCK:
        if not _REAPER:
            _REAPER.append(_Reaper())
        return _REAPER[0]
