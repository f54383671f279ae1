"""Distributions: histogram (linear/log), ECDF, overlay or facet by a category, quantiles, 2-D density, correlations.

Every number comes from a DuckDB aggregate (``app.ui.queries``); no page pulls documents to plot them.
"""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app.ui import widgets

widgets.page_header("Distributions", "How every signal is distributed, overall and per source or language.")
ws = widgets.current_workspace()
if widgets.n_docs(ws) == 0:
    st.info("The workspace has no documents yet: ingest some on the Workspace page.")
    st.stop()
widgets.missing(ws, "signals", "only numeric metadata can be plotted until signals are computed.", key="miss_sig")

num = widgets.q(ws, "numeric_columns")
cats = widgets.q(ws, "categorical_columns")
if not num:
    st.warning("No numeric column in the corpus yet.")
    st.stop()

ss = st.session_state
sig = ss.get("sig") if ss.get("sig") in num else num[0]
c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
sig = c1.selectbox("Signal", num, index=num.index(sig), key="w_dist_sig")
ss["sig"] = sig
by_opts = ["(none)", *cats]
by = ss.get("by") if ss.get("by") in by_opts else "(none)"
by = c2.selectbox("Split by", by_opts, index=by_opts.index(by), key="w_dist_by")
ss["by"] = "" if by == "(none)" else by
layout = c3.radio("Groups", ["overlay", "facet"], horizontal=True, key="w_dist_layout")
log = c4.toggle("log x axis", value=widgets.q(ws, "is_skewed", sig), key=f"w_dist_log_{sig}")
group = None if by == "(none)" else by

hist = widgets.q(ws, "histogram", sig, bins=60, log=log, by=group)
if hist.empty:
    st.warning(f"`{sig}` has no values" + (" above 0 (log axis)" if log else "") + ".")
else:
    hist["x"] = (hist["x0"] + hist["x1"]) / 2
    hist["share"] = hist["count"] / hist.groupby("group")["count"].transform("sum")
    y = "share" if group else "count"
    kw = {"facet_col": "group", "facet_col_wrap": 4} if (group and layout == "facet") else {}
    fig = px.bar(
        hist,
        x="x",
        y=y,
        color="group" if group else None,
        barmode="overlay",
        opacity=0.65,
        log_x=log,
        height=360 if not kw else 520,
        **kw,
    )
    fig.update_traces(marker_line_width=0)
    fig.update_layout(bargap=0, margin=dict(l=10, r=10, t=30, b=10), legend_title_text=group or "")
    fig.update_xaxes(title_text=sig)
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**Histogram of `{sig}`**" + (" (share of each group)" if group else ""))
        st.plotly_chart(fig, width="stretch", key="hist")
    with right:
        e = widgets.q(ws, "ecdf", sig, by=group)
        fe = px.line(e, x="x", y="p", color="group" if group else None, log_x=log, height=360)
        fe.update_layout(
            margin=dict(l=10, r=10, t=30, b=10), yaxis_title="fraction ≤ x", xaxis_title=sig, legend_title_text=""
        )
        st.markdown("**ECDF**")
        st.plotly_chart(fe, width="stretch", key="ecdf")

st.markdown("**Quantiles**")
qt = widgets.q(ws, "quantile_table", sig, by=group)
st.dataframe(qt, hide_index=True, width="stretch")

st.subheader("Two signals")
c1, c2, c3 = st.columns([3, 3, 2])
others = [c for c in num if c != sig] or num
sig2 = ss.get("sig2") if ss.get("sig2") in others else others[0]
sig2 = c1.selectbox("against", others, index=others.index(sig2), key="w_dist_sig2")
ss["sig2"] = sig2
log_y = c2.toggle("log y axis", key="w_dist_logy")
dens = widgets.q(ws, "density2d", sig, sig2, bins=50, log_x=log, log_y=log_y)
if dens.empty:
    st.caption("No documents have both values.")
else:
    grid = dens.pivot_table(index="y", columns="x", values="count", aggfunc="sum")
    fd = go.Figure(
        go.Heatmap(
            x=grid.columns, y=grid.index, z=grid.values, colorscale="Viridis", colorbar_title="docs", hoverongaps=False
        )
    )
    fd.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), xaxis_title=sig, yaxis_title=sig2)
    if log:
        fd.update_xaxes(type="log")
    if log_y:
        fd.update_yaxes(type="log")
    st.plotly_chart(fd, width="stretch", key="dens")

with st.expander("Correlation matrix of all numeric signals (Pearson, 200k-row seeded sample)"):
    cols = num[:40]
    if len(cols) >= 2:
        m = widgets.q(ws, "correlations", cols)
        fc = px.imshow(m, zmin=-1, zmax=1, color_continuous_scale="RdBu", aspect="auto", height=620)
        fc.update_layout(margin=dict(l=10, r=10, t=10, b=10))
        st.plotly_chart(fc, width="stretch", key="corr")
    else:
        st.caption("Needs at least two numeric columns.")
