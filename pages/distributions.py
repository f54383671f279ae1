"""Distributions: histogram (linear/log), ECDF, overlay or facet by a category, quantiles, 2-D density, correlations.

Every number comes from a DuckDB aggregate (``app.explore.queries``); no page pulls documents to plot them.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app.explore import columns, queries
from app.ui import widgets

# Vega-Lite, not plotly, on this page: its library is a sixth of plotly.js (0.8 vs 4.7 MB of JavaScript), so a new
# session draws the first chart seconds earlier on a small machine; the specs are plain dicts (no validation cost).
GROUP_SCALE = {"scheme": "tableau10"}


def _xscale(log: bool) -> dict:
    return {"type": "log"} if log else {"zero": False}


def _edges(centres: pd.Series, idx: pd.Series, log: bool) -> tuple[pd.Series, pd.Series]:
    """Bin edges from bin centres and bin numbers (equal-width bins, in log10 space when ``log``)."""
    c = centres.map(math.log10) if log else centres.astype(float)
    pairs = sorted(set(zip(idx.tolist(), c.tolist())))
    width = (
        (pairs[-1][1] - pairs[0][1]) / (pairs[-1][0] - pairs[0][0])
        if len(pairs) > 1 and pairs[-1][0] != pairs[0][0]
        else 1.0
    )
    lo, hi = c - width / 2, c + width / 2
    return (10**lo, 10**hi) if log else (lo, hi)


widgets.page_header("Distributions", "How every signal is distributed, overall and per source or language.")
ws = widgets.current_workspace()
if widgets.n_docs(ws) == 0:
    st.info("The workspace has no documents yet: ingest some on the Workspace page.")
    st.stop()
widgets.missing(ws, "signals", "only numeric metadata can be plotted until signals are computed.", key="miss_sig")

num = widgets.cached(ws, queries.numeric_columns)
cats = widgets.cached(ws, queries.categorical_columns)
if not num:
    st.warning("No numeric column in the corpus yet.")
    st.stop()

ss = st.session_state
# signals first, provenance last; the default is dense and spread (never mostly NULL, never one value)
catalogue = widgets.cached(ws, columns.catalogue)
helps = {c.name: c.help for c in catalogue}
sig = ss.get("sig") if ss.get("sig") in num else columns.pick_default(catalogue, num)
c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
sig = c1.selectbox(
    "Signal",
    num,
    index=num.index(sig),
    key="w_dist_sig",
    help="Computed signals first (by family), then metadata by coverage; provenance columns last.",
)
ss["sig"] = sig
by_opts = ["(none)", *cats]
by = ss.get("by") if ss.get("by") in by_opts else "(none)"
by = c2.selectbox("Split by", by_opts, index=by_opts.index(by), key="w_dist_by")
ss["by"] = "" if by == "(none)" else by
layout = c3.radio("Groups", ["overlay", "facet"], horizontal=True, key="w_dist_layout")
log = c4.toggle("log x axis", value=widgets.cached(ws, queries.is_skewed, sig), key=f"w_dist_log_{sig}")
group = None if by == "(none)" else by

hist = widgets.cached(ws, queries.histogram, sig, bins=60, log=log, by=group)
if hist.empty:
    st.warning(f"`{sig}` has no values" + (" above 0 (log axis)" if log else "") + ".")
else:
    hist = hist.copy()
    hist["share"] = hist["count"] / hist.groupby("group")["count"].transform("sum")
    y = "share" if group else "count"
    enc = {
        "x": {"field": "x0", "type": "quantitative", "scale": _xscale(log), "title": sig},
        "x2": {"field": "x1"},
        "y": {
            "field": y,
            "type": "quantitative",
            "title": "share of the group" if group else "documents",
            "stack": None,
        },
        "tooltip": [
            {"field": "group"},
            {"field": "x0", "format": ".4g", "title": "from"},
            {"field": "x1", "format": ".4g", "title": "to"},
            {"field": "count", "format": ",", "title": "documents"},
        ],
    }
    if group:
        enc["color"] = {"field": "group", "type": "nominal", "scale": GROUP_SCALE, "title": group}
    mark = {"type": "rect", "opacity": 0.65 if group and layout == "overlay" else 0.9}
    if group and layout == "facet":
        spec = {
            "facet": {"field": "group", "type": "nominal", "title": None},
            "columns": 4,
            "resolve": {"scale": {"y": "independent"}},
            "spec": {"height": 150, "width": 220, "mark": mark, "encoding": enc},
        }
    else:
        spec = {"height": 320, "mark": mark, "encoding": enc}
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**Histogram of `{sig}`**" + (" (share of each group)" if group else ""))
        st.caption(helps.get(sig, ""))
        st.vega_lite_chart(hist, spec, key="hist", width="stretch" if layout != "facet" or not group else "content")
    with right:
        e = widgets.cached(ws, queries.ecdf, sig, by=group)
        if log:
            e = e[e["x"] > 0]
        espec = {
            "height": 320,
            "mark": {"type": "line", "interpolate": "step-after"},
            "encoding": {
                "x": {"field": "x", "type": "quantitative", "scale": _xscale(log), "title": sig},
                "y": {"field": "p", "type": "quantitative", "title": "fraction ≤ x"},
                **(
                    {"color": {"field": "group", "type": "nominal", "scale": GROUP_SCALE, "title": group}}
                    if group
                    else {}
                ),
                "tooltip": [{"field": "group"}, {"field": "x", "format": ".4g"}, {"field": "p", "format": ".2f"}],
            },
        }
        st.markdown("**ECDF**")
        st.vega_lite_chart(e, espec, key="ecdf", width="stretch")

st.markdown("**Quantiles**")
qt = widgets.cached(ws, queries.quantile_table, sig, by=group)
# an HTML table, not a data grid: the grid's 1.3 MB of JavaScript competed with the histogram's for a new session's CPU
st.html(widgets.table_html(qt.to_dict("records"), {c: c for c in qt.columns}))

st.subheader("Two signals")
c1, c2, c3 = st.columns([3, 3, 2])
others = [c for c in num if c != sig] or num
fam = {c.name: c.family for c in catalogue}
# by default a signal of another family: two views of one family (words, tokens) mostly draw a diagonal
other_fam = [c for c in others if fam.get(c) != fam.get(sig)] + [c for c in others if fam.get(c) == fam.get(sig)]
sig2 = ss.get("sig2") if ss.get("sig2") in others else columns.pick_default(catalogue, other_fam)
sig2 = c1.selectbox("against", others, index=others.index(sig2), key="w_dist_sig2")
ss["sig2"] = sig2
log_y = c2.toggle("log y axis", key="w_dist_logy")
dens = widgets.cached(ws, queries.density2d, sig, sig2, bins=50, log_x=log, log_y=log_y)
if dens.empty:
    st.caption("No documents have both values.")
else:
    dens = dens.copy()
    dens["x0"], dens["x1"] = _edges(dens["x"], dens["bx"], log)
    dens["y0"], dens["y1"] = _edges(dens["y"], dens["by"], log_y)
    dspec = {
        "height": 400,
        "mark": "rect",
        "encoding": {
            "x": {"field": "x0", "type": "quantitative", "scale": _xscale(log), "title": sig},
            "x2": {"field": "x1"},
            "y": {"field": "y0", "type": "quantitative", "scale": _xscale(log_y), "title": sig2},
            "y2": {"field": "y1"},
            "color": {
                "field": "count",
                "type": "quantitative",
                "scale": {"scheme": "viridis", "type": "log"},
                "title": "docs",
            },
            "tooltip": [
                {"field": "x", "format": ".4g", "title": sig},
                {"field": "y", "format": ".4g", "title": sig2},
                {"field": "count", "format": ",", "title": "documents"},
            ],
        },
    }
    st.vega_lite_chart(dens, dspec, key="dens", width="stretch")

# drawn only while open (opening reruns the page): closed, it cost a new session a fourth Vega view and its query
corr = st.expander(
    "Correlation matrix of all numeric signals (Pearson, 200k-row seeded sample)", key="w_dist_corr", on_change="rerun"
)
cols = num[:40]
if corr.open and len(cols) < 2:
    corr.caption("Needs at least two numeric columns.")
elif corr.open:
    with corr:
        m = widgets.cached(ws, queries.correlations, cols)
        cells = m.rename_axis("a").reset_index().melt(id_vars="a", var_name="b", value_name="r")
        cspec = {
            "height": 560,
            "mark": "rect",
            "encoding": {
                "x": {"field": "b", "type": "nominal", "sort": cols, "title": None, "axis": {"labelAngle": -45}},
                "y": {"field": "a", "type": "nominal", "sort": cols, "title": None},
                "color": {"field": "r", "type": "quantitative", "scale": {"scheme": "redblue", "domain": [-1, 1]}},
                "tooltip": [{"field": "a"}, {"field": "b"}, {"field": "r", "format": ".3f"}],
            },
        }
        st.vega_lite_chart(cells, cspec, key="corr", width="stretch")
