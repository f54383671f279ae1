"""Thresholds: build rules and see at once what they keep. All counting is ``app.recipes.summarize``."""

from __future__ import annotations

import math
import time

import pandas as pd
import streamlit as st

from app.errors import WinnowError
from app.ui import recipe_bridge, state, widgets
from app.ui.state import Rule

widgets.page_header("Thresholds", "Each rule keeps the documents that pass it; a document is kept when it passes all.")
ws = widgets.current_workspace()
if widgets.n_docs(ws) == 0:
    st.info("The workspace has no documents yet: ingest some on the Workspace page.")
    st.stop()
widgets.missing(ws, "signals", "rules can only use metadata columns until signals are computed.", key="miss_sig")

ss = st.session_state
ss.setdefault("rules", [])
num = widgets.q(ws, "numeric_columns")
cats = [c for c in widgets.q(ws, "categorical_columns") if widgets.q(ws, "corpus_columns").get(c) == "VARCHAR"]
cols_all = widgets.q(ws, "corpus_columns")
dedup_opts = {"exact duplicates": "exact"}
if "dup_near_keep" in cols_all:
    dedup_opts["near duplicates (MinHash)"] = "near"
if "semdup_is_dup" in cols_all:
    dedup_opts["semantic duplicates"] = "semantic"
unknown = [r for r in ss["rules"] if any(c not in cols_all for c in r.columns())]
if unknown:  # e.g. a shared URL from a workspace with other signals: say so instead of failing
    st.warning("Ignoring rules on columns this workspace does not have: " + ", ".join(r.label() for r in unknown))
    ss["rules"] = [r for r in ss["rules"] if r not in unknown]

KEPT, REMOVED = "#2f6f4f", "#c9c9c0"
#: the colour encoding of every cut chart: bins/values a rule keeps vs removes
PART_COLOUR = {
    "field": "part",
    "type": "nominal",
    "legend": None,
    "scale": {"domain": ["kept", "removed"], "range": [KEPT, REMOVED]},
}


def _add_rule() -> None:
    col = ss.get("w_add_col")
    mode = ss.get("w_add_mode", "by value")
    if not col:
        return
    if col == state.EXPR_ADD:  # a boolean expression, seeded with one that keeps every scored document
        seed = "map_x is not null" if "map_x" in cols_all else f"{(num or ['id'])[0]} is not null"
        rule = state.expr_rule(seed)
    elif col in dedup_opts:
        rule = Rule("dedup", dedup_opts[col])
    elif col in cats:
        top = widgets.q(ws, "top_values", col, n=50)
        rule = Rule("in", col, values=[str(v) for v in top["value"].head(3)])
    elif mode == "by quantile":
        rule = Rule("qrange", col, lo=0.05, hi=None)
    else:
        v = widgets.q(ws, "quantile_of", col, 0.05)
        rule = Rule("range", col, lo=None if v is None else float(f"{v:.4g}"), hi=None)
    ss["rules"] = [*ss["rules"], rule]


def _remove_rule(uid: str) -> None:
    ss["rules"] = [r for r in ss["rules"] if r.uid != uid]


def _focus(uid: str) -> None:
    ss["edge_uid"] = uid


def _sync_rule(rule: Rule) -> None:
    """Apply this rerun's widget values to ``rule`` before anything is drawn, so the counts can be computed
    (and sent to the browser) first and the unchanged editors after them."""
    k = rule.uid
    if rule.kind == "range":
        if f"lo_{k}" in ss:
            rule.lo = ss[f"lo_{k}"]
        if f"hi_{k}" in ss:
            rule.hi = ss[f"hi_{k}"]
    elif rule.kind == "qrange" and f"q_{k}" in ss:
        lo, hi = ss[f"q_{k}"]
        rule.lo = None if lo <= 0 else lo
        rule.hi = None if hi >= 1 else hi
    elif rule.kind in ("in", "notin"):
        if f"op_{k}" in ss:
            rule.kind = "in" if ss[f"op_{k}"] == "in" else "notin"
        if f"v_{k}" in ss:
            rule.values = list(ss[f"v_{k}"])
    elif rule.kind == "expr" and f"ex_{k}" in ss:
        rule.expr = ss[f"ex_{k}"]
        # the rule's column: the first known one it reads (a typo keeps the rule, and the summary names it)
        rule.col = next((c for c in state.expr_columns(rule.expr) if c in cols_all), rule.col)


