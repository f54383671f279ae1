"""What the map's two paths share (:func:`app.maps.build_map` in memory, :mod:`app.maps.scale` streamed):
the names of the tables they write, the table writer, the progress call, and the cluster labelling. Their own
module, so the streamed path does not import the package that dispatches to it."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.sql import qi

MAP_TABLE = "map_points"
SIG_TABLE = "emb_signals"
NB_TABLE = "neighbours"
CLUSTER_TABLE = "map_clusters"
TARGET_TABLE = "emb_target"
LABEL_DOCS = 300  # documents read per cluster for its label
LABEL_CHARS = 3000
#: ``_meta`` key of the map's spec (JSON); while its :data:`PENDING` entry is set, the map's coordinates, clusters
#: and labels are written but density, the SemDeDup columns and the neighbour table are not (yet)
SPEC_KEY = "map.spec"
PENDING = "pending"
PENDING_NOTE = (
    "neighbours still being computed: density, the SemDeDup columns and the neighbour lists come when"
    " `winnow map` finishes (if it stopped, run it again: it finishes them)"
)


def map_spec(ws: Any) -> dict[str, Any] | None:
    """The stored map's spec (``winnow map``'s settings and counts), or None when there is no map."""
    import json

    raw = ws.get_meta(SPEC_KEY)
    try:
        spec = json.loads(raw) if raw else None
    except ValueError:  # a hand-edited or truncated value: no usable spec, as if none
        return None
    return spec if isinstance(spec, dict) else None


def neighbours_pending(ws: Any) -> bool:
    """Whether the map's second part (density, SemDeDup columns, neighbour table) is still to be written: a
    streamed ``winnow map`` computing it now, or one that stopped after writing the map (a rerun finishes it)."""
    spec = map_spec(ws)
    return bool(spec and spec.get(PENDING))


def _write(ws: Any, cur: Any, name: str, table: Any) -> None:
    cur.register("_winnow_map", table)
    cur.execute(f"CREATE OR REPLACE TABLE {qi(name)} AS SELECT * FROM _winnow_map")
    cur.unregister("_winnow_map")


def _progress(progress: Any, done: int, total: int | None, stage: str) -> None:
    if progress:
        progress(done, total, stage)


def _instruction_share(ws: Any) -> float:
    """The share of documents with an instruction (Alpaca fields or a chat's user turn), 0 without fields."""
    from app.signals._instruct import docs_columns, field_sql

    cur = ws.cursor()
    fields = field_sql(docs_columns(cur))
    if fields is None:
        return 0.0
    n, k = cur.execute(f"SELECT count(*), count(*) FILTER (WHERE {fields[0]} IS NOT NULL) FROM docs").fetchone()
    return k / n if n else 0.0


def _labels(ws: Any, ids: np.ndarray, cl: np.ndarray, *, seed: int, lab: Any) -> tuple[dict, dict]:
    """Read up to LABEL_DOCS seeded documents per cluster (text truncated) and name each cluster."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    pick: list[int] = []
    for c in np.unique(cl):
        members = np.flatnonzero(cl == c)
        if len(members) > LABEL_DOCS:
            members = np.sort(rng.choice(members, LABEL_DOCS, replace=False))
        pick.extend(members.tolist())
    pick_arr = np.asarray(pick, dtype=np.int64)
    picked = (
        ids.take(pa.array(pick_arr)) if isinstance(ids, pa.Array) else pa.array(ids[pick_arr].tolist(), pa.string())
    )
    want = pa.table({"id": picked, "c": pa.array(cl[pick_arr], pa.int32())})
    from app.maps.tasks import task_labels
    from app.signals._instruct import docs_columns, field_sql

    cur = ws.cursor()
    fields = field_sql(docs_columns(cur))  # instruction data: its clusters are named by tasks (app.maps.tasks)
    instr = f"left({fields[0]}, {LABEL_CHARS})" if fields else "NULL"
    cur.register("_winnow_pick", want)
    rows = cur.execute(
        f"SELECT p.c, left(d.text, ?), {instr} FROM _winnow_pick AS p JOIN docs AS d ON d.id = p.id", [LABEL_CHARS]
    ).fetchall()
    cur.unregister("_winnow_pick")
    by: dict[int, list[str]] = {int(c): [] for c in np.unique(cl)}
    ins: dict[int, list[str | None]] = {int(c): [] for c in np.unique(cl)}
    for c, text, instruction in rows:
        by[int(c)].append(text or "")
        ins[int(c)].append(instruction)
    res = lab.ctfidf_labels(by)
    if fields:
        res.update({c: v for c, v in task_labels(ins).items() if v is not None})
    return {c: v[0] for c, v in res.items()}, {c: v[1] for c, v in res.items()}
