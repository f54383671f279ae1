"""Thresholds: build rules and see at once what they keep. All counting is ``app.recipes.summarize``; the rule
editors and results are one browser-drawn panel (:mod:`app.ui.live`) that asks the server for counts directly."""

from __future__ import annotations

import math

import streamlit as st

from app.errors import WinnowError
from app.explore import panel_api, queries, recipe_bridge, view_state
from app.explore.view_state import Rule
from app.recipes import rules as rules_model
from app.ui import compare as compare_ui
from app.ui import learn, live, recipe_io, recipe_stages, widgets
from app.ui.recipe_io import bump

#: the "numeric cut" choice that keeps the same quantile of every language (a ``group_quantile`` rule)
QUANTILE_BY_LANG = "quantile within each language"

widgets.page_header("Thresholds", "Each rule keeps the documents that pass it; a document is kept when it passes all.")
ws = widgets.current_workspace()
if widgets.n_docs(ws) == 0:
    st.info("The workspace has no documents yet: ingest some on the Workspace page.")
    st.stop()
widgets.missing(ws, "signals", "rules can only use metadata columns until signals are computed.", key="miss_sig")

ss = st.session_state
ss.setdefault("rules", [])
if not ss.get("_thr_url_recipe"):  # the URL names a saved recipe (?recipe=NAME): open it with every stage
    ss["_thr_url_recipe"] = True
    if (name := ss.get("recipe")) and "recipe_base" not in ss:
        try:
            from app.recipes import get_recipe

            opened = get_recipe(ws, name)
        except WinnowError:
            opened = None  # a name from another workspace's URL, or a preset's: nothing to open
        if opened is not None:
            ss["recipe_base"] = recipe_bridge.stage_base(opened)
            ss["recipe_description"] = opened.description
            if not ss["rules"]:  # rules in the URL (r=) win: they are what the sender was looking at
                ss["rules"] = opened.panel_rules()
if note := ss.pop(view_state.STAGES_NOTE, None):  # the link's stages (rb=) unreadable, or too large to carry
    st.warning(note)
num = widgets.cached(ws, queries.numeric_columns)
cats = [
    c
    for c in widgets.cached(ws, queries.categorical_columns)
    if widgets.cached(ws, queries.corpus_columns).get(c) == "VARCHAR"
]
cols_all = widgets.cached(ws, queries.corpus_columns)
dedup_opts = {"exact duplicates": "exact"}
if "dup_near_keep" in cols_all:
    dedup_opts["near duplicates (MinHash)"] = "near"
if "semdup_is_dup" in cols_all:
    dedup_opts["semantic duplicates"] = "semantic"
unknown = [r for r in ss["rules"] if any(c not in cols_all for c in r.columns())]
if unknown:  # e.g. a shared URL from a workspace with other signals: say so instead of failing
    st.warning("Ignoring rules on columns this workspace does not have: " + ", ".join(r.describe() for r in unknown))
    ss["rules"] = [r for r in ss["rules"] if r not in unknown]


def _add_rule() -> None:
    col = ss.get("w_add_col")
    mode = ss.get("w_add_mode", "by value")
    if not col:
        return
    if col == view_state.EXPR_ADD:  # a boolean expression, seeded with one that keeps every scored document
        seed = "map_x is not null" if "map_x" in cols_all else f"{(num or ['id'])[0]} is not null"
        rule = view_state.expr_rule(seed)
    elif col in dedup_opts:
        rule = Rule("dedup", dedup_opts[col])
    elif col in cats:
        top = widgets.cached(ws, queries.top_values, col, n=50)
        rule = Rule("in", col, values=[str(v) for v in top["value"].head(3)])
    elif mode == "by quantile":
        rule = Rule("quantile", col, lo=0.05, hi=None)
    elif mode == QUANTILE_BY_LANG and "lang_code" in cols_all:  # the same share of every language
        rule = rules_model.make("group_quantile", col, lo=0.3, by="lang_code")
    else:
        v = widgets.cached(ws, queries.quantile_of, col, 0.05)
        rule = Rule("range", col, lo=None if v is None else float(f"{v:.4g}"), hi=None)
    ss["rules"] = [*ss["rules"], rule]
    ss["edge_uid"] = rule.uid
    bump()


def _from_panel() -> None:
    """The panel's rules, after the user edited them there (a trigger value: JSON ``{rules, edge_uid}``)."""
    got = panel_api.from_panel((ss.get("thr_panel") or {}).get("rules"))
    if got is None:
        return  # not from our panel: keep the rules as they are
    ss["rules"], ss["edge_uid"] = got
    ss["_thr_from_panel"] = True


def _rule_meta(rule: Rule) -> dict:
    """What a rule's editor needs besides the rule: a step and the observed range, or the values to pick."""
    if rule.kind == "range":
        lo, hi = widgets.cached(ws, queries.value_range, rule.col)
        span = (hi - lo) if lo is not None else 0.0
        step = (
            1.0
            if span >= 100 or "INT" in cols_all.get(rule.col, "")
            else (10 ** math.floor(math.log10(span / 100)) if span > 0 else 0.01)
        )
        return {"step": step, "observed": None if lo is None else [lo, hi]}
    if rule.kind in ("in", "not_in"):
        return {"options": [str(v) for v in widgets.cached(ws, queries.top_values, rule.col, n=50)["value"]]}
    if rule.kind == "dedup" and rule.col == "near":  # the Jaccard slider starts at the scored threshold
        from app.signals.dedup_near import scored_threshold

        return {"scored": widgets.cached(ws, scored_threshold)}
    return {}


