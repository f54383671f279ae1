"""Recompute the decontamination signals of a workspace and summarise them per benchmark."""

from __future__ import annotations

from typing import Any

from app.decontam.store import BENCHMARKS


def run(ws: Any, *, progress: Any = None, n: int | None = None, hit: float | None = None, workers: int = 1) -> dict[str, Any]:  # fmt: skip
    """Score family ``decontam`` for every document (always recomputed: benchmarks may have changed) and
    return ``{documents, contaminated, seconds, benchmarks: [{name, items, items_matched, documents}]}``."""
    from app.signals import engine

    opts: dict[str, Any] = {}
    if n is not None:
        opts["n"] = int(n)
    if hit is not None:
        opts["hit"] = float(hit)
    res = engine.score(
        ws, signals="decontam", progress=progress, options={"decontam": opts}, force=True, workers=max(1, workers)
    )
    from app.decontam.near import workspace_near

    out = {"documents": res["documents"], "seconds": res["seconds"], "near": workspace_near(ws.con), **summary(ws)}
    return out


def summary(ws: Any) -> dict[str, Any]:
    """Per benchmark: items, items matched by at least one document, documents matching one of its items."""
    from app.signals.decontam import MATCHES

    cur = ws.cursor()
    if not ws.has_table(BENCHMARKS):
        return {"contaminated": 0, "benchmarks": []}
    has_matches = ws.has_table(MATCHES)
    sql = f"""SELECT b.name, b.items,
        {"(SELECT count(DISTINCT item_id) FROM " + MATCHES + " m WHERE m.benchmark = b.name)" if has_matches else "0"},
        {"(SELECT count(DISTINCT id) FROM " + MATCHES + " m WHERE m.benchmark = b.name)" if has_matches else "0"}
        FROM {BENCHMARKS} b ORDER BY b.name"""
    rows = cur.execute(sql).fetchall()
    contaminated = cur.execute(f"SELECT count(DISTINCT id) FROM {MATCHES}").fetchall()[0][0] if has_matches else 0
    return {
        "contaminated": int(contaminated),
        "benchmarks": [{"name": r[0], "items": r[1], "items_matched": r[2], "documents": r[3]} for r in rows],
    }
