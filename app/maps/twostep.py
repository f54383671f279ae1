"""The streamed map in two steps: the map usable while its neighbours are computed, and a rerun that finishes them.

At 10M documents the per-cluster stage (in-cluster lists, SemDeDup, fine cells, neighbours across borders) is most
of ``winnow map``'s time, and nothing in the map itself needs it: coordinates, clusters and labels are known once
placement and k-means are done. :func:`app.maps.scale.build_streamed` therefore writes them first
(:func:`app.maps.writer.write_points`, the spec marked pending), then runs the per-cluster stage and writes density,
the SemDeDup columns and the neighbour table (:func:`app.maps.writer.write_signals`). Here, what that needs:

- :func:`released`: a command's workspace gives its file lock back while the stage runs (DuckDB lets one process
  write a file or several read it), so the dashboard and ``winnow`` commands in other processes can use the map; the
  dashboard's own job (a :class:`app.shared_workspace.SharedWorkspace`) shares its connection with the pages already.
- :class:`NeighbourFiles`: the neighbour lists kept in scratch files meanwhile (12 bytes per neighbour), put in the
  staging table once the lock is back, in the same order (cluster by cluster) as before.
- :func:`resumable`: a rerun with the same settings finds the pending mark and the same documents, and computes only
  the second step, from the stored clusters (the per-cluster stage depends on the vectors, the clusters, ``k``,
  ``eps`` and ``seed`` alone), so the tables are those an uninterrupted run writes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from app.maps.common import MAP_TABLE, PENDING, map_spec

#: how long a command waits to take its workspace back after the stage (the dashboard lets go when asked)
REACQUIRE_WAIT_S = 600.0
#: the streamed map's scratch folders in the workspace: ``.map-scratch-<pid>-<random>``
SCRATCH = ".map-scratch-"


def remove_stale_scratch(root: Path) -> int:
    """Remove the scratch folders of map runs whose process is gone (a run killed mid-way leaves two copies of the
    vectors there); a live run's folder is kept (its workspace lock is released while its second step runs, so
    another ``winnow map`` may start meanwhile). Returns how many were removed."""
    import os
    import shutil

    gone = 0
    for d in root.glob(f"{SCRATCH}*"):
        pid = d.name[len(SCRATCH) :].split("-", 1)[0]
        if not pid.isdigit() or not d.is_dir():
            continue  # an older run's name carries no process id: left alone
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
            gone += 1
        except PermissionError:  # another user's live process
            continue
    return gone


@contextlib.contextmanager
def released(ws: Any) -> Iterator[None]:
    """Within this block a plain :class:`app.workspace.Workspace` has no connection (other processes may open the
    file); it is reopened at the end, waiting up to :data:`REACQUIRE_WAIT_S` for whoever holds it then. A
    :class:`~app.shared_workspace.SharedWorkspace` (the dashboard) is left as it is."""
    from app.shared_workspace import SharedWorkspace

    if isinstance(ws, SharedWorkspace) or ws.read_only:
        yield
        return
    from app.locks import connect, default_wait
    from app.workspace import bound_memory

    ws.con.close()
    try:
        yield
    finally:
        ws.con = connect(ws.db_path, read_only=False, wait=max(default_wait(), REACQUIRE_WAIT_S))
        bound_memory(ws.con)


class NeighbourFiles:
    """Neighbour lists appended cluster by cluster to three scratch files (rows int64, neighbour rows int64,
    similarities float32) and replayed in the same chunks into a :class:`app.maps.writer.NeighbourStaging`."""

    def __init__(self, scratch: Path) -> None:
        self.paths = [scratch / "nb_rows.i64", scratch / "nb_idx.i64", scratch / "nb_sim.f32"]
        self.chunks: list[int] = []
        self.k = 0
        for p in self.paths:
            p.write_bytes(b"")

    def add(self, rows: np.ndarray, nb_idx: np.ndarray, nb_sim: np.ndarray) -> None:
        if len(rows) == 0:
            return
        self.k = nb_idx.shape[1]
        for p, a, t in zip(self.paths, (rows, nb_idx, nb_sim), (np.int64, np.int64, np.float32)):
            with open(p, "ab") as f:
                f.write(np.ascontiguousarray(a, dtype=t).tobytes())
        self.chunks.append(len(rows))

    def replay(self, staging: Any) -> None:
        """Every chunk, in order, into ``staging.add`` (one cluster's lists resident at a time); removes the files."""
        k, at = self.k, 0
        for m in self.chunks:
            with open(self.paths[0], "rb") as f:
                rows = np.fromfile(f, dtype=np.int64, count=m, offset=at * 8)
            with open(self.paths[1], "rb") as f:
                idx = np.fromfile(f, dtype=np.int64, count=m * k, offset=at * k * 8).reshape(m, k)
            with open(self.paths[2], "rb") as f:
                sim = np.fromfile(f, dtype=np.float32, count=m * k, offset=at * k * 4).reshape(m, k)
            staging.add(rows, idx, sim)
            at += m
        for p in self.paths:
            p.unlink(missing_ok=True)


def pending_mark(*, run: str, sample: int | None, clusters: int | None) -> dict[str, Any]:
    """What part 1 stores under the spec's pending entry: its run token and the settings that shaped the map
    (the others are in the spec itself)."""
    return {"run": run, "sample": sample, "clusters": clusters}


def resumable(
    ws: Any, *, model: str, n: int, seed: int, k: int, eps: float, sample: int | None, clusters: int | None
) -> dict[str, Any] | None:
    """The stored spec when the workspace holds a streamed map whose second step is pending and that these
    settings would build again (same vectors' model and count, seed, k, eps, UMAP sample and cluster count asked
    for): a rerun then only finishes it. None otherwise."""
    spec = map_spec(ws)
    mark = (spec or {}).get(PENDING)
    if not spec or not isinstance(mark, dict) or not spec.get("streamed"):
        return None
    want = {"model": model, "documents": n, "seed": seed, "k": min(k, max(0, n - 1)), "eps": eps}
    if any(spec.get(key) != v for key, v in want.items()):
        return None
    if (mark.get("sample"), mark.get("clusters")) != (sample, clusters) or not ws.has_table(MAP_TABLE):
        return None
    return spec


def stored_clusters(ws: Any, ids: Any) -> np.ndarray | None:
    """The stored map's cluster of every document of ``ids`` (Arrow strings in id order), or None when the stored
    map is not of exactly these documents (then the map is built again)."""
    import pyarrow as pa

    tbl = ws.cursor().sql(f"SELECT id, map_cluster FROM {MAP_TABLE} ORDER BY id").to_arrow_table()
    if len(tbl) != len(ids) or tbl.column("map_cluster").null_count:
        return None
    if not tbl.column("id").cast(pa.string()).combine_chunks().equals(ids):
        return None
    return tbl.column("map_cluster").to_numpy().astype(np.int32)
