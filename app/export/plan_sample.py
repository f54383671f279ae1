"""The dry-run's sample, drawn across every input file (not the first documents of the first file).

Why: shards are often ordered (by id, length or date) and the first documents of the first shard are not like
the rest: on realmix's id-ordered shards they are short, and a forecast from the first 4,000 documents was 2x
off. So the sample takes from every file a share proportional to the file's documents, in up to :data:`RUNS`
runs of consecutive documents spread evenly through the file:

- uncompressed JSONL: the runs start at evenly spaced line numbers, found from a :class:`LineIndex` of the file
  (built once, in the pass that counts its documents), seek there and read the run;
- Parquet: the runs start at evenly spaced rows (only the row groups holding them are read);
- compressed JSONL: the runs are spread through the first :data:`WINDOW` decompressed bytes
  (reaching the end of a compressed file means decompressing all of it);
- other formats (plain text, whose documents are files or WikiText paragraphs; JSON arrays; CSV) and files
  smaller than their share are used whole.

The sampled documents are written to a temporary tree that keeps every input's source name (one directory per
input spec, named as the source that spec derives), so the sample's per-source behaviour is the real run's.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

RUNS = 8
#: :class:`LineIndex` counts the newlines of each block of this many bytes
STEP = 1 << 20
#: compressed files: the runs are spread through this many decompressed bytes (read in BLOCK pieces)
WINDOW = 64 << 20
BLOCK = 8 << 20


def sample_inputs(
    inputs: list[str],
    counts: list[tuple[Any, int]],
    n: int,
    dest: Path,
    *,
    source: str | None = None,
    index: dict[str, LineIndex] | None = None,
) -> tuple[list[str], str]:
    """Write about ``n`` documents drawn across ``counts`` (``[(Input, documents)]`` in reading order) under
    ``dest``; returns ``(input specs for the sample, how it was drawn)``. ``index``: the plain files' line
    indexes by path, as :func:`app.export.plan.count_each` built them (a file missing from it is indexed here)."""
    from app.ingest.sources import derive_source_name, resolve

    total = sum(c for _, c in counts) or 1
    docs_of = {inp.path: c for inp, c in counts}
    specs: list[str] = []
    spread = True
    for i, spec in enumerate(inputs):
        resolved, _ = resolve([spec], source=source)
        # one folder per source the spec resolves to (a folder of different datasets has several), named as
        # that source, its files numbered only (so the folder reads back as that one source)
        for j, inp in enumerate(resolved):
            d = dest / f"{i:04d}" / (source or inp.source or derive_source_name(spec))
            if not d.exists():
                d.mkdir(parents=True)
                specs.append(str(d))
            docs = docs_of.get(inp.path, 0)
            want = math.ceil(n * docs / total)
            if want > 0:
                spread &= _sample_file(inp, docs, want, d, j, index if index is not None else {})
    return specs, "spread across every input file" if spread else "spread across the input files (some whole)"


def _sample_file(inp: Any, docs: int, want: int, d: Path, j: int, index: dict[str, LineIndex]) -> bool:
    """Sample ``want`` of the ``docs`` documents of ``inp`` into directory ``d``; False when used whole."""
    from app.ingest.sources import split_ext

    name = Path(inp.path).name
    stem, _comp, ext = split_ext(name)
    target = d / f"{j:05d}{ext}"
    if docs <= want or inp.fmt not in ("jsonl", "parquet"):  # plain text: a document is a file (or a paragraph)
        os.symlink(os.path.abspath(inp.path), d / f"{j:05d}{name[len(stem) :]}")
        return docs <= want
    runs = min(RUNS, want)
    per = math.ceil(want / runs)
    if inp.fmt == "parquet":
        _parquet_runs(inp.path, target, docs, runs, per)
    elif inp.compression:
        _compressed_runs(inp.path, inp.compression, target, runs, per)
    else:
        idx = index.get(inp.path)
        if idx is None:
            idx = index[inp.path] = LineIndex(inp.path)
        _seek_runs(idx, docs, target, runs, per)
    return True


class LineIndex:
    """How many lines one plain file has, and how many newlines come before each :data:`STEP`-byte block of it:
    built in one pass of ``bytes.count`` (about as fast as reading the file; 8 bytes per block, 21 KB for
    2.6 GB), it counts the file's documents and then places the sample's runs for every sample size the dry run
    tries, reading one block per run start. The forecast read each file once to count and then once more per
    sample size (up to five passes over 2.6 GB of shards at 10M)."""

    def __init__(self, path: str) -> None:
        import numpy as np

        self.path = path
        before = [0]  # newlines before block b
        last = 10
        with open(path, "rb") as f:
            while block := f.read(STEP):
                before.append(before[-1] + block.count(b"\n"))
                last = block[-1]
        self.size = os.path.getsize(path)
        self.before = np.asarray(before, np.int64)
        self.lines = before[-1] + (1 if last != 10 else 0)

    def starts(self, lines: list[int]) -> list[int]:
        """The byte offsets where the lines numbered ``lines`` (0-based) start; a line past the end gets the
        file's size. Line ``k`` starts after newline ``k - 1``: one block read finds it."""
        import numpy as np

        out: list[int] = []
        with open(self.path, "rb") as f:
            for k in lines:
                if k >= self.lines or k <= 0:
                    out.append(self.size if k >= self.lines else 0)
                    continue
                b = int(np.searchsorted(self.before, k - 1, side="right")) - 1
                f.seek(b * STEP)
                nl = np.flatnonzero(np.frombuffer(f.read(STEP), np.uint8) == 10)
                out.append(b * STEP + int(nl[k - 1 - int(self.before[b])]) + 1)
        return out


