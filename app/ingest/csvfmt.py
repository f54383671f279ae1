"""CSV/TSV reader (see :mod:`app.ingest.formats` for the reader contract): a header row, quoted fields
that may hold delimiters and newlines, every value read as text. A quote that is never closed would turn
the rest of the file into one field; it fails the file instead, naming the line where it opened, and no
record may grow past :data:`MAX_RECORD_CHARS` while its end is looked for."""

from __future__ import annotations

import bisect
import csv
import io
import sys
from collections.abc import Iterator

import pyarrow as pa

from app.errors import IngestError
from app.ingest import formats
from app.ingest.formats import ROW, Repair, Skip, open_binary
from app.ingest.sources import Input
from app.ingest.streams import fix_surrogates, has_surrogates

#: the longest CSV record (in characters) held while looking for its end: an unclosed quote in a large
#: file must not pull the rest of the file into memory
MAX_RECORD_CHARS = 256 << 20


class _RecordLines:
    """The line iterator under :func:`csv.reader`: keeps the physical lines of the record being parsed,
    notes when the file ran out, and bounds a record's size."""

    def __init__(self, stream: Iterator[str], path: str, delim: str):
        self._it, self._path, self._delim = iter(stream), path, delim
        self.lines: list[str] = []
        self.chars = 0
        self.done = False
        self.first = 1  # line number of lines[0]

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        try:
            line = next(self._it)
        except StopIteration:
            self.done = True
            raise
        self.lines.append(line)
        self.chars += len(line)
        if self.chars > MAX_RECORD_CHARS:
            opened = _open_quote_line(self.lines, self._delim)
            at = f"a quote opened at line {self.first + opened} is never closed" if opened is not None else ""
            raise IngestError(
                f"CSV record at line {self.first} of {self._path} is longer than {MAX_RECORD_CHARS >> 20} MiB"
                + (f" ({at})" if at else "")
            )
        return line

    def next_record(self, start: int) -> None:
        self.lines, self.chars, self.first = [], 0, start


def _open_quote_line(lines: list[str], delim: str) -> int | None:
    """Index in ``lines`` (the physical lines of one CSV record) of the line where a quoted field opens
    and is never closed, or None when every quote is closed. Follows :mod:`csv`'s rules: a quote opens a
    field only at its start; inside, ``""`` is a literal quote."""
    text = "".join(lines)
    pos, quoted, opened = 0, False, 0
    while True:
        q = text.find('"', pos)
        if q < 0:
            break
        if quoted:
            if text[q + 1 : q + 2] == '"':
                pos = q + 2
                continue
            quoted = False
        elif q == 0 or text[q - 1] in (delim, "\n", "\r"):
            quoted, opened = True, q
        pos = q + 1
    if not quoted:
        return None
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln))
    return bisect.bisect_right(offsets, opened) - 1


def read_csv(inp: Input, skip: Skip, repair: Repair = None) -> Iterator[pa.Table]:
    """CSV/TSV with a header row; quoted fields may hold delimiters and newlines. All values are read as
    text (the ingest step types numeric columns afterwards). Rows are numbered by their first line.

    A quote that is never closed would make the rest of the file one field: it fails the file with the
    line where the quote opened."""
    csv.field_size_limit(sys.maxsize)
    delim = "\t" if inp.fmt == "tsv" else ","
    stream = io.TextIOWrapper(open_binary(inp), encoding="utf-8-sig", errors="surrogateescape", newline="")
    with stream:
        lines = _RecordLines(stream, inp.path, delim)
        reader = csv.reader(lines, delimiter=delim, quotechar='"', doublequote=True, strict=False)

        def unterminated(start: int) -> None:
            if lines.done:
                opened = _open_quote_line(lines.lines, delim)
                if opened is not None:
                    raise IngestError(
                        f"unterminated quoted field in {inp.path}: the quote opened at line {start + opened} is "
                        "never closed (it would swallow the rest of the file)"
                    )

        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise IngestError(f"cannot parse CSV header of {inp.path}: {e}") from e
        unterminated(1)
        names = _column_names(header)
        ncol = len(names)
        cols: list[list] = [[] for _ in names]
        nums: list[int] = []
        prev = reader.line_num
        while True:
            lines.next_record(prev + 1)
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error:
                skip("malformed_csv", prev + 1)
                prev = reader.line_num
                continue
            start, prev = prev + 1, reader.line_num
            unterminated(start)
            if not rec or (len(rec) == 1 and not rec[0].strip() and ncol > 1):
                skip("blank_line", start)
                continue
            if len(rec) != ncol:
                skip("bad_field_count", start)
                continue
            if has_surrogates("\x1f".join(rec)):  # undecodable bytes (read with surrogateescape)
                if repair is None:
                    skip("invalid_utf8", start)
                    continue
                rec = [fix_surrogates(v) for v in rec]
                repair("invalid_utf8", start)
            for c, v in zip(cols, rec):
                c.append(v)
            nums.append(start)
            if len(nums) >= formats.BATCH_ROWS:
                yield _csv_table(names, cols, nums)
                cols, nums = [[] for _ in names], []
        if nums:
            yield _csv_table(names, cols, nums)


def _column_names(header: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, h in enumerate(header):
        name = h.strip() or f"column{i}"
        base, k = name, 2
        while name in seen or name == ROW:
            name, k = f"{base}_{k}", k + 1
        seen.add(name)
        out.append(name)
    return out


def _csv_table(names: list[str], cols: list[list], nums: list[int]) -> pa.Table:
    data = {n: pa.array(c, type=pa.string()) for n, c in zip(names, cols)}
    data[ROW] = pa.array(nums, type=pa.int64())
    return pa.table(data)
