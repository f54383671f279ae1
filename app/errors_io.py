"""Storage failures as one-line errors that say what the user can do.

A full disk, a refused permission, a read-only file system or a workspace locked by another process reach
Winnow from several libraries (``OSError``, DuckDB's IO and commit errors with their raw JSON, tantivy's Rust
IO errors). :func:`storage_error` recognises them wherever they come from; :func:`lock_holder` names the
process holding a workspace. The CLI and the dashboard use both, so none of these is an "internal error".
"""

from __future__ import annotations

import contextlib
import errno
import re
from pathlib import Path

from app.errors import WorkspaceError


class WorkspaceBusy(WorkspaceError):
    """The workspace's file is locked by another process (after waiting, when a wait was allowed)."""


def holder(msg: str) -> tuple[str, str] | None:
    """``(pid, command line)`` of the process holding a DuckDB file, from DuckDB's "Conflicting lock is held in
    PROGRAM (PID N)" (the command line from /proc where there is one); None when the message names none."""
    m = re.search(r"held in (.*?) \(PID (\d+)\)", msg)
    if not m:
        return None
    prog, pid = Path(m.group(1)).name, m.group(2)
    with contextlib.suppress(OSError):  # Linux: the holder's command line says which tool it is
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        cmd = " ".join(a.decode(errors="replace") for a in argv if a)
        prog = cmd if len(cmd) <= 120 else cmd[:119] + "…"
    return pid, prog


def lock_holder(msg: str) -> str:
    """Who holds the lock, from DuckDB's "Conflicting lock is held in PROGRAM (PID N)", and what to do."""
    found = holder(msg)
    if found is None:
        return "another process: close the dashboard or wait for the other winnow command to finish, then try again"
    pid, prog = found
    return (
        f"another process (PID {pid}: {prog}): close that dashboard or wait for that command to finish"
        f" (or stop it: kill {pid}), then try again"
    )


# what each storage failure means for the user, and what they can do about it
_STORAGE = {
    errno.ENOSPC: ("no space left on the disk", "free some space or choose a directory on a disk with room"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or choose a directory on a disk with room"),
    errno.EACCES: ("permission denied", "give this user access to it or choose another directory"),
    errno.EPERM: ("operation not permitted", "give this user access to it or choose another directory"),
    errno.EROFS: ("read-only file system", "choose a writable directory (copy the workspace there to change it)"),
}
_STORAGE_TEXT = [  # the same failures as other libraries spell them (DuckDB, tantivy's Rust errors)
    (re.compile(r"no space left on device|\"errno\":\s*\"28\"|os error 28\b", re.I), errno.ENOSPC),
    (re.compile(r"disk quota exceeded|os error 122\b", re.I), errno.EDQUOT),
    (re.compile(r"read-only file system|os error 30\b", re.I), errno.EROFS),
    (re.compile(r"permission denied|os error 13\b", re.I), errno.EACCES),
]
_QUOTED_PATH = re.compile(r'(?:file|path|directory)\s+\\?"(.+?)\\?"', re.I)


def storage_error(exc: BaseException) -> WorkspaceError | None:
    """A one-line WorkspaceError saying what to do when ``exc`` (or an exception it was raised from) is a full
    disk, a refused permission or a read-only file system, whichever library raised it (an ``OSError``, a DuckDB
    IO or commit error, a tantivy IO error); ``None`` for anything else. The CLI and the dashboard use it so such a
    failure is never an "internal error" with the library's raw message."""
    seen: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and len(seen) < 8 and all(e is not s for s in seen):
        seen.append(e)
        code, path = None, None
        if isinstance(e, OSError) and e.errno in _STORAGE:
            code, path = e.errno, e.filename
        else:
            text = str(e)
            code = next((c for rx, c in _STORAGE_TEXT if rx.search(text)), None)
            m = _QUOTED_PATH.search(text)
            path = m.group(1) if m else None
        if code is not None:
            what, todo = _STORAGE[code]
            where = f" ({path})" if path else ""
            return WorkspaceError(f"{what}{where}: {todo}, then try again")
        e = e.__cause__ or e.__context__
    return None
