"""The Map page's selection -> rule actions: keep or remove a box's region or a lasso's polygon, or remove the
whole map clusters a selection covers (rules added to the Thresholds page's). Streamlit only: the rules and counts
come from :mod:`app.explore.selection`."""

from __future__ import annotations

from typing import Any

import duckdb
import streamlit as st

from app.errors import WinnowError
from app.explore import selection
from app.explore.view_state import Rule
from app.ui import widgets


def _code(text: str) -> str:
    """``text`` as inline code in markdown (document-derived labels must not format the message)."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def _add_rule(rule: Rule, what: str) -> None:
    """Button callback (runs before the page, so the map's kept/removed colouring already uses the rule)."""
    ss = st.session_state
    have = ss.get("rules") or []
    if rule in have:
        ss["_map_rule_msg"] = f"The rule {_code(rule.describe())} is already there: nothing added."
        return
    ss["rules"] = [*have, rule]
    ss["_map_rule_msg"] = f"Added the rule {_code(rule.describe())}: {what}. " + (
        "It is the only rule." if not have else f"There are {len(have) + 1} rules now."
    )


def _add_region(ws: Any, boxes: list[selection.Box], keep: bool, what: str) -> None:
    """Button callback: the region rule is made only on a click (it scans the map columns once)."""
    ss = st.session_state
    try:
        rule = selection.region_rules(ws.cursor(), boxes)[0 if keep else 1]
    except (WinnowError, duckdb.Error) as e:
        ss["_map_rule_msg"] = f"error: {e}".splitlines()[0]
        return
    _add_rule(rule, what)


def _add_clusters(ws: Any, clusters: list[int], what: str) -> None:
    ss = st.session_state
    try:
        rule = selection.clusters_rule(ws.cursor(), clusters)
    except (WinnowError, duckdb.Error) as e:
        ss["_map_rule_msg"] = f"error: {e}".splitlines()[0]
        return
    _add_rule(rule, what)


def _add_lasso(ws: Any, lassos: list, keep: bool, what: str) -> None:
    """Button callback: the lasso's polygon rule (the same one whose count the button's help states)."""
    ss = st.session_state
    try:
        rule = selection.lasso_rules(ws.cursor(), lassos)[0 if keep else 1]
    except (WinnowError, duckdb.Error, ValueError) as e:
        ss["_map_rule_msg"] = f"error: {e}".splitlines()[0]
        return
    _add_rule(rule, what)


def _selection_facts(
    ws: Any, ids: list, region: list[selection.Box], lassos: list | None = None
) -> tuple[int, list[selection.ClusterCover]]:
    """Documents in the box (or the lasso's polygon) and the clusters the selection covers, computed once per
    selection (not on every rerun while it stays: two scans of the map columns, ~0.1 s at 1M documents)."""
    ss = st.session_state
    key = (
        str(ws.path),
        widgets.version(ws),
        tuple(region),
        repr(lassos) if lassos else None,
        None if region else hash(tuple(map(str, ids))),
    )
    got = ss.get("_map_sel_facts")
    if got is not None and got[0] == key:
        return got[1]
    cur = ws.cursor()
    if lassos:
        in_region = selection.lasso_rules(cur, lassos)[2]
    else:
        in_region = selection.count_in_boxes(cur, region) if region else 0
    if region:
        cover = selection.cluster_coverage(cur, boxes=region)
    else:
        cover = selection.cluster_coverage(cur, ids=ids) if ids else []
    ss["_map_sel_facts"] = (key, (in_region, cover))
    return in_region, cover


def rule_actions(ws: Any, ids: list, boxes: list[selection.Box], lassos: list) -> None:
    """Buttons that turn the selection into a rule: a box's region (kept or removed exactly), a lasso's
    polygon, or the whole map clusters the selection covers."""
    region = boxes if boxes and not lassos else []
    in_region, cover = _selection_facts(ws, ids, region, lassos)
    whole = [c for c in cover if c.whole]
    if not in_region and not cover:
        return
    total = widgets.n_docs(ws)
    st.markdown("**Turn the selection into a rule** (added to the Thresholds page's rules)")
    c1, c2, c3 = st.columns(3, vertical_alignment="bottom")
    if in_region:
        if lassos:
            where, add, arg = "in the lasso", _add_lasso, lassos
            how = (
                f"a polygon(map_x, map_y, ...) expression: the lasso's outline with at most "
                f"{selection.LASSO_VERTICES} vertices (the lasso listed {len(ids):,} documents)"
            )
        else:
            where, add, arg = "in the box", _add_region, region
            how = (
                "an expression on map_x and map_y with the box's bounds, rounded only as far as the same "
                "documents stay in"
            )
        for col, keep, verb, what in (
            (c1, True, "keep", f"keeps the {in_region:,} documents {where}, removes {total - in_region:,}"),
            (c2, False, "remove", f"removes the {in_region:,} documents {where}"),
        ):
            col.button(
                "Keep only this region" if keep else "Remove this region",
                key=f"btn_map_{verb}_region",
                on_click=add,
                args=(ws, arg, keep, what),
                help=f"adds a rule {'keeping only' if keep else 'removing'} the {in_region:,} documents {where}: {how}",
            )
    if whole:
        n_whole = sum(c.size for c in whole)
        names = ", ".join(_code(c.label or c.cluster) for c in whole[:5]) + (" …" if len(whole) > 5 else "")
        c3.button(
            "Remove this cluster" if len(whole) == 1 else f"Remove these {len(whole)} clusters",
            key="btn_map_remove_clusters",
            on_click=_add_clusters,
            args=(
                ws,
                [c.cluster for c in whole],
                f"removes the {n_whole:,} documents of the whole map cluster(s) {names}",
            ),
            help=f"adds a rule removing every document of {names} ({n_whole:,} documents)",
        )
    elif cover:
        best = cover[0]
        c3.caption(
            f"The selection covers no whole map cluster (at most {widgets.fmt_pct(best.selected, best.size)} of "
            f"{_code(best.label or best.cluster)}), so there is no cluster rule to add."
        )
