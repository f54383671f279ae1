"""Waiting for a workspace's file lock, and asking the process that holds it to let go.

DuckDB lets one process write a database file, or any number of processes read it, never both at once. Winnow
shares a workspace between processes (see docs/concurrency.md) by keeping every hold short: the dashboard keeps
its connection only while it uses it (:mod:`app.shared_workspace`), and a command that finds the file locked
waits instead of failing. :func:`connect` is that wait: it retries for up to ``wait`` seconds, says once whom
it waits for, and meanwhile leaves a *request file* (``winnow.duckdb.want-<pid>``) beside the database so a
dashboard holding it idle closes its connection at once rather than after its idle delay.

How long commands wait: :func:`lock_wait` sets it for a block (``winnow`` sets :data:`CLI_WAIT_S`, or
``$WINNOW_LOCK_WAIT``); library calls outside it do not wait, so a test or a script sees a lock at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.errors_io import WorkspaceBusy, holder, lock_holder

#: how long a ``winnow`` command waits for a workspace another process holds (``$WINNOW_LOCK_WAIT`` overrides)
CLI_WAIT_S = 60.0
REQUEST_PREFIX = ".want-"

_state = threading.local()


def default_wait() -> float:
    """Seconds :func:`connect` waits when its caller names none: the innermost :func:`lock_wait` in this
    thread, else 0."""
    wait = getattr(_state, "wait", None)
    return 0.0 if wait is None else wait


@contextlib.contextmanager
def lock_wait(seconds: float | None = None) -> Iterator[float]:
    """Within this block (in this thread), opening a locked workspace waits up to ``seconds`` (default
    ``$WINNOW_LOCK_WAIT`` or :data:`CLI_WAIT_S`) before failing."""
    if seconds is None:
        try:
            seconds = float(os.environ.get("WINNOW_LOCK_WAIT", CLI_WAIT_S))
        except ValueError:
            seconds = CLI_WAIT_S
    prev = getattr(_state, "wait", None)
    _state.wait = max(0.0, seconds)
    try:
        yield _state.wait
    finally:
        _state.wait = prev


def is_lock_error(msg: str) -> bool:
    """Whether a DuckDB IO error is another process's lock on the file (not a missing or broken file)."""
    low = msg.lower()
    return "lock" in low and ("conflicting" in low or "could not set" in low)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def pending_requests(db: Path) -> list[int]:
    """PIDs of other live processes waiting for ``db`` (their request files); stale files are removed."""
    out: list[int] = []
    try:
        names = [p for p in db.parent.iterdir() if p.name.startswith(db.name + REQUEST_PREFIX)]
    except OSError:
        return out
    for p in names:
        try:
            pid = int(p.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        if _alive(pid):
            out.append(pid)
        else:  # its process died while waiting
            with contextlib.suppress(OSError):
                p.unlink()
    return out


@contextlib.contextmanager
def _request(db: Path) -> Iterator[None]:
    """A request file naming this process while it waits (none where the directory is not writable)."""
    path = db.with_name(f"{db.name}{REQUEST_PREFIX}{os.getpid()}")
    made = False
    with contextlib.suppress(OSError):
        path.write_text(" ".join(sys.argv)[:500] + "\n")
        made = True
    try:
        yield
    finally:
        if made:
            with contextlib.suppress(OSError):
                path.unlink()


def say_waiting(text: str) -> None:
    """The CLI's "waiting for ..." line (stderr, once per wait)."""
    print(f"winnow: {text}", file=sys.stderr, flush=True)


def busy_error(root: Path, msg: str, waited: float) -> WorkspaceBusy:
    after = f" (waited {waited:.0f} s)" if waited >= 1 else ""
    return WorkspaceBusy(f"workspace {root} is in use by {lock_holder(msg)}{after}")


def connect(
    db: Path,
    *,
    read_only: bool,
    wait: float | None = None,
    on_wait: Callable[[str], None] | None = say_waiting,
) -> Any:
    """``duckdb.connect(db)``, waiting up to ``wait`` seconds (default :func:`default_wait`) while another process
    holds the file, with one ``on_wait`` message naming it. Raises :class:`WorkspaceBusy` when the wait runs out
    and lets other DuckDB errors through (the caller words them)."""
    import duckdb

    return retry_locked(lambda: duckdb.connect(str(db), read_only=read_only), db, wait=wait, on_wait=on_wait)


def attach(
    con: Any,
    db: Path,
    *,
    alias: str,
    read_only: bool,
    wait: float | None = None,
    on_wait: Callable[[str], None] | None = say_waiting,
) -> None:
    """``ATTACH db AS alias`` on ``con`` (read-only or not), waiting like :func:`connect` while another process
    holds the file. A read-only attach shares the file with other readers (plain DuckDB clients included)."""
    mode = " (READ_ONLY)" if read_only else ""
    path = str(db).replace("'", "''")
    retry_locked(lambda: con.execute(f"ATTACH '{path}' AS {alias}{mode}"), db, wait=wait, on_wait=on_wait)


def retry_locked(
    attempt: Callable[[], Any],
    db: Path,
    *,
    wait: float | None = None,
    on_wait: Callable[[str], None] | None = say_waiting,
) -> Any:
    """``attempt()`` (an open or attach of ``db``), retried with back-off for up to ``wait`` seconds while DuckDB
    says another process holds the file's lock; leaves a request file meanwhile (module docstring)."""
    import duckdb

    budget = default_wait() if wait is None else max(0.0, wait)
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        delay = 0.05
        while True:
            try:
                return attempt()
            except duckdb.IOException as e:
                msg = str(e).splitlines()[0] if str(e) else ""
                if not is_lock_error(msg):
                    raise  # a missing, refused or broken file: the caller words it
                waited = time.monotonic() - start
                if waited >= budget:
                    raise busy_error(db.parent, msg, waited) from e
                if delay == 0.05:  # first refusal: ask a dashboard to let go, say whom we wait for
                    stack.enter_context(_request(db))
                    if on_wait is not None:
                        found = holder(msg)
                        who = f"PID {found[0]}: {found[1]}" if found else "another process"
                        on_wait(f"waiting for {who} to release {db.parent} (up to {budget:.0f} s) ...")
                time.sleep(min(delay, max(0.0, budget - waited)))
                delay = min(delay * 1.6, 0.5)
