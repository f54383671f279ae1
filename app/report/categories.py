"""Retention by category: what share of each map cluster (or any categorical column) a recipe keeps, next to
the share it keeps overall, so a cut's bias against a topic is visible (issue 20.5).

A quality threshold that keeps 90% of the corpus can keep half of one cluster (code, maths, another language):
per-source and per-language tables do not show it. The numbers are :func:`app.recipes.summarize`'s ``by_group``
(``group_by=COLUMN``), the same the dashboard's Thresholds page shows.
"""

from __future__ import annotations

from typing import Any

#: groups kept in the data per column (largest first); the rest are counted in ``more``
MAX_GROUPS = 200
#: columns a report breaks down by when none are asked for: the map's cluster names, else its cluster ids
DEFAULT_COLUMNS = ("map_cluster_label", "map_cluster")


def default_columns(columns: dict[str, str]) -> list[str]:
    """The map cluster column of the workspace, when it has a map (else none)."""
    return next(([c] for c in DEFAULT_COLUMNS if c in columns), [])


def relative(kept_frac: float | None, overall: float | None) -> float | None:
    """A group's kept share over the overall kept share (1 = kept like the corpus, 0.5 = half as much)."""
    if kept_frac is None or not overall:
        return None
    return round(kept_frac / overall, 4)


def retention_by(con: Any, recipe: Any, compiled: Any, columns: list[str]) -> list[dict[str, Any]]:
    """Per column: ``{column, kept_frac (overall), groups: [{group, total, kept, kept_frac, vs_overall, ...}],
    more}`` for the recipe's whole pipeline. Unknown columns raise the recipe library's one-line error."""
    from app.recipes import summarize

    out = []
    for col in dict.fromkeys(columns):
        s = summarize(con, recipe, compiled=compiled, group_by=col)
        groups = [{**g, "vs_overall": relative(g["kept_frac"], s["kept_frac"])} for g in s["by_group"]]
        out.append(
            {
                "column": col,
                "kept_frac": s["kept_frac"],
                "groups": groups[:MAX_GROUPS],
                "more": max(0, len(groups) - MAX_GROUPS),
            }
        )
    return out


def least_kept(groups: list[dict[str, Any]], *, min_docs: int = 20, n: int = 3) -> list[dict[str, Any]]:
    """The ``n`` groups of at least ``min_docs`` documents the recipe keeps least of, relative to overall."""
    big = [g for g in groups if g["total"] >= min_docs and g.get("vs_overall") is not None]
    return sorted(big, key=lambda g: (g["vs_overall"], -g["total"]))[:n]


def table(cat: dict[str, Any], *, none: str = "(none)", rows: int = 50) -> dict[str, Any]:
    """The report's table of one column: each value's documents before and after, its kept share and that share
    against the overall one (``0.50×`` = kept half as much as the corpus), largest values first."""

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    body = [
        [
            none if g["group"] is None else str(g["group"]),
            f"{g['total']:,}",
            f"{g['kept']:,}",
            pct(g["kept_frac"]),
            "–" if g["vs_overall"] is None else f"{g['vs_overall']:.2f}×",
            f"{g['kept_tokens']:,}",
        ]
        for g in cat["groups"][:rows]
    ]
    col = cat["column"]
    return {
        "column": col,
        "overall": pct(cat["kept_frac"]),
        "headers": [col, "docs before", "docs after", "kept", "kept vs overall", "tokens after"],
        "rows": body,
        "more": len(cat["groups"]) - len(body) + cat.get("more", 0),
    }
