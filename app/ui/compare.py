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
#: the mixture planner's token count when no target tokenizer column is chosen
DEFAULT_TOKENS = "size_tokens (the recipe's count)"


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


def _page_recipe() -> tuple[list[Any], str | None, dict[str, Any] | None]:
    """The Thresholds page's usable rules, recipe name and stages, as the session holds them now (a fragment
    rerun re-reads them: its arguments are those of the page's last full run)."""
    from app.explore import panel_api

    ss = st.session_state
    return panel_api.usable(ss.get("rules") or []), ss.get("recipe"), ss.get("recipe_base")


@st.fragment
def panel(ws: Any) -> None:
    """An expander comparing the page's recipe (its usable rules and the stages kept aside) with a chosen saved
    recipe or preset. A fragment: choosing B reruns only this panel (and the page once, so the Thresholds panel
    hears of B: it draws B's numbers after every threshold change). The flipped documents are read here, for the
    rules as they are when this runs (choosing B, or the refresh button), after the counts are drawn
    (:func:`app.recipes.compare.flipped_texts`)."""
    with st.expander("Compare with another recipe (what does my change do?)"):
        rules, name, base = _page_recipe()
        try:
            current = recipe_bridge.recipe_from_rules(rules, name=name, base=base)
        except WinnowError as e:
            st.error(f"The rules above are not a valid recipe yet: {e}")
            return
        choices = recipe_bridge.starting_points(ws)
        _from_url(choices)
        c1, c2 = st.columns([5, 2], vertical_alignment="bottom")
        pick = c1.selectbox("B: compare the rules above (A) with", list(choices), key="w_cmp_with", index=None)
        lang = c2.text_input("language (presets)", key="w_cmp_lang", placeholder="e.g. en", max_chars=8)
        _to_url(choices.get(pick) if pick is not None else None)
        _follow(ws)
        if pick is None:
            st.caption("A saved recipe or a preset; `winnow compare -r A -r B` prints the same comparison.")
            return
        st.caption(
            "The panel above draws this comparison's counts after every threshold change; the details below are "
            "for the rules as they were when B was chosen or refreshed."
        )
        st.button("Refresh the flipped documents for the current rules", key="btn_cmp_refresh")
        try:
            other = recipe_bridge.load_starting_point(ws, choices[pick], language=lang or None)
            from app.recipes.compare import compare_recipes

            cur = ws.cursor()
            res = compare_recipes(cur, current, other, flipped=6, snippets=False)
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
            _cut_histograms(ws, changed)
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
        from app.recipes.compare import flipped_texts

        try:
            flipped = flipped_texts(cur, res, text_chars=300)
        except WinnowError as e:
            st.error(str(e))
            return
        snips = [
            {"meta": f"{SIDE[d['direction']]} · {d['id']} · {d['source']} · {d['rule']}", "text": d["text"]}
            for d in flipped
        ]
        st.html(widgets.CSS + widgets.snippets_html(snips, n=300))


def register_context(ws: Any, token: str, *, name: str | None, base: dict[str, Any] | None) -> str:
    """Tell the Thresholds panel's routes (``app.explore.panel_compare``) which B and which mixture settings the
    widgets below chose, so the panel fetches and draws the comparison and the plan after every threshold change
    without a rerun. Returns the context's fingerprint (the panel asks again when it changes)."""
    from app.explore import panel_api, panel_compare, queries

    ss = st.session_state
    ctx = panel_compare.Context(name=name, base=base, version=widgets.version(ws))
    pick = ss.get("w_cmp_with")
    want = None if ss.get("_cmp_url_loaded") else st.query_params.get(URL_KEY)
    choices = recipe_bridge.starting_points(ws) if pick is not None or want else {}
    if pick is None and want:  # a shared link's B, as _from_url will pick it below: no second run to hear of it
        pick = next((k for k in (f"saved: {want}", f"preset: {want}", want) if k in choices), None)
    if pick in choices:
        try:
            ctx.b = recipe_bridge.load_starting_point(ws, choices[pick], language=ss.get("w_cmp_lang") or None)
            ctx.b_label = pick
        except WinnowError:
            pass  # the compare expander says why
    cats = [c for c in widgets.cached(ws, queries.categorical_columns) if c not in ("id", "text")]
    by = ss.get("w_mix_by") or ("source" if "source" in cats else (cats[0] if cats else None))
    if by in cats:
        tcol = ss.get("w_mix_tcol")
        ctx.mix = {
            "by": by,
            "tokens": int(ss.get("w_mix_tokens") or 1_000_000),
            "max_epochs": float(ss.get("w_mix_cap") or 2.0),
            "tokens_column": None if tcol in (None, DEFAULT_TOKENS) else tcol,
        }
    return panel_compare.set_context(token, ctx, alive=panel_api.alive())


