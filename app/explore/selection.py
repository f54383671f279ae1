"""A map selection -> a Thresholds rule: keep or remove a box- or lasso-selected region, or remove whole clusters.

Pure functions over a DuckDB connection, used by the Map page and tested directly.

Region rules are ``expr`` rules on ``map_x``/``map_y`` bounds. The bounds are rounded to the shortest decimals
that select exactly the same documents as the box: a lower bound may move anywhere in ``(largest value below
it, smallest value at or above it]`` of its column (over all documents, so both axes can move at once), an
upper bound anywhere in ``[largest value at or below it, smallest value above it)``. DuckDB compares a FLOAT
column with a DOUBLE parameter in double precision, and the expression's literals become DOUBLE parameters,
so the neighbours are computed with the same comparisons the rule will use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.explore.view_state import Rule, expr_rule
from app.sql import qi

X, Y = "map_x", "map_y"
CLUSTER, LABEL = "map_cluster", "map_cluster_label"


@dataclass(frozen=True)
class Box:
    """A closed rectangle of the map: ``x0 <= map_x <= x1 and y0 <= map_y <= y1``."""

    x0: float
    x1: float
    y0: float
    y1: float

    @classmethod
    def of(cls, xs: Any, ys: Any) -> Box:
        xs, ys = [float(v) for v in xs], [float(v) for v in ys]
        return cls(min(xs), max(xs), min(ys), max(ys))


def boxes_from_selection(sel: Any) -> list[Box]:
    """The boxes of a plotly selection event (``{"box": [{"x": [a, b], "y": [c, d]}, ...]}``)."""
    out = []
    for b in (sel or {}).get("box") or []:
        try:
            xs, ys = b["x"], b["y"]
            box = Box.of(xs, ys)
        except (KeyError, TypeError, ValueError):
            continue
        if all(math.isfinite(v) for v in (box.x0, box.x1, box.y0, box.y1)):
            out.append(box)
    return out


def _relation(con: Any) -> str:
    from app.explore.queries import agg_relation

    return agg_relation(con)


def _num(v: float) -> str:
    """A float as expression text: ``3``, ``-0.25``, ``1.2345e-07`` (``repr`` round-trips exactly)."""
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def short_between(x: float, ok: Any) -> float:
    """The decimal with the fewest digits after the point (nearest to ``x`` at that precision) that
    satisfies ``ok``; ``x`` itself when no shorter one does (``ok(x)`` must hold)."""
    for p in range(0, 18):
        c = float(f"{x:.{p}f}")
        if ok(c):
            return c
    return float(x)


def snap_box(con: Any, box: Box, *, relation: str | None = None) -> Box:
    """``box`` with each bound rounded as far as it can be without changing which documents it holds."""
    return _snap(con, box, qi(relation or _relation(con)))[0]


def _snap(con: Any, box: Box, rel: str) -> tuple[Box, int]:
    """The snapped box and how many documents have no map position (one scan)."""
    x, y = qi(X), qi(Y)
    row = con.execute(
        f"SELECT max({x}) FILTER ({x} < $x0), min({x}) FILTER ({x} >= $x0), "
        f"max({x}) FILTER ({x} <= $x1), min({x}) FILTER ({x} > $x1), "
        f"max({y}) FILTER ({y} < $y0), min({y}) FILTER ({y} >= $y0), "
        f"max({y}) FILTER ({y} <= $y1), min({y}) FILTER ({y} > $y1), "
        f"count(*) FILTER ({x} IS NULL OR {y} IS NULL) FROM {rel}",
        {"x0": box.x0, "x1": box.x1, "y0": box.y0, "y1": box.y1},
    ).fetchone()
    x0 = _lower(box.x0, row[0], row[1])
    y0 = _lower(box.y0, row[4], row[5])
    return Box(x0, _upper(box.x1, row[2], row[3], x0), y0, _upper(box.y1, row[6], row[7], y0)), int(row[8])


def _lower(v: float, below: float | None, at: float | None) -> float:
    """A lower bound anywhere in (largest value below ``v``, smallest value at or above ``v``]."""
    a = -math.inf if below is None else float(below)
    b = math.inf if at is None else float(at)
    return short_between(v, lambda c: a < c <= b)


def _upper(v: float, at: float | None, above: float | None, lo: float) -> float:
    """An upper bound anywhere in [largest value at or below ``v``, smallest value above ``v``), not below ``lo``."""
    a = -math.inf if at is None else float(at)
    b = math.inf if above is None else float(above)
    return short_between(v, lambda c: a <= c < b and c >= lo)


def box_sql_text(box: Box) -> str:
    """``map_x between A and B and map_y between C and D`` (expression text)."""
    return f"{X} between {_num(box.x0)} and {_num(box.x1)} and {Y} between {_num(box.y0)} and {_num(box.y1)}"


def region_rules(con: Any, boxes: list[Box]) -> tuple[Rule, Rule]:
    """``(keep only, remove)``: ``expr`` rules keeping only / removing the documents inside ``boxes``
    (their union), with bounds rounded by :func:`snap_box`.

    Removing a region keeps the documents that have no map position (when there are any: ``map_x is null
    or ...``); keeping a region keeps only documents inside it."""
    if not boxes:
        raise ValueError("no box to make a rule of")
    rel = qi(_relation(con))
    snapped = [_snap(con, b, rel) for b in boxes]
    parts = [box_sql_text(b) for b, _ in snapped]
    region = parts[0] if len(parts) == 1 else " or ".join(f"({p})" for p in parts)
    remove = f"not ({region})"
    if snapped[0][1]:
        remove = f"{X} is null or {Y} is null or {remove}"
    return expr_rule(region), expr_rule(remove)


def region_rule(con: Any, boxes: list[Box], *, keep: bool) -> Rule:
    """One of :func:`region_rules`: keep only (``keep``) or remove the documents inside ``boxes``."""
    return region_rules(con, boxes)[0 if keep else 1]


def inside_sql(boxes: list[Box]) -> tuple[str, dict[str, float]]:
    """``(SQL, params)``: true for documents inside the union of ``boxes`` (bounds included)."""
    params: dict[str, float] = {}
    conds = []
    for i, b in enumerate(boxes):
        params.update({f"bx{i}a": b.x0, f"bx{i}b": b.x1, f"bx{i}c": b.y0, f"bx{i}d": b.y1})
        conds.append(f"({qi(X)} BETWEEN $bx{i}a AND $bx{i}b AND {qi(Y)} BETWEEN $bx{i}c AND $bx{i}d)")
    return "(" + (" OR ".join(conds) or "false") + ")", params


def count_in_boxes(con: Any, boxes: list[Box]) -> int:
    """Documents inside the union of ``boxes`` (bounds included)."""
    if not boxes:
        return 0
    sql, params = inside_sql(boxes)
    return int(con.execute(f"SELECT count(*) FROM {qi(_relation(con))} WHERE {sql}", params).fetchone()[0])


# ---------------------------------------------------------------- lasso -> polygon rules
#: a lasso is simplified to at most this many vertices before it becomes a ``polygon(...)`` rule
LASSO_VERTICES = 64


def lassos_from_selection(sel: Any) -> list[list[tuple[float, float]]]:
    """The lasso paths of a plotly selection event (``{"lasso": [{"x": [...], "y": [...]}, ...]}``)."""
    out = []
    for la in (sel or {}).get("lasso") or []:
        try:
            pts = [(float(x), float(y)) for x, y in zip(la["x"], la["y"], strict=True)]
        except (KeyError, TypeError, ValueError):
            continue
        pts = [p for p in pts if math.isfinite(p[0]) and math.isfinite(p[1])]
        if len(pts) >= 3:
            out.append(pts)
    return out


def simplify(points: list[tuple[float, float]], *, max_vertices: int = LASSO_VERTICES) -> list[tuple[float, float]]:
    """A closed path with at most ``max_vertices`` vertices (Ramer-Douglas-Peucker with a growing tolerance)."""
    pts = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    if len(pts) <= max_vertices:
        return pts
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    eps = 1e-6 * max(max(xs) - min(xs), max(ys) - min(ys), 1e-12)
    while True:
        out = _rdp(pts, eps)
        if len(out) <= max_vertices:
            return out
        eps *= 1.5


def _rdp(pts: list[tuple[float, float]], eps: float) -> list[tuple[float, float]]:
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        (x1, y1), (x2, y2) = pts[a], pts[b]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy) or 1e-300
        best, far = -1.0, -1
        for i in range(a + 1, b):
            d = abs(dy * (pts[i][0] - x1) - dx * (pts[i][1] - y1)) / norm
            if d > best:
                best, far = d, i
        if far > 0 and best > eps:
            keep[far] = True
            stack += [(a, far), (far, b)]
    return [p for p, k in zip(pts, keep) if k]


def polygon_text(points: list[tuple[float, float]], *, digits: int) -> str:
    """``polygon(map_x, map_y, x1, y1, ...)`` with coordinates rounded to ``digits`` decimals."""
    nums = ", ".join(f"{_num(round(float(x), digits))}, {_num(round(float(y), digits))}" for x, y in points)
    return f"polygon({X}, {Y}, {nums})"


def lasso_rules(con: Any, lassos: list[list[tuple[float, float]]]) -> tuple[Rule, Rule, int]:
    """``(keep only, remove, documents inside)`` for the union of lasso paths, each a ``polygon(...)``
    expression (simplified to :data:`LASSO_VERTICES` vertices, coordinates rounded to 1e-4 of the map's
    extent). The count is the rule's own (SQL over every document), which can differ from the points the
    browser's lasso listed by the few that sit on the simplified outline."""
    if not lassos:
        raise ValueError("no lasso to make a rule of")
    rel = qi(_relation(con))
    x, y = qi(X), qi(Y)
    lo_x, hi_x, lo_y, hi_y, nulls = con.execute(
        f"SELECT min({x}), max({x}), min({y}), max({y}), count(*) FILTER ({x} IS NULL OR {y} IS NULL) FROM {rel}"
    ).fetchone()
    span = max((hi_x or 0) - (lo_x or 0), (hi_y or 0) - (lo_y or 0), 1e-12)
    digits = max(0, 4 - math.floor(math.log10(span)))
    parts = [polygon_text(simplify(p), digits=digits) for p in lassos]
    region = parts[0] if len(parts) == 1 else " or ".join(parts)
    remove = f"not ({region})"
    if nulls:
        remove = f"{X} is null or {Y} is null or {remove}"
    keep_rule, remove_rule = expr_rule(region), expr_rule(remove)
    from app.recipes.expr import parse_expr

    params: dict[str, Any] = {}
    sql = parse_expr(region).to_sql(params)
    inside = int(con.execute(f"SELECT count(*) FROM {rel} WHERE {sql}", params).fetchone()[0])
    return keep_rule, remove_rule, inside


