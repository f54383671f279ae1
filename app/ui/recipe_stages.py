"""The Thresholds page's recipe stages beside the panel: every stage's counts, retention by category, and the
balance/sample editor. Streamlit only: the counts come from :mod:`app.explore.recipe_bridge`."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.errors import WinnowError
from app.escaping import md_text
from app.explore import annotate_refs, panel_api, queries, recipe_bridge
from app.ui import widgets

#: the stage editor's widgets: dropped when a recipe is loaded so that they show the loaded values
STAGE_KEYS = ("w_bal_col", "w_bal_cap", "w_bal_seed", "w_smp_mode", "w_smp_n", "w_smp_frac", "w_smp_w", "w_smp_seed")
NO_BALANCE, UNIFORM = "(no balancing)", "(uniform)"
SAMPLE_MODES = ["no sampling", "n documents", "a fraction"]


def group_columns(ws: Any, cols_all: dict[str, str]) -> list[str]:
    """Columns to balance or break retention down by: the map's clusters first, then the categorical columns."""
    clusters = [c for c in ("map_cluster_label", "map_cluster") if c in cols_all]
    return clusters + [c for c in widgets.cached(ws, queries.categorical_columns) if c not in clusters]


def sync_annotate() -> None:
    """Keep a loaded recipe's ``annotate:`` naming the rules it named when opened (app.explore.annotate_refs):
    a rule removed in the panel leaves it with a visible note instead of re-targeting a number."""
    ss = st.session_state
    base = ss.get("recipe_base") or {}
    if not base.get("annotate"):
        ss.pop("_thr_ann_uids", None)
        return
    if "_thr_ann_uids" not in ss:
        ss["_thr_ann_uids"] = annotate_refs.anchor(ss["rules"], base)
    ss["recipe_base"], notes = annotate_refs.sync(ss["rules"], base, ss["_thr_ann_uids"])
    for msg in notes:
        st.warning(md_text(msg))


def stage_counts(ws: Any) -> None:
    """The documents after every stage of the whole recipe (rules, dedup, balance, sample, annotate), as
    ``winnow apply``, the manifest and the report count them, and what a stage could not deliver."""
    ss = st.session_state
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


def retention(ws: Any, cols: list[str]) -> None:
    """Retention by any categorical column of ``cols`` (the map's clusters first): a cut's bias against a topic."""
    ss = st.session_state
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


def _apply_stages() -> None:
    """The stage editor's values -> the recipe's balance (first step) and sample."""
    ss = st.session_state
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


def stage_editor(*, columns: list[str], numeric: list[str]) -> None:
    """Balancing (by one of ``columns``) and sampling (weighted by one of ``numeric``): the stages after the rules
    and dedup (a loaded recipe's, or new ones)."""
    ss = st.session_state
    base = ss.get("recipe_base") or {}
    bal = list(base.get("balance") or [])
    smp = base.get("sample") or {}
    with st.expander("Balance and sample (the stages after the rules and dedup)", expanded=bool(bal or smp)):
        first = bal[0] if bal else {}
        opts = [NO_BALANCE, *columns]
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
        wopts = [UNIFORM, *numeric]
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
