"""Thresholds: build rules and see at once what they keep. All counting is ``app.recipes.summarize``; the rule
editors and results are one browser-drawn panel (:mod:`app.ui.live`) that asks the server for counts directly."""

from __future__ import annotations

import math

import streamlit as st

from app.errors import WinnowError
from app.escaping import md_text
from app.explore import annotate_refs, panel_api, queries, recipe_bridge, view_state
from app.explore.view_state import Rule
from app.recipes import rules as rules_model
from app.ui import compare as compare_ui
from app.ui import learn, live, widgets

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


def _bump() -> None:
    """The rules changed on the server side (added, loaded, log axis): the panel redraws its editors."""
    ss["_thr_gen"] = ss.get("_thr_gen", 0) + 1


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
    _bump()


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
    _sync_annotate()
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
    _stage_counts()
    _retention()
    if st.toggle("show the rules as a recipe (YAML)", key="w_show_yaml"):
        rules = panel_api.usable(ss["rules"])
        try:
            name, desc = ss.get("recipe") or "my-recipe", ss.get("recipe_description")
            recipe = recipe_bridge.recipe_from_rules(rules, name=name, description=desc, base=ss.get("recipe_base"))
            st.code(recipe.to_yaml(), language="yaml")
        except WinnowError as e:
            st.error(str(e))
    view_state.sync_to_url(st.query_params, ss)


def _sync_annotate() -> None:
    """Keep a loaded recipe's ``annotate:`` naming the rules it named when opened (app.explore.annotate_refs):
    a rule removed in the panel leaves it with a visible note instead of re-targeting a number."""
    base = ss.get("recipe_base") or {}
    if not base.get("annotate"):
        ss.pop("_thr_ann_uids", None)
        return
    if "_thr_ann_uids" not in ss:
        ss["_thr_ann_uids"] = annotate_refs.anchor(ss["rules"], base)
    ss["recipe_base"], notes = annotate_refs.sync(ss["rules"], base, ss["_thr_ann_uids"])
    for msg in notes:
        st.warning(md_text(msg))


def _stage_counts() -> None:
    """The documents after every stage of the whole recipe (rules, dedup, balance, sample, annotate), as
    ``winnow apply``, the manifest and the report count them, and what a stage could not deliver."""
    base = ss.get("recipe_base") or {}
    if not (base.get("balance") or base.get("sample") or base.get("annotate")):
        return  # the panel above already counts rules and dedup
    cur = ws.cursor()
    try:
        s = recipe_bridge.full_summary(cur, panel_api.usable(ss["rules"]), base=base)
    except WinnowError as e:
        st.error(f"The recipe's stages cannot be counted: {e}")
        return
    finally:
        cur.close()
    st.markdown("**Every stage** (the panel counts the rules and dedup; balancing and sampling follow)")
    st.dataframe(
        recipe_bridge.stage_table(s),
        hide_index=True,
        column_config={"stage": None},
        width="stretch",
    )
    for msg in s.get("shortfalls", []):
        st.warning(md_text(msg))
    if lines := annotate_refs.tagged_lines(s):  # annotated rules keep their documents, tagged
        st.caption(md_text("Annotated rules remove nothing: the recipe keeps and tags their documents, so it "
                           f"keeps {s['kept_docs']:,}. " + "; ".join(lines)))  # fmt: skip


def _group_columns() -> list[str]:
    """Columns to balance or break retention down by: the map's clusters first, then the categorical columns."""
    clusters = [c for c in ("map_cluster_label", "map_cluster") if c in cols_all]
    return clusters + [c for c in widgets.cached(ws, queries.categorical_columns) if c not in clusters]


def _retention() -> None:
    """Retention by any categorical column (the map's clusters first): a cut's bias against a topic."""
    cols = _group_columns()
    if not cols:
        return
    box = st.expander(
        "Retention by category: the share of each map cluster (or any column) the cut keeps",
        key="w_ret_open",
        on_change="rerun",
    )
    if not box.open:  # counted only when open: at 10M documents the table needs its own recipe frame (~25 CPU-s,
        return  # GBs) and a second summary on every threshold change's rerun
    with box:
        col = st.selectbox("break retention down by", cols, key="w_ret_by")
        cur = ws.cursor()
        try:
            rows = recipe_bridge.retention(cur, panel_api.usable(ss["rules"]), column=col, base=ss.get("recipe_base"))
        except WinnowError as e:
            st.error(str(e))
            return
        finally:
            cur.close()
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            column_config={"kept %": st.column_config.NumberColumn(format="percent")},
        )
        st.caption("vs overall: the value's kept share over the corpus's (0.5 = kept half as much as the corpus).")


