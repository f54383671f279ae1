"""The streamed map's vectors, in id order, in a scratch file, without DuckDB sorting the vectors themselves.

Sorting the joined ``(id, vector)`` rows by id in DuckDB held far more than its memory limit while it sorted
(measured on 256-d synthetic vectors: peak RSS 2.9 GB at 1M documents and 4.4 GB at 2M, about 1.5 KB per document:
some 16 GB at 10M). Here DuckDB sorts only ``(id, the vector's rowid)`` (tens of bytes per document); the vectors
are then scanned in storage order, no join, and each goes to the bucket file of its id-order position (an external
bucket sort: :data:`BUCKET` positions per bucket); each bucket is then read alone, ordered by position and appended
to the spool. Resident memory: the ids and three int64 arrays of the positions while the buckets are filled, plus
one bucket (``BUCKET * 4 * dim`` bytes). Disk: the buckets, then the spool (one copy of the vectors each).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: positions per bucket file (one bucket's vectors are resident at a time: 64 MiB at 256 dims)
BUCKET = 65_536
#: rows per batch scanned from the vectors table
BATCH = 65_536


def ordered_rowids(ws: Any, *, model: str) -> tuple[Any, np.ndarray]:
    """``(ids in id order as an Arrow string array, the vectors table's rowid of each)``: the documents of
    :func:`app.embed.iter_vectors` (the model's relation joined to its vectors by text hash), the same order."""
    import pyarrow as pa

    from app.embed import _relation, vectors_table
    from app.sql import qi

    cur = ws.cursor()
    rel = _relation(ws, model, cur)
    tbl = cur.sql(
        f"SELECT d.id, e.rowid AS r FROM {rel} AS d JOIN {qi(vectors_table(model))} AS e"
        " ON e.text_hash = d.text_hash ORDER BY d.id"
    ).to_arrow_table()
    ids = tbl.column("id").cast(pa.string()).combine_chunks()
    return ids, tbl.column("r").to_numpy().astype(np.int64, copy=False)


def spool_in_id_order(
    ws: Any, spool: Any, *, model: str, rowids: np.ndarray, scratch: Path, sample_rows: np.ndarray, progress: Any
) -> np.ndarray:
    """Append every vector to ``spool`` in id order (position ``i`` holds the vector of ``rowids[i]``); returns
    the rows ``sample_rows`` (sorted positions) as a float32 array, gathered on the way."""
    from app.embed import vectors_table
    from app.sql import qi

    n, dim = len(rowids), spool.dim
    by_row = np.argsort(rowids, kind="stable")  # positions, ordered by the rowid they take their vector from
    sorted_rows = rowids[by_row]
    n_b = (n + BUCKET - 1) // BUCKET
    paths = [scratch / f"bucket_{b}" for b in range(n_b)]
    files = [open(p, "wb") for p in paths]  # noqa: SIM115 (closed below)
    try:
        reader = ws.cursor().sql(f"SELECT rowid AS r, vec FROM {qi(vectors_table(model))}").to_arrow_reader(BATCH)
        seen = 0
        for batch in reader:
            if batch.num_rows == 0:
                continue
            r = batch.column("r").to_numpy().astype(np.int64, copy=False)
            vec = batch.column("vec").flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
            vec = vec.reshape(-1, dim)
            lo = np.searchsorted(sorted_rows, r, side="left")
            hi = np.searchsorted(sorted_rows, r, side="right")
            cnt = hi - lo
            src = np.repeat(np.arange(len(r)), cnt)  # a vector shared by several documents goes to each
            pos = by_row[np.repeat(lo, cnt) + (np.arange(len(src)) - np.repeat(np.cumsum(cnt) - cnt, cnt))]
            bucket = pos // BUCKET
            order = np.argsort(bucket, kind="stable")
            pos, src, bucket = pos[order], src[order], bucket[order]
            cuts = np.flatnonzero(np.diff(bucket)) + 1
            for part_pos, part_src in zip(np.split(pos, cuts), np.split(src, cuts)):
                if len(part_pos):
                    f = files[int(part_pos[0] // BUCKET)]
                    f.write(np.int64(len(part_pos)).tobytes())
                    f.write(part_pos.astype(np.int64).tobytes())
                    f.write(np.ascontiguousarray(vec[part_src]).tobytes())
            seen += len(pos)
            if progress:
                progress(seen, n, "reading vectors")
    finally:
        for f in files:
            f.close()
    sample = np.empty((len(sample_rows), dim), dtype=np.float32)
    for b, path in enumerate(paths):  # each bucket: its rows back in position order, appended to the spool
        chunk = _read_bucket(path, dim)
        path.unlink()
        start, stop = b * BUCKET, min(n, (b + 1) * BUCKET)
        _check_bucket(chunk[0], start, stop)
        vecs = np.empty((stop - start, dim), dtype=np.float32)
        vecs[chunk[0] - start] = chunk[1]
        del chunk
        spool.add(vecs)
        lo, hi = np.searchsorted(sample_rows, [start, stop])
        sample[lo:hi] = vecs[sample_rows[lo:hi] - start]
    return sample


def _check_bucket(positions: np.ndarray, start: int, stop: int) -> None:
    """Every position ``start..stop-1`` exactly once, or one :class:`~app.errors.MapError` line."""
    got = np.sort(positions)
    if len(got) != stop - start or not np.array_equal(got, np.arange(start, stop)):
        from app.errors import MapError

        raise MapError(f"the vectors changed while the map read them (positions {start:,}-{stop:,} incomplete)")


def _read_bucket(path: Path, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """A bucket file's ``(positions, vectors)``: blocks of ``m`` (int64), ``m`` int64 positions, ``m`` rows."""
    raw = np.fromfile(path, dtype=np.uint8)
    pos_parts, vec_parts, off = [], [], 0
    while off < len(raw):
        m = int(raw[off : off + 8].view(np.int64)[0])
        off += 8
        pos_parts.append(raw[off : off + 8 * m].view(np.int64))
        off += 8 * m
        vec_parts.append(raw[off : off + 4 * dim * m].view(np.float32).reshape(m, dim))
        off += 4 * dim * m
    if not pos_parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
    return np.concatenate(pos_parts), np.concatenate(vec_parts)
