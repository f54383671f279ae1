"""The Thresholds page's compare panel: the recipe on the page (A) against a saved recipe or a preset (B).

Streamlit only: every number comes from :func:`app.recipes.compare.compare_recipes` (the same call as
``winnow compare``); texts are escaped by :mod:`app.ui.widgets`' HTML helpers.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.errors import WinnowError
from app.explore import recipe_bridge
from app.ui import widgets

SIDE = {"a_only": "A only", "b_only": "B only", "both": "both"}


def _counts_html(res: dict[str, Any]) -> str:
    c = res["counts"]
    rows = [
        {"fate": SIDE[k], "docs": c[k]["docs"], "tokens": c[k]["tokens"], "share": c[k]["docs"] / res["total_docs"]}
        for k in SIDE
        if res["total_docs"]
    ]
    return widgets.table_html(
        rows, {"fate": "", "docs": "documents", "tokens": "tokens", "share": "of all"}, bars=("share",)
    )


def _groups_html(rows: list[dict], key: str) -> str:
    cols = {key: key, "total": "documents", "kept_a": "A keeps", "kept_b": "B keeps", "a_only": "A only",
            "b_only": "B only", "a_only_tokens": "A-only tokens", "b_only_tokens": "B-only tokens"}  # fmt: skip
    return widgets.table_html(rows, cols, limit=15)


def panel(ws: Any, rules: list[Any], *, name: str | None = None, base: dict[str, Any] | None = None) -> None:
    """An expander comparing the page's recipe (its usable ``rules`` and the stages kept aside in ``base``) with
    a chosen saved recipe or preset."""
    with st.expander("Compare with another recipe (what does my change do?)"):
        try:
            current = recipe_bridge.recipe_from_rules(rules, name=name, base=base)
        except WinnowError as e:
            st.error(f"The rules above are not a valid recipe yet: {e}")
            return
        choices = recipe_bridge.starting_points(ws)
        c1, c2 = st.columns([5, 2], vertical_alignment="bottom")
        pick = c1.selectbox("B: compare the rules above (A) with", list(choices), key="w_cmp_with", index=None)
        lang = c2.text_input("language (presets)", key="w_cmp_lang", placeholder="e.g. en", max_chars=8)
        if pick is None:
            st.caption("A saved recipe or a preset; `winnow compare -r A -r B` prints the same comparison.")
            return
        try:
            other = recipe_bridge.load_starting_point(ws, choices[pick], language=lang or None)
            from app.recipes.compare import compare_recipes

            res = compare_recipes(ws.cursor(), current, other, flipped=6)
        except WinnowError as e:
            st.error(str(e))
            return
        st.html(_counts_html(res))
        st.caption(
            f"A keeps {res['a']['kept_docs']:,} documents ({res['a']['kept_tokens']:,} tokens), B keeps "
            f"{res['b']['kept_docs']:,} ({res['b']['kept_tokens']:,} tokens); tokens: {res['tokens']}; "
            f"{res['elapsed_ms']:,.0f} ms."
        )
        changed = [r for r in res["rules"] if r["status"] != "same"]
        if changed or res["sections"]:
            rows = [{"status": r["status"].replace("_", " "), "A": r.get("a"), "B": r.get("b")} for r in changed]
            rows += [{"status": f"{s['section']} differs", "A": str(s["a"]), "B": str(s["b"])} for s in res["sections"]]
            st.html(widgets.table_html(rows, {"status": "", "A": "A", "B": "B"}))
        if res["same"]:
            st.success("No document changes fate.")
            return
        flips = [
            {"why": ("dropped by B: " if f["direction"] == "a_only" else "dropped by A: ") + f["rule"], **f}
            for f in res["flips"]
        ]
        st.html(widgets.table_html(flips, {"why": "flipped documents", "docs": "documents", "tokens": "tokens"}))
        tabs = st.tabs(["by source", "by language", *(["by map cluster"] if res["by_cluster"] else [])])
        for tab, (key, rows) in zip(
            tabs, (("source", res["by_source"]), ("lang", res["by_lang"]), ("cluster", res["by_cluster"])), strict=False
        ):
            tab.html(_groups_html(rows, key))
        snips = [
            {"meta": f"{SIDE[d['direction']]} · {d['id']} · {d['source']} · {d['rule']}", "text": d["text"]}
            for d in res["flipped"]
        ]
        st.html(widgets.CSS + widgets.snippets_html(snips, n=300))
