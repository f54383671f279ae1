"""Active learning: which documents to label next so a classifier learns most from each label.

Uncertainty sampling with diversity. A document's uncertainty is ``1 - |2p - 1|`` (1 at ``p = 0.5``, 0 at 0 or
1): the model is least sure there, so a label moves the boundary most. Taking only the most uncertain
documents tends to return near-duplicates of one confusing kind, so when the workspace has a map
(``map_cluster``), the candidates (the :data:`POOL_FACTOR` x ``n`` most uncertain) are dealt round-robin across
clusters, each cluster in its own order of uncertainty, clusters ordered by their most uncertain member.
Documents already labelled, or selected by the classifier's own training selectors, are never suggested.
"""

from __future__ import annotations

from typing import Any

from app.errors import LearnError
from app.sql import qi

POOL_FACTOR = 20
MIN_POOL = 500


def _training_ids(ws: Any, settings: dict[str, Any]) -> set[str]:
    """Ids the classifier was trained on, re-resolved from its selectors (``file:`` texts have none)."""
    from app.learn.selectors import resolve_pair

    try:
        pair = resolve_pair(ws.cursor(), settings["positive"], settings["negative"], seed=int(settings.get("seed", 0)))
    except (LearnError, KeyError):  # the labels changed since: exclude only what is labelled
        return set()
    return set(pair.positive.ids) | set(pair.negative.ids)


def suggest(ws: Any, *, name: str, n: int = 20) -> list[dict[str, Any]]:
    """Up to ``n`` documents to label next for classifier ``name``: ``{id, p, uncertainty, cluster, text}``."""
    from app.learn import store
    from app.learn.classifier import column_of
    from app.learn.selectors import iter_texts
    from app.workspace import fast_relation

    if n <= 0:
        raise LearnError(f"-n must be positive, got {n}")
    if not ws.has_table(store.TABLE):
        raise LearnError(f"no classifier model named {name!r} in this workspace; have: none")
    m = store.get(ws.cursor(), name, kind="classifier")
    col = column_of(name)
    con = ws.cursor()
    rel = fast_relation(con)
    cols = ws.columns(rel, con=con)
    if col not in cols:
        raise LearnError(f"classifier {name!r} has no {col} column: train it again to score the workspace")
    skip = {r[0] for r in con.execute("SELECT DISTINCT id FROM labels").fetchall()} | _training_ids(ws, m.settings)
    cluster = "map_cluster" if "map_cluster" in cols else "NULL"
    pool = max(MIN_POOL, POOL_FACTOR * n)
    rows = con.execute(
        f"SELECT id, {qi(col)}, {cluster} FROM {rel} WHERE {qi(col)} IS NOT NULL "
        "AND id NOT IN (SELECT unnest(?::VARCHAR[])) "
        f"ORDER BY abs({qi(col)} - 0.5), id LIMIT {int(pool)}",
        [sorted(skip)],
    ).fetchall()
    by_cluster: dict[Any, list[tuple]] = {}
    for r in rows:  # already in order of uncertainty
        by_cluster.setdefault(r[2], []).append(r)
    picked: list[tuple] = []
    queues = list(by_cluster.values())
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    texts: dict[str, str] = {}
    for chunk, tx in iter_texts(con, [r[0] for r in picked]):
        texts.update(zip(chunk, tx, strict=True))
    return [{"id": r[0], "p": round(float(r[1]), 4), "uncertainty": round(1 - abs(2 * float(r[1]) - 1), 4),
             "cluster": None if r[2] is None else int(r[2]), "text": texts.get(r[0], "")} for r in picked]  # fmt: skip