#: the stage editor's widgets: dropped when a recipe is loaded so that they show the loaded values
STAGE_KEYS = ("w_bal_col", "w_bal_cap", "w_bal_seed", "w_smp_mode", "w_smp_n", "w_smp_frac", "w_smp_w", "w_smp_seed")
NO_BALANCE, UNIFORM = "(no balancing)", "(uniform)"
SAMPLE_MODES = ["no sampling", "n documents", "a fraction"]


def _apply_stages() -> None:
    """The stage editor's values -> the recipe's balance (first step) and sample."""
    base = ss.get("recipe_base") or {}
    rest = list(base.get("balance") or [])[1:]
    col = ss.get("w_bal_col")
    first = (
        []
        if col in (None, NO_BALANCE)
        else [{"column": col, "cap": int(ss["w_bal_cap"]), "seed": int(ss["w_bal_seed"])}]
    )
    mode = ss.get("w_smp_mode") or SAMPLE_MODES[0]
    sample = None
    if mode != SAMPLE_MODES[0]:
        sample = {"n": int(ss["w_smp_n"])} if mode == SAMPLE_MODES[1] else {"fraction": float(ss["w_smp_frac"])}
        if ss.get("w_smp_w") not in (None, UNIFORM):
            sample["weight"] = ss["w_smp_w"]
        sample["seed"] = int(ss["w_smp_seed"])
        old = base.get("sample") or {}
        if "log_weight" in old and "weight" not in sample:
            sample["log_weight"] = old["log_weight"]
    new = recipe_bridge.with_stages(base, balance=first + rest, sample=sample)
    try:
        recipe_bridge.recipe_from_rules([], base=new)  # validates the stages before they replace the old ones
    except WinnowError as e:
        ss["_thr_stage_error"] = str(e)
        return
    ss["recipe_base"] = new


def _stage_editor() -> None:
    """Balancing and sampling: the stages after the rules and dedup (a loaded recipe's, or new ones)."""
    base = ss.get("recipe_base") or {}
    bal = list(base.get("balance") or [])
    smp = base.get("sample") or {}
    with st.expander("Balance and sample (the stages after the rules and dedup)", expanded=bool(bal or smp)):
        first = bal[0] if bal else {}
        opts = [NO_BALANCE, *_group_columns()]
        if first.get("column") and first["column"] not in opts:
            opts.append(first["column"])
        c1, c2, c3 = st.columns([4, 2, 1], vertical_alignment="bottom")
        c1.selectbox("balance: cap the documents of each value of", opts, key="w_bal_col",
                     index=opts.index(first["column"]) if first else 0)  # fmt: skip
        c2.number_input("cap per value", min_value=1, value=int(first.get("cap", 100)), step=1, key="w_bal_cap")
        c3.number_input("seed", min_value=0, value=int(first.get("seed", 0)), step=1, key="w_bal_seed")
        if len(bal) > 1:
            st.caption(f"and {len(bal) - 1} more balance step(s) of the loaded recipe, kept as they are")
        mode = 0 if not smp else (1 if smp.get("n") is not None else 2)
        s1, s2, s3, s4, s5 = st.columns([3, 2, 2, 3, 1], vertical_alignment="bottom")
        s1.radio("sample", SAMPLE_MODES, index=mode, key="w_smp_mode", horizontal=False)
        s2.number_input("n", min_value=1, value=int(smp.get("n") or 1000), step=100, key="w_smp_n")
        s3.number_input("fraction", min_value=0.0001, max_value=1.0, value=float(smp.get("fraction") or 0.1),
                        step=0.05, format="%.4f", key="w_smp_frac")  # fmt: skip
        wopts = [UNIFORM, *num]
        if smp.get("weight") and smp["weight"] not in wopts:
            wopts.append(smp["weight"])
        s4.selectbox("weighted by", wopts, index=wopts.index(smp["weight"]) if smp.get("weight") else 0, key="w_smp_w")
        s5.number_input("seed", min_value=0, value=int(smp.get("seed", 0)), step=1, key="w_smp_seed")
        st.button("Apply balance and sample", key="btn_stages", on_click=_apply_stages)
        if err := ss.pop("_thr_stage_error", None):
            st.error(err)
        st.caption(
            "Balancing keeps each document of a value with probability cap / count (MetaCLIP): about cap per value, "
            "so a balanced set holds at most about the sum of min(count, cap); a sample larger than what survives "
            "comes back short, and the counts below the panel say so."
        )


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
        on_change=_bump,
        help="auto: a log axis for long-tailed non-negative columns such as word counts",
    )