def _follow(ws: Any) -> None:
    """Called by the fragments below after their widgets ran: when B or a mixture setting changed, rerun the page
    so the panel above hears of it (a change of choice, not of a threshold: rare)."""
    ss = st.session_state
    token = ss.get("_thr_token")
    if token and register_context(ws, token, name=ss.get("recipe"), base=ss.get("recipe_base")) != ss.get(
        "_thr_ctx_key_sent"
    ):
        st.rerun()


#: the URL query parameter naming recipe B (``?compare=NAME``: a saved recipe, else a preset)
URL_KEY = "compare"


def _from_url(choices: dict[str, tuple[str, str | None]]) -> None:
    """On the page's first run, pick the B the URL names (``?compare=NAME``), so a shared link shows the same
    comparison; a name this workspace does not have is said once."""
    ss = st.session_state
    if ss.get("_cmp_url_loaded"):
        return
    ss["_cmp_url_loaded"] = True
    want = st.query_params.get(URL_KEY)
    if not want:
        return
    hit = next((k for k in (f"saved: {want}", f"preset: {want}", want) if k in choices), None)
    if hit is None:
        from app.escaping import md_text

        st.warning(md_text(f"?compare={want}: no saved recipe or preset of that name in this workspace"))
    else:
        ss["w_cmp_with"] = hit


def _to_url(choice: tuple[str, str | None] | None) -> None:
    """Keep ``?compare=NAME`` naming the chosen B (removed when none is chosen)."""
    name = choice[1] if choice else None
    if not name:
        if URL_KEY in st.query_params:
            del st.query_params[URL_KEY]
    elif st.query_params.get(URL_KEY) != name:
        st.query_params[URL_KEY] = name


def _cut_histograms(ws: Any, changed: list[dict[str, Any]]) -> None:
    """Each changed numeric threshold drawn on its column's histogram: A's cut and B's cut as vertical lines."""
    import math

    from app.explore import queries

    num = set(widgets.cached(ws, queries.numeric_columns))
    rows = [r for r in changed if r["status"] == "changed" and r.get("signal") in num][:6]
    if not rows:
        return
    import plotly.graph_objects as go

    cols = st.columns(min(len(rows), 3))
    for i, r in enumerate(rows):
        col = r["signal"]
        log = bool(widgets.cached(ws, queries.is_skewed, col))
        h = widgets.cached(ws, queries.histogram, col, bins=50, log=log)
        if h.empty:
            continue
        fig = go.Figure()
        fig.add_bar(x=(h["x0"] + h["x1"]) / 2, y=h["count"], width=h["x1"] - h["x0"], marker_color="#b9b9b9",
                    name=col, showlegend=False)  # fmt: skip
        for side, color in (("a", "#2a7ab0"), ("b", "#e8890c")):
            for bound in ("min", "max"):
                v = (r.get(f"{side}_threshold") or {}).get(bound)
                if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or (log and v <= 0):
                    continue
                fig.add_vline(x=math.log10(v) if log else v, line_color=color, line_dash="dash" if side == "b" else "solid",
                              annotation_text=f"{side.upper()} {bound} {v:.4g}", annotation_font_color=color)  # fmt: skip
        fig.update_layout(height=240, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title={"text": col, "x": 0.01},
                          xaxis={"type": "log" if log else "linear"})  # fmt: skip
        cols[i % len(cols)].plotly_chart(fig, key=f"cmp_cut_{i}_{col}", width="stretch")


