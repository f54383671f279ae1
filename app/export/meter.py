"""Progress of a streaming read of documents: rows of a known total, or input bytes with an ETA."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any


def _fd_position(path: str) -> int | None:
    """How far this process has read ``path`` (Linux ``/proc/self/fdinfo``), or None where unknown."""
    try:
        real = os.path.realpath(path)
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/self/fd/{fd}") == real:
                    with open(f"/proc/self/fdinfo/{fd}") as f:
                        return int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class Meter:
    """Progress of a read: documents of a known total (Parquet metadata, ``--limit``), else input bytes
    (completed files plus the current file's read position) when the callback takes units."""

    def __init__(self, reader: Any, progress: Callable | None, *, limit: int | None, stage: str) -> None:
        self.reader, self.progress, self.stage = reader, progress, stage
        self.unit, self.total = "doc", None
        inputs = reader.inputs
        if inputs and all(i.kind == "file" and i.fmt == "parquet" for i in inputs):
            import pyarrow.parquet as pq

            with contextlib.suppress(Exception):
                self.total = sum(pq.ParquetFile(i.path).metadata.num_rows for i in inputs)
        elif inputs and all(i.kind == "file" for i in inputs) and getattr(progress, "accepts_unit", False):
            self.unit, self.total = "B", sum(i.size for i in inputs)
        if limit is not None and self.unit == "doc":
            self.total = limit if self.total is None else min(self.total, limit)
        elif limit is not None:
            self.unit, self.total = "doc", limit
        self.prev = self.cur = 0

    def position(self) -> int:
        if self.unit == "doc":
            return int(self.reader.stats.read)
        inputs, k = self.reader.inputs, self.reader.stats.files
        if k == 0:
            return 0
        done = sum(i.size for i in inputs[: k - 1])
        pos = _fd_position(inputs[k - 1].path)
        return done + (inputs[k - 1].size if pos is None else min(pos, inputs[k - 1].size))

    def start_batch(self) -> None:
        self.prev, self.cur = self.cur, max(self.cur, self.position())

    def report(self, frac: float) -> None:
        if self.progress is None:
            return
        done = int(self.prev + (self.cur - self.prev) * frac)
        if self.unit == "B":
            self.progress(done, self.total, self.stage, unit="B")
        else:
            self.progress(done, self.total, self.stage)
