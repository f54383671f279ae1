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

import itertools
import mmap
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from app.sql import setting


def scratch_dir(con: Any) -> Path:
    """The directory DuckDB spills to for ``con`` (created if missing), else the system's temporary one."""
    if got := setting(con, "temp_directory"):  # None without the setting: the system temporary directory
        p = Path(str(got))
        try:
            p.mkdir(parents=True, exist_ok=True)
            return p
        except OSError:
            pass
    return Path(tempfile.gettempdir())


def matrix(col: Any, num_perm: int) -> np.ndarray:
    """A pyarrow binary column of non-NULL signatures as an (n, num_perm) uint32 matrix: a view of the Arrow
    data buffer when every value is one whole signature (no Python ``bytes`` per row: 65,536 pairs of signatures
    would be 130 MB of short-lived objects), else joined value by value."""
    import pyarrow as pa

    width = 4 * num_perm
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count == 0 and (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)):
        off_t = np.int64 if pa.types.is_large_binary(col.type) else np.int32
        offs = np.frombuffer(col.buffers()[1], dtype=off_t)[col.offset : col.offset + len(col) + 1]
        if len(col) == 0:
            return np.zeros((0, num_perm), dtype=np.uint32)
        if (np.diff(offs) == width).all() and col.buffers()[2] is not None:
            data = np.frombuffer(col.buffers()[2], dtype=np.uint8)[offs[0] : offs[-1]]
            return data.view("<u4").reshape(-1, num_perm)
    raw = b"".join(col.to_pylist())
    return np.frombuffer(raw, dtype=np.uint32).reshape(-1, num_perm)


#: Rows written between two hand-backs of the mapping's pages (see :meth:`SigFile.write`).
CHUNK = 8_192
#: Bytes of the file a gather reads between two hand-backs of the mapping's pages (see :meth:`SigFile.rows`).
SPAN = 16 << 20


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

    def write_block(self, start: int, sigs: np.ndarray) -> None:
        """Store ``sigs`` as the consecutive rows from ``start``: one positioned write of the file (no page
        faults of the mapping: 3 s of 300,000 rows' 5 s through :meth:`write`)."""
        if len(sigs):
            if start < 0 or start + len(sigs) > self.n:
                raise ValueError(f"rows {start}..{start + len(sigs)} outside the file's {self.n}")
            data = np.ascontiguousarray(sigs, dtype="<u4")
            os.pwrite(self._file.fileno(), memoryview(data).cast("B"), start * self.num_perm * 4)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of ``rows`` (a copy, ``len(rows) x num_perm``), gathered in file order one window of
        :data:`SPAN` bytes at a time, the mapping's pages handed back after each window. Why windows, not a
        number of rows: a read fault maps more than its 4 kB page (the kernel maps the page cache's pages around
        it, whole large folios), so 8,192 rows scattered over a 1M-row file mapped all of its 488 MiB
        (headless apply's driver peaked at 1,266 MiB at 1M documents, 819 without it); rows read in file order
        within one window map at most the window and the folios at its two ends."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.num_perm), dtype="<u4")
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        win = srt // max(1, SPAN // (self.num_perm * 4))
        cuts = [0, *(np.flatnonzero(win[1:] != win[:-1]) + 1).tolist(), len(srt)]
        for lo, hi in itertools.pairwise(cuts):
            out[order[lo:hi]] = self._arr[srt[lo:hi]]
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
