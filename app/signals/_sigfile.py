"""MinHash signatures by row number in a scratch file, for the near-duplicate clustering's pair checks.

Why: the clustering compares the signatures of candidate pairs (``a``, ``b``: row numbers). Joining the pairs
to the signature table in DuckDB built a hash table of every row's signature (512 bytes each at 128
permutations) for each side of the pair, outside what the memory limit held back: headless apply's peak RSS
rose with the corpus (1,241 MiB at 1M documents, the joins alone ~700 MiB over the rest). Here the signatures
sit in a file in row order (``n x num_perm`` little-endian uint32, written once while the band keys are made),
and a batch of pairs reads its rows by position through a memory map whose pages are handed back to the
kernel after every batch (``madvise(MADV_DONTNEED)``: a shared file mapping's pages stay in the page cache,
which the kernel may evict, and leave the process's RSS). Python holds one batch of signatures at a time.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def scratch_dir(con: Any) -> Path:
    """The directory DuckDB spills to for ``con`` (created if missing), else the system's temporary one."""
    try:
        got = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    except Exception:  # any DuckDB without the setting: the system temporary directory
        got = None
    if got:
        p = Path(str(got))
        try:
            p.mkdir(parents=True, exist_ok=True)
            return p
        except OSError:
            pass
    return Path(tempfile.gettempdir())


#: Rows gathered between two hand-backs of the mapping's pages (see :meth:`SigFile.rows`).
CHUNK = 8_192


class SigFile:
    """``n`` signatures of ``num_perm`` uint32 values, written and read by row number (see the module doc).

    Rows never written read as zeros. Use as a context manager or call :meth:`close` (removes the file)."""

    def __init__(self, directory: Path, *, n: int, num_perm: int) -> None:
        self.n, self.num_perm = int(n), int(num_perm)
        fd, name = tempfile.mkstemp(prefix="near-sigs-", suffix=".u32", dir=str(directory))
        self.path = Path(name)
        self._file = os.fdopen(fd, "r+b")
        size = self.n * self.num_perm * 4
        self._file.truncate(size)  # a sparse file: rows not written are zeros
        self._map: mmap.mmap | None = mmap.mmap(self._file.fileno(), size) if size else None
        self._arr = (
            np.frombuffer(self._map, dtype="<u4").reshape(self.n, self.num_perm)
            if self._map is not None
            else np.zeros((0, self.num_perm), dtype="<u4")
        )

    def write(self, rows: np.ndarray, sigs: np.ndarray) -> None:
        """Store ``sigs[i]`` as row ``rows[i]``."""
        rows = np.asarray(rows, dtype=np.int64)
        for lo in range(0, len(rows), CHUNK):
            self._arr[rows[lo : lo + CHUNK]] = sigs[lo : lo + CHUNK]
            self._release()

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of ``rows`` (a copy, ``len(rows) x num_perm``), gathered :data:`CHUNK` rows at a time:
        a row scattered at random maps a whole 4 kB page, so at most ``CHUNK`` pages (32 MB) are resident at once
        (a batch of 65,536 random rows of a 1M-row file mapped 256 MB)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.num_perm), dtype="<u4")
        for lo in range(0, len(rows), CHUNK):
            out[lo : lo + CHUNK] = self._arr[rows[lo : lo + CHUNK]]
            self._release()
        return out

    def _release(self) -> None:
        """Hand the mapping's resident pages back. A shared file mapping's pages, written ones included, stay
        in the page cache, so a later read finds them there (madvise(2))."""
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        """Unmap and remove the file."""
        self._arr = np.zeros((0, self.num_perm), dtype="<u4")
        if self._map is not None:
            self._map.close()
            self._map = None
        self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> SigFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
