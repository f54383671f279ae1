"""Writing the streamed map (:mod:`app.maps.scale`): the same four tables as :func:`app.maps.build_map`, built from
Arrow arrays (ids never become Python strings, neighbour lists are written one cluster at a time to a staging table)
and swapped in in one transaction."""

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


def write_map(
    ws: Any,
    *,
    ids: Any,
    coords: np.ndarray,
    cl: np.ndarray,
    label_of: dict,
    terms_of: dict,
    dens: np.ndarray,
    dup_of: np.ndarray,
    dup_sim: np.ndarray,
    staging: NeighbourStaging,
    spec: dict[str, Any],
) -> dict[str, Any]:
    """Write ``map_points``, ``emb_signals``, ``map_clusters`` and the staged ``neighbours`` in one transaction."""
    import pyarrow as pa

    from app.maps.common import CLUSTER_TABLE, MAP_TABLE, NB_TABLE, SIG_TABLE, _write

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
    spec = {**spec, "clusters": len(cids)}
    with ws.transaction() as cur:
        _write(ws, cur, MAP_TABLE, points)
        _write(ws, cur, SIG_TABLE, sig)
        cur.execute(f"DROP TABLE IF EXISTS {NB_TABLE}")
        cur.execute(f"ALTER TABLE {STAGING} RENAME TO {NB_TABLE}")
        _write(ws, cur, CLUSTER_TABLE, clus)
        ws.set_meta("map.spec", json.dumps(spec), con=cur)
        ws.register_part(MAP_TABLE, kind="map", con=cur, order=200)
        ws.register_part(SIG_TABLE, kind="embed", con=cur, order=210)
    return {
        **spec,
        "semantic_duplicates": int(hit.sum()),
        "cluster_labels": [
            {"cluster": int(c), "size": int(sizes[c]), "label": label_of[int(c)]} for c in cids[: min(len(cids), 100)]
        ],
    }