@dataclass
class ClusterCover:
    """How much of one map cluster a selection holds."""

    cluster: int
    label: str | None
    selected: int
    size: int

    @property
    def whole(self) -> bool:
        return self.selected >= self.size


def cluster_coverage(con: Any, *, ids: list[str] | None = None, boxes: list[Box] | None = None) -> list[ClusterCover]:
    """For each map cluster the selection touches (by document ids, or by boxes): selected and total
    documents, most-covered first. Noise (negative or NULL cluster ids) is not a cluster."""
    rel = qi(_relation(con))
    cols = {r[0] for r in con.execute(f"DESCRIBE {rel}").fetchall()}
    if CLUSTER not in cols:
        return []
    label = f"any_value({qi(LABEL)})" if LABEL in cols else "NULL"
    c = qi(CLUSTER)
    if ids is not None:
        ids = list(dict.fromkeys(str(i) for i in ids))
        if not ids:
            return []
        sql = (
            f"SELECT t.{c}, {label}, count(s.sid), count(*) FROM {rel} t "
            f"LEFT JOIN (SELECT DISTINCT unnest($ids::VARCHAR[]) AS sid) s ON t.id = s.sid "
            f"WHERE t.{c} IS NOT NULL AND t.{c} >= 0 GROUP BY 1 HAVING count(s.sid) > 0"
        )
        params: dict[str, Any] = {"ids": ids}
    elif boxes:
        inside, params = inside_sql(boxes)
        sql = (
            f"SELECT {c}, {label}, count(*) FILTER ({inside}) AS sel, count(*) FROM {rel} "
            f"WHERE {c} IS NOT NULL AND {c} >= 0 GROUP BY 1 HAVING sel > 0"
        )
    else:
        return []
    rows = con.execute(sql, params).fetchall()
    out = [ClusterCover(int(r[0]), r[1], int(r[2]), int(r[3])) for r in rows]
    out.sort(key=lambda cc: (-cc.selected / cc.size, -cc.size, cc.cluster))
    return out