def _rule_editor(rule: Rule) -> None:
    """One compact row per rule (the Thresholds fragment redraws every editor on each change, and each
    element costs the browser a render pass: no bordered boxes or separate titles)."""
    k = rule.uid
    # one horizontal container per rule (a row of widgets is one element fewer than columns would make)
    rm = {"key": f"del_{k}", "help": f"remove the rule {rule.label()}", "on_click": _remove_rule, "args": (k,)}
    if rule.kind == "range":
        lo_hi = widgets.q(ws, "value_range", rule.col)
        span = (lo_hi[1] - lo_hi[0]) if lo_hi[0] is not None else 0.0
        step = (
            1.0
            if span >= 100 or "INT" in cols_all.get(rule.col, "")
            else (10 ** math.floor(math.log10(span / 100)) if span > 0 else 0.01)
        )
        a = b = c = st.container(horizontal=True, vertical_alignment="bottom")
        rule.lo = a.number_input(
            f"min {rule.col}",
            value=rule.lo,
            key=f"lo_{k}",
            on_change=_focus,
            args=(k,),
            format="%g",
            step=step,
            help=f"observed {lo_hi[0]:g} … {lo_hi[1]:g}" if lo_hi[0] is not None else None,
        )
        rule.hi = b.number_input(
            f"max {rule.col}", value=rule.hi, key=f"hi_{k}", on_change=_focus, args=(k,), format="%g", step=step
        )
        c.button("✕", width="content", **rm)
    elif rule.kind == "qrange":
        a = c = st.container(horizontal=True, vertical_alignment="bottom")
        lo, hi = a.slider(
            f"quantiles of {rule.col}",
            0.0,
            1.0,
            (rule.lo or 0.0, 1.0 if rule.hi is None else rule.hi),
            step=0.01,
            key=f"q_{k}",
            on_change=_focus,
            args=(k,),
        )
        rule.lo = None if lo <= 0 else lo
        rule.hi = None if hi >= 1 else hi
        c.button("✕", width="content", **rm)
    elif rule.kind in ("in", "notin"):
        top = widgets.q(ws, "top_values", rule.col, n=50)
        opts = list(dict.fromkeys([*[str(v) for v in top["value"]], *rule.values]))
        a = b = c = st.container(horizontal=True, vertical_alignment="bottom")
        rule.values = a.multiselect(
            f"values of {rule.col}", opts, default=rule.values, key=f"v_{k}", on_change=_focus, args=(k,)
        )
        kind = b.radio(
            f"keep {rule.col}",
            ["in", "not in"],
            index=0 if rule.kind == "in" else 1,
            horizontal=True,
            key=f"op_{k}",
            on_change=_focus,
            args=(k,),
        )
        rule.kind = "in" if kind == "in" else "notin"
        c.button("✕", width="content", **rm)
    elif rule.kind == "expr":
        a = c = st.container(horizontal=True, vertical_alignment="bottom")
        rule.expr = a.text_input(
            "keep documents where",
            value=rule.expr,
            key=f"ex_{k}",
            on_change=_focus,
            args=(k,),
            help="A boolean expression over corpus columns: comparisons (< <= > >= = !=), and/or/not, "
            "+ - * / %, `between … and …`, `in (…)`, `is [not] null`; strings in quotes. "
            "Example: `not (map_x between 1.5 and 3.2 and map_y between -1 and 0.5)`",
        )
        rule.col = next((c for c in state.expr_columns(rule.expr) if c in cols_all), rule.col)
        c.button("✕", width="content", **rm)
    else:
        a = c = st.container(horizontal=True, vertical_alignment="center")
        a.markdown(f"**{rule.label()}** (the smallest id of each cluster is kept)")
        c.button("✕", width="content", **rm)


