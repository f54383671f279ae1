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

from app.sql import setting_held

#: rows per block read from DuckDB and from the spool files
CHUNK = 65_536
#: DuckDB's memory limit while it sorts the ids by id for the spool (the rest spills to its temp directory)
DUCKDB_MEMORY = "2GB"
#: and while the vectors are scanned: DuckDB keeps the blocks it read cached up to its limit (2 GB held for the
#: rest of the map at 2M documents with the limit above; measured)
SCAN_MEMORY = "512MB"
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


class Spool:
    """float32 rows appended to a file and read back in blocks (plain reads: resident memory is one block)."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim, self.rows = path, dim, 0
        self._f = open(path, "wb")  # noqa: SIM115 (closed by done())

    def add(self, vec: np.ndarray) -> None:
        self._f.write(np.ascontiguousarray(vec, dtype=np.float32).tobytes())
        self.rows += len(vec)

    def __len__(self) -> int:
        return self.rows

    def done(self) -> None:
        if not self._f.closed:
            self._f.close()

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` as a fresh float32 array."""
        stop = self.rows if stop is None else min(stop, self.rows)
        count = max(0, stop - start) * self.dim
        with open(self.path, "rb") as f:
            out = np.fromfile(f, dtype=np.float32, count=count, offset=start * self.dim * 4)
        return out.reshape(-1, self.dim)

    def blocks(self, step: int = CHUNK) -> Any:
        """``(start, rows)`` blocks in order."""
        for s in range(0, self.rows, step):
            yield s, self.read(s, s + step)

    def remove(self) -> None:
        self.done()
        self.path.unlink(missing_ok=True)


def _tick(progress: Any, done: int, total: int | None, stage: str) -> None:
    if progress:
        progress(done, total, stage)


def spool_vectors(ws: Any, *, model: str, n: int, dim: int, scratch: Path, seed: int, progress: Any = None) -> tuple:
    """Stream the vectors into a :class:`Spool` in id order: ``(ids, spool, pca_sample or None)``. DuckDB sorts only
    the ids with each vector's rowid; the vectors are put in order by an external bucket sort
    (:mod:`app.maps.spool`: DuckDB sorting the vectors themselves held about 1.5 KB per document)."""
    from app.maps import project

    reduce = dim > project.PCA_DIMS and n > project.PCA_DIMS
    rows = project.pca_fit_rows(n, seed=seed) if reduce else np.zeros(0, dtype=np.int64)
    spool = Spool(scratch / "vectors.f32", dim)
    cur = ws.cursor()
    with setting_held(cur, "memory_limit", DUCKDB_MEMORY):  # DuckDB's sort by id spills to disk beyond this
        ids, rowids = ordered_rowids(ws, model=model)
        if len(rowids) != n:
            from app.errors import MapError

            raise MapError(f"the vectors changed while the map read them ({len(rowids):,} rows, expected {n:,})")
        with setting_held(cur, "memory_limit", SCAN_MEMORY):
            sample = spool_in_id_order(
                ws, spool, model=model, rowids=rowids, scratch=scratch, sample_rows=rows, progress=progress
            )
    spool.done()
    return ids, spool, (sample if reduce else None)


def reduce_spool(spool: Spool, sample: np.ndarray | None, *, seed: int, progress: Any = None) -> np.ndarray:
    """The PCA-50 vectors of every spooled row (the in-memory path's :func:`app.maps.project.pca_reduce`)."""
    from app.maps import project

    if sample is None:  # narrow vectors: the map works on them directly, as the in-memory path does
        return spool.read()
    pca = project.pca_fit(sample, seed=seed)
    out = np.empty((spool.rows, project.PCA_DIMS), dtype=np.float32)
    for s, block in spool.blocks():
        project.pca_apply(pca, block, out[s : s + len(block)])
        _tick(progress, s + len(block), spool.rows, "PCA")
    return out


def split_clusters(spool: Spool, cl: np.ndarray, *, scratch: Path, progress: Any = None) -> None:
    """The spooled vectors into one file per cluster (``cluster_{c}.f32`` in ``scratch``, rows in id order inside
    each), read by :func:`app.maps.scale.cluster_stage`; the spool is removed."""
    n = spool.rows
    n_cl = int(cl.max()) + 1 if n else 0
    files = [Spool(scratch / f"cluster_{c}.f32", spool.dim) for c in range(n_cl)]
    for s, block in spool.blocks():
        part = cl[s : s + len(block)]
        for c in np.unique(part):
            files[int(c)].add(block[part == c])
        _tick(progress, s + len(block), n, "sorting vectors by cluster")
    spool.remove()
    for f in files:
        f.done()