def clusters_rule(con: Any, clusters: list[int]) -> Rule:
    """A rule removing every document of ``clusters`` and nothing else.

    ``map_cluster_label not in (...)`` when that is exact (each chosen cluster's label names only that
    cluster, and every document has a label: a NULL label would fail the rule): it reads well and is
    editable as a list on the Thresholds page. Otherwise ``map_cluster not in (...)`` as an expression,
    with ``map_cluster is null or`` in front when some documents have no cluster."""
    clusters = sorted({int(c) for c in clusters})
    if not clusters:
        raise ValueError("no cluster to make a rule of")
    rel = qi(_relation(con))
    cols = {r[0] for r in con.execute(f"DESCRIBE {rel}").fetchall()}
    c = qi(CLUSTER)
    if LABEL in cols:
        lab = qi(LABEL)
        labels = con.execute(
            f"SELECT DISTINCT {lab} FROM {rel} WHERE {c} IN (SELECT unnest($cl::INTEGER[]))", {"cl": clusters}
        ).fetchall()
        labels = [r[0] for r in labels]
        if labels and None not in labels:
            other, nulls = con.execute(
                f"SELECT count(*) FILTER ({lab} IN (SELECT unnest($labs::VARCHAR[])) AND "
                f"({c} IS NULL OR {c} NOT IN (SELECT unnest($cl::INTEGER[])))), "
                f"count(*) FILTER ({lab} IS NULL) FROM {rel}",
                {"labs": labels, "cl": clusters},
            ).fetchone()
            if other == 0 and nulls == 0:
                return Rule("not_in", LABEL, values=sorted(str(v) for v in labels))
    text = f"{CLUSTER} not in ({', '.join(str(v) for v in clusters)})"
    if con.execute(f"SELECT count(*) FROM {rel} WHERE {c} IS NULL").fetchone()[0]:
        text = f"{CLUSTER} is null or {text}"
    return expr_rule(text)