def _hist_spec(rule: Rule, resolved: dict, log: bool) -> tuple[pd.DataFrame, dict] | None:
    """Vega-Lite histogram of a rule's column with kept bins green and the cut drawn. Vega-Lite, not plotly,
    on this page: a plotly figure costs ~30 ms of Python validation per chart per update, a spec ~1 ms."""
    if rule.kind in ("range", "qrange"):
        h = widgets.q(ws, "histogram", rule.col, bins=50, log=log)
        if h.empty:
            return None
        lo, hi = resolved.get("min"), resolved.get("max")
        df = pd.DataFrame({"x0": h["x0"], "x1": h["x1"], "docs": h["count"]})
        df["part"] = [
            "kept" if (lo is None or x1 > lo) and (hi is None or x0 < hi) else "removed"
            for x0, x1 in zip(h["x0"], h["x1"])
        ]
        cuts = [{"cut": float(v), "name": f"{n} {v:.4g}"} for v, n in ((lo, "min"), (hi, "max")) if v is not None]
        xscale = {"type": "log"} if log else {"zero": False}
        spec = {
            "height": 150,
            "title": {"text": rule.col, "fontSize": 12},
            "layer": [
                {
                    "mark": {"type": "rect"},
                    "encoding": {
                        "x": {"field": "x0", "type": "quantitative", "scale": xscale, "title": None},
                        "x2": {"field": "x1"},
                        "y": {"field": "docs", "type": "quantitative", "title": None},
                        "color": PART_COLOUR,
                        "tooltip": [
                            {"field": "x0", "format": ".4g"},
                            {"field": "x1", "format": ".4g"},
                            {"field": "docs", "format": ","},
                        ],
                    },
                },
                {
                    "data": {"values": cuts},
                    "mark": {"type": "rule", "color": "#b5523b", "strokeWidth": 2},
                    "encoding": {"x": {"field": "cut", "type": "quantitative"}, "tooltip": [{"field": "name"}]},
                },
            ],
        }
        return df, spec
    if rule.kind in ("in", "notin"):
        t = widgets.q(ws, "top_values", rule.col, n=30)
        df = pd.DataFrame({"value": t["value"].astype(str), "docs": t["docs"]})
        df["part"] = ["kept" if (v in rule.values) == (rule.kind == "in") else "removed" for v in df["value"]]
        spec = {
            "height": 150,
            "title": {"text": rule.col, "fontSize": 12},
            "mark": {"type": "bar"},
            "encoding": {
                "x": {"field": "value", "type": "nominal", "sort": "-y", "title": None},
                "y": {"field": "docs", "type": "quantitative", "title": None},
                "color": PART_COLOUR,
                "tooltip": [{"field": "value"}, {"field": "docs", "format": ","}],
            },
        }
        return df, spec
    return None


RETENTION_COLS = {"total": "docs", "kept": "kept", "kept_frac": "kept %", "kept_tokens_frac": "tokens kept %"}


@st.fragment
def thresholds() -> None:
    t0 = time.perf_counter()
    top = st.container()
    left, right = st.columns([2, 3], gap="large")
    for rule in ss["rules"]:
        _sync_rule(rule)
    rules = [r for r in ss["rules"] if not (r.kind in ("in", "notin") and not r.col)]
    try:
        cur = ws.cursor()
        summary = recipe_bridge.summarize(cur, rules)
    except WinnowError as e:
        top.error(f"These rules cannot be evaluated: {e}")
        summary = None
    # what changed goes out first (counts, retention, rule table, cuts); the editors, whose widgets the
    # browser already shows, follow
    if summary is not None:
        _results(top, right, rules, summary)
    with left:
        st.subheader("Rules")
        for rule in ss["rules"]:
            _rule_editor(rule)
    if summary is None:
        state.sync_to_url(st.query_params, ss)
        return
    ss["_thr_runs"] = ss.get("_thr_runs", 0) + 1
    st.caption(
        f"update #{ss['_thr_runs']} · {1000 * (time.perf_counter() - t0):.0f} ms in the app"
        f" (summary query {summary['elapsed_ms']:.0f} ms)"
    )
    if rules:
        _edge(cur, rules)
    # an invisible end-of-update marker (the browser benchmark waits for it)
    st.markdown(f'<span class="w-done" data-run="{ss["_thr_runs"]}"></span>', unsafe_allow_html=True)
    if st.toggle("show the rules as a recipe (YAML)", key="w_show_yaml"):
        st.code(recipe_bridge.recipe_from_rules(rules, name=ss.get("recipe") or "my-recipe").to_yaml(), language="yaml")
    state.sync_to_url(st.query_params, ss)