@st.fragment
def mixture_panel(ws: Any) -> None:
    """A token-budget mixture planner over what the page's recipe keeps: the grouping, budget, cap and token
    column (the Thresholds panel draws the plan for them after every threshold change, with its own editable
    shares), and here editable target shares per group, the tokens available and wanted, epochs, warnings and
    planned vs target shares (the recipe's ``mixture:``). A fragment: a share edit reruns only the planner, which
    replans from the group totals kept in the session."""
    with st.expander("Plan a token mixture (shares of tokens per group)"):
        rules, _, base = _page_recipe()
        try:
            from app.explore import queries
            from app.recipes.mixture import Mixture, plan

            recipe = recipe_bridge.recipe_from_rules(rules, base=base)
            cats = [c for c in widgets.cached(ws, queries.categorical_columns) if c not in ("id", "text")]
            if not cats:
                st.caption("No categorical column to group by.")
                return
            from app.export.annotate import split

            c1, c2, c3, c4 = st.columns([3, 3, 2, 3])
            by = c1.selectbox("group by", cats, key="w_mix_by", index=cats.index("source") if "source" in cats else 0)
            budget = c2.number_input("total tokens", min_value=1, value=1_000_000, step=100_000, key="w_mix_tokens")
            cap = c3.number_input("max epochs", min_value=1.0, value=2.0, step=0.5, key="w_mix_cap")
            # the target model's tokens (winnow score --tokenizer) when the workspace has them
            tcols = [c for c in widgets.cached(ws, queries.numeric_columns) if c.startswith("size_tokens_")]
            tcol = c4.selectbox("tokens counted as", [DEFAULT_TOKENS, *tcols], key="w_mix_tcol")
            tcol = None if tcol == DEFAULT_TOKENS else tcol
            _follow(ws)
            sel = split(recipe)[0]  # annotated rules tag, they do not drop: their documents are in the mixture
            totals = _totals(ws, recipe.__class__(rules=sel.rules, dedup=sel.dedup), by, tcol)
        except WinnowError as e:
            st.error(str(e))
            return
        top = sorted(totals, key=lambda g: -totals[g][1])[:30]
        import pandas as pd

        start = pd.DataFrame({"group": [str(g) for g in top], "share": [round(1 / max(len(top), 1), 4)] * len(top)})
        edited = st.data_editor(start, key=f"w_mix_shares_{by}", hide_index=True, disabled=["group"])
        shares = {str(r["group"]): float(r["share"] or 0) for r in edited.to_dict("records") if r["share"]}
        total = sum(shares.values())
        if not total:
            st.caption("Give at least one group a share.")
            return
        shares = {g: v / total for g, v in shares.items()}  # normalised, as the recipe requires a sum of 1
        p = plan(Mixture(by, int(budget), shares, float(cap), tokens_column=tcol), totals)
        rows = [{**g, "target": g["share"], "planned": g["share_planned"]} for g in p["groups"]]
        cols = {"group": by, "tokens_available": "tokens available", "tokens_wanted": "tokens wanted",
                "epochs": "epochs wanted", "epochs_used": "epochs used", "target": "target share",
                "planned": "planned share"}  # fmt: skip
        st.html(widgets.table_html(rows, cols, bars=("target", "planned")))
        for w in p["warnings"]:
            st.warning(w)
        spec = {
            "by": by,
            "tokens": int(budget),
            "max_epochs": float(cap),
            "shares": {g: round(v, 4) for g, v in shares.items()},
            **({"tokens_column": tcol} if tcol else {}),
        }
        import yaml

        st.code(yaml.safe_dump({"mixture": spec}, default_flow_style=None, sort_keys=False, allow_unicode=True))
        st.caption(
            "Planned over what the rules and dedup keep (balancing and sampling come before the mixture at export)."
        )


def _totals(ws: Any, recipe: Any, by: str, tokens_column: str | None = None) -> dict[str, tuple[int, int]]:
    """Tokens per group of what ``recipe`` keeps (in ``tokens_column`` when given;
    :func:`app.explore.panel_compare.group_totals`, the panel's own count), kept in the session per recipe,
    columns and data version, so editing shares replans without a query (the plan is arithmetic)."""
    from app.explore.panel_compare import group_totals

    key = (recipe.to_yaml(), by, tokens_column, widgets.version(ws))
    memo = st.session_state.setdefault("_mix_totals", {})
    if key not in memo:
        cur = ws.cursor()
        try:
            got = group_totals(cur, recipe, by, tokens_column)
        finally:
            cur.close()
        memo.clear()
        memo[key] = got
    return memo[key]
