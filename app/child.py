"""Run one measurement in a fresh spawned process and get its result back (the dry-run forecasts use it).

Why a fresh process: a forecast must pay imports and model loading the way the real run pays them, and a child's
peak RSS (``ru_maxrss``) is its own, not the parent's. The ``target`` is called as ``target(conn, *args)`` and sends
one tuple on ``conn``: ``("ok", value, ...)`` or ``("error", "one line")``.
"""

from __future__ import annotations

from typing import Any


def run_child(target: Any, args: tuple, what: str, *, error: type[Exception]) -> tuple:
    """``target``'s values after ``"ok"``; a one-line ``error`` naming ``what`` if it failed or died."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=target, args=(child, *args))
    p.start()
    child.close()
    try:
        msg = parent.recv()
    except EOFError as e:
        raise error(f"the {what} died (exit code {p.exitcode})") from e
    finally:
        p.join()
    if msg[0] != "ok":
        raise error(f"the {what} failed: {msg[1]}")
    return msg[1:]