def _add_rule_row() -> None:
    """Outside the fragment: adding a rule reruns the page once; a threshold change never redraws this row."""
    options = [*num, *cats, *dedup_opts, state.EXPR_ADD]
    c1, c2, c3 = st.columns([5, 3, 2], vertical_alignment="bottom")
    c1.selectbox("Add a rule on", options, key="w_add_col", index=None, placeholder="choose a signal…")
    c2.radio("numeric cut", ["by value", "by quantile"], key="w_add_mode", horizontal=True)
    c3.button("Add rule", key="btn_add_rule", on_click=_add_rule, type="primary")


def _save_row() -> None:
    """Outside the fragment too: the button reruns the page, which saves the rules as they are now."""
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.text_input("Save the rules as a recipe named", value=ss.get("recipe") or "my-recipe", key="w_recipe_name")
    if c2.button("Save recipe", key="btn_save"):
        rules = [r for r in ss["rules"] if not (r.kind in ("in", "notin") and not r.col)]
        try:
            from app.recipes import save_recipe

            save_recipe(ws, name, recipe_bridge.recipe_from_rules(rules, name=name))
            ss["recipe"] = name
            st.success(f"saved recipe {name!r} in the workspace")
        except WinnowError as e:
            st.error(str(e))


def _results(top, right, rules: list[Rule], summary: dict) -> None:
    """Counts, retention per source and language, what each rule removes, overlap, and the cut histograms."""
    total, kept = summary["total_docs"], summary["kept_docs"]
    with top:
        row = st.container(horizontal=True)
        c = [row, row, row]
        c[0].metric(
            "Kept documents",
            f"{kept:,}",
            f"{widgets.fmt_pct(kept, total)} of {total:,}",
            delta_color="off",
            delta_arrow="off",
        )
        c[1].metric(
            "Kept tokens",
            f"{summary['kept_tokens']:,}",
            f"{widgets.fmt_pct(summary['kept_tokens'], summary['total_tokens'])} of {summary['total_tokens']:,}"
            + (" (estimated)" if summary["tokens_estimated"] else ""),
            delta_color="off",
            delta_arrow="off",
        )
        c[2].metric("Removed documents", f"{summary['removed_docs']:,}")
    resolved_rules = summary["resolved"]["rules"]
    idx = recipe_bridge.check_index(rules)
    with right:
        bars = ("kept_frac", "kept_tokens_frac")
        src = widgets.table_html(summary["by_source"], {"source": "source", **RETENTION_COLS}, bars=bars)
        if summary["by_lang"]:
            lang = widgets.table_html(summary["by_lang"], {"lang": "language", **RETENTION_COLS}, bars=bars, limit=12)
        else:
            lang = '<div class="w-meta">No <code>lang_code</code> column: compute signals for retention per language.</div>'
        removes = ""
        if summary["rules"]:
            removes = '<h3 class="w-h">What each rule removes</h3>' + widgets.table_html(
                summary["rules"],
                {"label": "rule", "removed": "removed", "removed_frac": "removed %", "removed_only": "only by it"},
                bars=("removed_frac",),
            )
        # one element for the three tables and their headings: each element is a render pass in the browser
        # st.html: no markdown parse of a few kB of table markup on every update (sanitised, no scripts)
        st.html(
            '<h3 class="w-h">Retention</h3><div class="w-ret" style="display:flex;gap:1.2rem;flex-wrap:wrap">'
            f'<div style="flex:1 1 18rem">{src}</div><div style="flex:1 1 18rem">{lang}</div></div>' + removes
        )
        if summary["rules"] and len(summary["rules"]) > 1:
            labels = [f"{i + 1}. {r['label'][:30]}" for i, r in enumerate(summary["rules"])]
            nums = [str(i + 1) for i in range(len(labels))]
            cells = pd.DataFrame(
                [
                    {"a": labels[i], "b": nums[j], "docs": v, "with": labels[j]}
                    for i, row in enumerate(summary["overlap"])
                    for j, v in enumerate(row)
                ]
            )
            spec = {
                "height": 24 * len(labels) + 40,
                "title": {
                    "text": "overlap: documents removed by both rules (columns numbered as the rows)",
                    "fontSize": 12,
                },
                "mark": "rect",
                "encoding": {
                    "x": {"field": "b", "type": "ordinal", "sort": nums, "title": None, "axis": {"labelAngle": 0}},
                    "y": {"field": "a", "type": "nominal", "sort": labels, "title": None, "axis": {"labelLimit": 220}},
                    "color": {"field": "docs", "type": "quantitative", "scale": {"scheme": "greens"}},
                    "tooltip": [{"field": "a"}, {"field": "with"}, {"field": "docs", "format": ","}],
                },
            }
            st.vega_lite_chart(cells, spec, key="overlap", width="stretch")
    if rules:
        st.subheader("Cuts")
        log = st.toggle("log x axis for the histograms", key="w_thr_log")
        charts = []
        for i, rule in enumerate(rules):
            res = resolved_rules[idx[i]] if idx.get(i) is not None and idx[i] < len(resolved_rules) else {}
            chart = _hist_spec(rule, res, log)
            if chart is not None:
                df, spec = chart
                charts.append({**spec, "width": 300, "data": {"values": df.to_dict("records")}})
        if charts:  # one Vega view for every cut (rows of three): one parse and one element, not one per rule
            rows = [{"hconcat": charts[i : i + 3], "spacing": 24} for i in range(0, len(charts), 3)]
            spec = rows[0] if len(rows) == 1 else {"vconcat": rows, "spacing": 16}
            st.vega_lite_chart(None, {**spec, "autosize": {"type": "pad"}}, key="cuts", width="content")
    else:
        st.info("No rules yet: add one on the left (e.g. a minimum on a word count, or a language).")