def _seek_runs(idx: LineIndex, docs: int, target: Path, runs: int, per: int) -> None:
    """Runs of ``per`` lines starting at evenly spaced *line numbers*. Evenly spaced byte offsets drew documents
    in proportion to their length wherever long and short ones are grouped (by source, length, language): on
    cycled realmix shards the sample's texts were 4x the corpus's mean length, and the dry-run forecast 2-7x the
    real run's time."""
    starts = idx.starts([docs * r // runs for r in range(runs)])
    with open(idx.path, "rb") as f, open(target, "wb") as out:
        end = 0
        for off in starts:
            if off < end:  # runs that would overlap: this one follows the last
                off = end
            f.seek(off)
            for _ in range(per):
                line = f.readline()
                if not line:
                    break
                out.write(line if line.endswith(b"\n") else line + b"\n")
            end = f.tell()


def _compressed_runs(path: str, compression: str, target: Path, runs: int, per: int) -> None:
    from app.ingest.streams import open_binary

    with open_binary(path, compression) as f:  # truncated or corrupt: one IngestError naming the file
        chunks: list[bytes] = []
        got = 0
        while got < WINDOW and (block := f.read(BLOCK)):
            chunks.append(block)
            got += len(block)
        whole = not f.read(1)
    lines = b"".join(chunks).split(b"\n")
    if not whole or not lines[-1]:
        lines.pop()  # a line cut by the window (or the empty string after the last newline)
    starts = sorted({len(lines) * r // runs for r in range(runs)})
    picked: list[bytes] = []
    end = 0
    for s in starts:
        s = max(s, end)
        picked.extend(lines[s : s + per])
        end = s + per
    target.write_bytes(b"".join(x + b"\n" for x in picked))


def _parquet_runs(path: str, target: Path, rows: int, runs: int, per: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    bounds = [0]
    for g in range(pf.metadata.num_row_groups):
        bounds.append(bounds[-1] + pf.metadata.row_group(g).num_rows)
    parts: list[Any] = []
    end = 0
    for r in range(runs):
        start = max(rows * r // runs, end)
        end = min(start + per, rows)
        g = max(i for i in range(len(bounds) - 1) if bounds[i] <= start) if start < rows else None
        while g is not None and start < end and g < len(bounds) - 1:
            tbl = pf.read_row_group(g)
            a, b = start - bounds[g], min(end, bounds[g + 1]) - bounds[g]
            parts.append(tbl.slice(a, b - a))
            start = bounds[g] + b
            g += 1
    pq.write_table(pa.concat_tables(parts, promote_options="default") if parts else pf.read().slice(0, 0), target)