def _load() -> None:
    """Replace the rules with a preset's (for the chosen language) or a saved recipe's."""
    choice = recipe_bridge.starting_points(ws).get(ss.get("w_load_from") or "")
    if choice is None:
        return
    try:
        recipe = recipe_bridge.load_starting_point(ws, choice, language=ss.get("w_load_lang"))
    except WinnowError as e:
        ss["_thr_load_error"] = str(e)
        return
    _open(recipe)


def _open(recipe) -> None:
    """Replace the page's recipe with ``recipe``: its rules in the panel, every other stage kept aside."""
    ss["rules"], ss["recipe"], ss["recipe_description"] = recipe.panel_rules(), recipe.name, recipe.description
    ss["recipe_base"] = recipe_bridge.stage_base(recipe)
    ss.pop("_thr_ann_uids", None)  # anchored again to the new rules (app.ui.annotations)
    for k in STAGE_KEYS:
        ss.pop(k, None)
    ss["edge_uid"] = None
    _bump()


def _load_file() -> None:
    """Replace the rules and stages with those of an uploaded recipe file."""
    up = ss.get("w_load_file")
    if up is None:
        return
    try:
        recipe = recipe_bridge.load_recipe_text(up.getvalue(), where=f"recipe file {up.name}")
    except WinnowError as e:
        ss["_thr_load_error"] = str(e)
        return
    if not recipe.name:
        recipe.name = up.name.rsplit(".", 1)[0]
    _open(recipe)


def _load_row() -> None:
    """Start from a published pipeline (DataTrove, FineWeb, C4, Gopher), a saved recipe or a recipe file."""
    with st.expander("Start from a preset, a recipe saved earlier or a recipe file"):
        c1, c2, c3 = st.columns([5, 2, 2], vertical_alignment="bottom")
        c1.selectbox("Load", list(recipe_bridge.starting_points(ws)), key="w_load_from", index=None)
        c2.text_input("language (presets)", key="w_load_lang", placeholder="e.g. en, de, zh", max_chars=8)
        c3.button("Load (replaces the rules)", key="btn_load", on_click=_load)
        f1, f2 = st.columns([7, 2], vertical_alignment="bottom")
        f1.file_uploader("or a recipe YAML file", type=["yaml", "yml"], key="w_load_file")
        f2.button("Load the file", key="btn_load_file", on_click=_load_file)
        st.caption(
            "A link to this page with ?recipe=NAME opens the saved recipe NAME with every stage "
            "(save the recipe below, then share the page's URL)."
        )
        if err := ss.pop("_thr_load_error", None):
            st.error(err)


def _save_row() -> None:
    """The button reruns the page, which saves the rules as the panel last handed them back."""
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.text_input("Save the rules as a recipe named", value=ss.get("recipe") or "my-recipe", key="w_recipe_name")
    if c2.button("Save recipe", key="btn_save"):
        try:
            from app.recipes import save_recipe

            rules, desc = panel_api.usable(ss["rules"]), ss.get("recipe_description")
            base = ss.get("recipe_base")
            save_recipe(ws, name, recipe_bridge.recipe_from_rules(rules, name=name, description=desc, base=base))
        except WinnowError as e:
            st.error(str(e))
        else:  # the YAML preview above was drawn with the old name: draw the page again with the new one
            ss["recipe"], ss["_thr_saved"] = name, f"saved recipe {name!r} in the workspace"
            st.rerun()
    if msg := ss.pop("_thr_saved", None):
        st.success(msg)


_load_row()
_add_rule_row()
_stage_editor()
thresholds()
# outside the panel's fragment: a threshold change does not rerun them (the panel draws B's numbers and the plan
# itself); choosing B or a mixture setting reruns the page so the panel hears of it
compare_ui.panel(ws)
compare_ui.mixture_panel(ws)
_save_row()