def _edge(cur, rules: list[Rule]) -> None:
    """Documents just kept / just removed at the cut of one rule (the one last edited, or picked here).
    Each needs the text of a few documents, so this comes after the counts and never delays them."""
    st.subheader("At the edge of a cut")
    uids = [r.uid for r in rules]
    focus = ss.get("edge_uid") if ss.get("edge_uid") in uids else uids[0]
    labels = {r.uid: r.label()[:60] for r in rules}
    pick = st.radio(
        "rule",
        uids,
        index=uids.index(focus),
        format_func=labels.get,
        horizontal=True,
        key=f"w_edge_{focus}",
        label_visibility="collapsed",
    )
    ss["edge_uid"] = pick
    try:
        b = recipe_bridge.edge_docs(cur, rules, uids.index(pick), n=3)
    except WinnowError as e:
        st.caption(str(e))
        return
    halves = []
    for title, rows, cls in (
        ("just kept" if b["bound"] else "passing", b["above"], ""),
        ("just removed" if b["bound"] else "failing", b["below"], "below"),
    ):
        items = [{"text": r["text"], "meta": f"{r['id']} · {r['source']} · {r['value']}"} for r in rows]
        halves.append(
            f'<div style="flex:1 1 20rem;min-width:0"><p><strong>{title}</strong></p>'
            f"{widgets.snippets_html(items, cls=cls)}</div>"
        )
    st.html(f'<div style="display:flex;gap:1.2rem">{"".join(halves)}</div>')


_add_rule_row()
thresholds()
_save_row()