def _rule_hist(rule: Rule, axis: str) -> dict | None:
    """The bins of a rule's column (they do not depend on the thresholds; the panel colours them). ``axis``
    ``auto`` draws long-tailed non-negative columns (word counts) on a log x axis."""
    if rule.kind in ("range", "quantile", "group_quantile"):
        log = axis == "log" or (axis == "auto" and widgets.cached(ws, queries.is_skewed, rule.col))
        h = widgets.cached(ws, queries.histogram, rule.col, bins=50, log=log)
        if h.empty:
            return None
        bins = [[float(a), float(b), int(c)] for a, b, c in zip(h["x0"], h["x1"], h["count"])]
        return {"type": "num", "bins": bins, "log": bool(log)}
    if rule.kind in ("in", "not_in"):
        t = widgets.cached(ws, queries.top_values, rule.col, n=30)
        return {"type": "cat", "values": [[str(v), int(c)] for v, c in zip(t["value"], t["docs"])]}
    return None


@st.fragment
def thresholds() -> None:
    """The panel. A threshold change never reruns this: the panel asks ``/winnow/api/summary`` and redraws
    itself, then hands its rules back (one rerun that redraws nothing but keeps the URL and session current)."""
    recipe_stages.sync_annotate()
    token = ss["_thr_token"] = panel_api.register(ws, ss.get("_thr_token"))
    # annotated rules tag, not remove: the panel's counts (and its own requests) follow the recipe's annotate:
    ann = panel_api.set_annotate(token, (ss.get("recipe_base") or {}).get("annotate"), ss.get("_thr_ann_uids"))
    data: dict = {"token": token, "api": panel_api.PREFIX, "gen": ss.get("_thr_sent_gen")}
    # recipe B and the mixture settings chosen below: the panel fetches and draws them with every change
    data["ctx"] = ss["_thr_ctx_key_sent"] = compare_ui.register_context(
        ws, token, name=ss.get("recipe"), base=ss.get("recipe_base")
    )
    if not ss.pop("_thr_from_panel", False):
        # a new generation whenever the page itself changed the rules or the data changed (a finished job):
        # the panel then redraws its editors and histograms from what follows
        data["gen"] = ss["_thr_sent_gen"] = f"{ss.setdefault('_thr_gen', 0)}|{widgets.version(ws)}"
        rules = ss["rules"]
        axis = ss.get("w_thr_axis") or "auto"
        data.update(
            rules=[panel_api.rule_to_json(r) for r in rules],
            hist={r.uid: h for r in rules if (h := _rule_hist(r, axis)) is not None},
            meta={r.uid: _rule_meta(r) for r in rules},
            edge_uid=ss.get("edge_uid"),
        )
        cur = ws.cursor()
        try:  # the first counts come with the page: no extra round trip before they show
            data["summary"] = panel_api.summary_payload(cur, rules, annotate=ann)
        except WinnowError as e:
            data["error"] = f"These rules cannot be evaluated: {e}"
        finally:
            cur.close()
    live.thresholds_panel(key="thr_panel", data=data, on_rules_change=_from_panel)
    learn.edge_labels(ws, ss["rules"], ss.get("edge_uid"))  # good/bad buttons on the rule's edge documents
    recipe_stages.stage_counts(ws)
    recipe_stages.retention(ws, recipe_stages.group_columns(ws, cols_all))
    if st.toggle("show the rules as a recipe (YAML)", key="w_show_yaml"):
        rules = panel_api.usable(ss["rules"])
        try:
            name, desc = ss.get("recipe") or "my-recipe", ss.get("recipe_description")
            recipe = recipe_bridge.recipe_from_rules(rules, name=name, description=desc, base=ss.get("recipe_base"))
            st.code(recipe.to_yaml(), language="yaml")
        except WinnowError as e:
            st.error(str(e))
    view_state.sync_to_url(st.query_params, ss)


def _add_rule_row() -> None:
    """Outside the panel: adding a rule reruns the page once and the panel redraws its editors."""
    options = [*widgets.cached(ws, queries.ordered, [*num, *cats]), *dedup_opts, view_state.EXPR_ADD]
    c1, c2, c3, c4 = st.columns([5, 3, 2, 3], vertical_alignment="bottom")
    c1.selectbox("Add a rule on", options, key="w_add_col", index=None, placeholder="choose a signal…")
    modes = ["by value", "by quantile", *([QUANTILE_BY_LANG] if "lang_code" in cols_all else [])]
    c2.radio("numeric cut", modes, key="w_add_mode", horizontal=True)
    c3.button("Add rule", key="btn_add_rule", on_click=_add_rule, type="primary")
    c4.radio(
        "histogram x axis",
        ["auto", "linear", "log"],
        key="w_thr_axis",
        horizontal=True,
        on_change=bump,
        help="auto: a log axis for long-tailed non-negative columns such as word counts",
    )


recipe_io.load_row(ws)
_add_rule_row()
recipe_stages.stage_editor(columns=recipe_stages.group_columns(ws, cols_all), numeric=num)
thresholds()
# outside the panel's fragment: a threshold change does not rerun them (the panel draws B's numbers and the plan
# itself); choosing B or a mixture setting reruns the page so the panel hears of it
compare_ui.panel(ws)
compare_ui.mixture_panel(ws)
recipe_io.save_row(ws)
