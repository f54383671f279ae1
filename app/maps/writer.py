"""Writing the streamed map (:mod:`app.maps.scale`): the same four tables as :func:`app.maps.build_map`, built from
Arrow arrays (ids never become Python strings), in two transactions. :func:`write_points` writes the map itself
(``map_points``, ``map_clusters``) as soon as placement and k-means are done, drops the previous map's
``emb_signals`` and ``neighbours`` and marks the spec pending (:func:`app.maps.common.neighbours_pending`), so the
map can be used while the per-cluster stage runs; :func:`write_signals` adds density, the SemDeDup columns and the
neighbour lists (staged one cluster at a time) and clears the mark."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

STAGING = "_map_nb_staging"


def labels(ws: Any, ids: Any, cl: np.ndarray, *, seed: int) -> tuple[dict, dict]:
    """Cluster names, as the in-memory path names them (:func:`app.maps._labels`)."""
    from app.maps import labels as lab
    from app.maps.common import _labels

    return _labels(ws, ids, cl, seed=seed, lab=lab)


class NeighbourStaging:
    """Neighbour lists written as they come (``add``) into :data:`STAGING`; renamed to ``neighbours`` at the end."""

    def __init__(self, ws: Any, ids: Any) -> None:
        self.ws, self.ids, self.rows = ws, ids, 0
        self._cur = ws.cursor()
        self._cur.execute(f"DROP TABLE IF EXISTS {STAGING}")
        self._made = False

    def add(self, rows: np.ndarray, nb_idx: np.ndarray, nb_sim: np.ndarray) -> None:
        import pyarrow as pa

        if len(rows) == 0:
            return
        kk = nb_idx.shape[1]
        tbl = pa.table(
            {
                "id": self.ids.take(pa.array(rows, pa.int64())),
                "nb_ids": pa.FixedSizeListArray.from_arrays(
                    self.ids.take(pa.array(nb_idx.reshape(-1), pa.int64())), kk
                ),
                "nb_sims": pa.FixedSizeListArray.from_arrays(pa.array(nb_sim.reshape(-1), pa.float32()), kk),
            }
        )
        self._cur.register("_winnow_nb", tbl)
        if self._made:
            self._cur.execute(f"INSERT INTO {STAGING} SELECT * FROM _winnow_nb")
        else:
            self._cur.execute(f"CREATE TABLE {STAGING} AS SELECT * FROM _winnow_nb")
            self._made = True
        self._cur.unregister("_winnow_nb")
        self.rows += len(rows)


def write_points(
    ws: Any,
    *,
    ids: Any,
    coords: np.ndarray,
    cl: np.ndarray,
    label_of: dict,
    terms_of: dict,
    spec: dict[str, Any],
    pending: dict[str, Any],
) -> dict[str, Any]:
    """Part 1: ``map_points`` and ``map_clusters`` in one transaction, the previous ``emb_signals`` and
    ``neighbours`` dropped (never shown beside a new map), and the spec stored with ``pending`` (what a rerun
    needs to finish part 2: :mod:`app.maps.twostep`). Returns the spec as stored."""
    import pyarrow as pa

    from app.maps.common import CLUSTER_TABLE, MAP_TABLE, NB_TABLE, PENDING, SIG_TABLE, SPEC_KEY, _write

    n = len(cl)
    sizes = np.bincount(cl, minlength=int(cl.max()) + 1 if n else 0)
    cids = np.arange(len(sizes))
    names = pa.array([label_of[int(c)] for c in cids], pa.string())
    points = pa.table(
        {
            "id": ids,
            "map_x": pa.array(coords[:, 0], pa.float32()),
            "map_y": pa.array(coords[:, 1], pa.float32()),
            "map_cluster": pa.array(cl, pa.int32()),
            "map_cluster_label": names.take(pa.array(cl, pa.int32())),
            "map_cluster_size": pa.array(sizes[cl].astype(np.int32), pa.int32()),
        }
    )
    order = np.argsort(cl, kind="stable")
    bounds = np.searchsorted(cl[order], np.arange(len(cids) + 1))
    med = np.array(
        [np.median(coords[order[bounds[c] : bounds[c + 1]]], axis=0) if sizes[c] else (np.nan, np.nan) for c in cids]
    )
    clus = pa.table(
        {
            "cluster": pa.array(cids, pa.int32()),
            "label": names,
            "terms": pa.array([terms_of[int(c)] for c in cids], pa.list_(pa.string())),
            "size": pa.array(sizes, pa.int64()),
            "x": pa.array(med[:, 0] if len(med) else [], pa.float32()),
            "y": pa.array(med[:, 1] if len(med) else [], pa.float32()),
        }
    )
    spec = {**spec, "clusters": len(cids), PENDING: pending}
    with ws.transaction() as cur:
        _write(ws, cur, MAP_TABLE, points)
        _write(ws, cur, CLUSTER_TABLE, clus)
        cur.execute(f"DROP TABLE IF EXISTS {NB_TABLE}")
        cur.execute("DELETE FROM _parts WHERE table_name = ?", [SIG_TABLE])  # the views are rebuilt just below
        cur.execute(f"DROP TABLE IF EXISTS {SIG_TABLE}")  # the old map's density and duplicates are gone
        ws.set_meta(SPEC_KEY, json.dumps(spec), con=cur)
        ws.register_part(MAP_TABLE, kind="map", con=cur, order=200)
    return spec


def write_signals(
    ws: Any,
    *,
    ids: Any,
    dens: np.ndarray,
    dup_of: np.ndarray,
    dup_sim: np.ndarray,
    staging: NeighbourStaging,
    run: str,
    method: str,
) -> dict[str, Any]:
    """Part 2: ``emb_signals`` and the staged ``neighbours`` in one transaction, and the spec without its pending
    mark, with the neighbour search's ``method`` (returned as stored). ``run``: the token part 1 stored. Refused (:class:`app.errors.MapError`) when the stored map is no longer the one part 1 wrote (another
    ``winnow map`` replaced it meanwhile): its neighbours would not belong to the map shown."""
    import pyarrow as pa

    from app.errors import MapError
    from app.maps.common import NB_TABLE, PENDING, SIG_TABLE, SPEC_KEY, _write

    hit = dup_of >= 0
    sig = pa.table(
        {
            "id": ids,
            "density_knn_dist": pa.array(dens, pa.float32()),
            "semdup_dup_of": ids.take(pa.array(np.maximum(dup_of, 0), pa.int64(), mask=~hit)),
            "semdup_is_dup": pa.array(hit, pa.bool_()),
            "semdup_sim": pa.array(np.nan_to_num(dup_sim, nan=0.0), pa.float32()),
        }
    )
    with ws.transaction() as cur:
        rows = cur.execute("SELECT value FROM _meta WHERE key = ?", [SPEC_KEY]).fetchall()
        stored = json.loads(rows[0][0]) if rows else {}
        if (stored.get(PENDING) or {}).get("run") != run:
            raise MapError("the map was rebuilt by another `winnow map` while its neighbours were computed")
        _write(ws, cur, SIG_TABLE, sig)
        cur.execute(f"DROP TABLE IF EXISTS {NB_TABLE}")
        cur.execute(f"ALTER TABLE {STAGING} RENAME TO {NB_TABLE}")
        done = {k: (method if k == "neighbours" else v) for k, v in stored.items() if k != PENDING}
        ws.set_meta(SPEC_KEY, json.dumps(done), con=cur)
        ws.register_part(SIG_TABLE, kind="embed", con=cur, order=210)
    return done
