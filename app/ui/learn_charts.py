"""The Learn page's charts: a classifier's held-out precision/recall and calibration curves, and a stored
model's column against the heuristic quality score. Split from :mod:`app.ui.learn` (which keeps the forms and
actions); every hover text is escaped."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from app.explore import learn_view, queries
from app.explore.palette import categorical
from app.ui import widgets

#: points in the model-vs-quality scatter (a seeded sample beyond this)
SCATTER_N = 4000


def curves(m: dict[str, Any]) -> None:
    """The held-out precision/recall curve and the calibration plot, side by side."""
    pr, cal = m.get("pr_curve") or [], m.get("calibration") or []
    c1, c2 = st.columns(2)
    fig = go.Figure(go.Scatter(x=[p["recall"] for p in pr], y=[p["precision"] for p in pr], mode="lines+markers",
                               text=[f"threshold {p['threshold']}" for p in pr], marker=dict(size=4)))  # fmt: skip
    fig.add_hline(y=m.get("base_rate") or 0, line_dash="dot", annotation_text="base rate")
    fig.update_layout(height=300, margin=dict(l=5, r=5, t=30, b=5), title="Precision / recall (held out)",
                      xaxis=dict(title="recall", range=[0, 1.02]), yaxis=dict(title="precision", range=[0, 1.02]))  # fmt: skip
    c1.plotly_chart(fig, key="learn_pr", width="stretch")
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#999"), name="ideal"),
                     go.Scatter(x=[b["predicted"] for b in cal], y=[b["observed"] for b in cal], mode="lines+markers",
                                text=[f"{b['count']:,} examples" for b in cal], name="model",
                                marker=dict(size=[4 + min(12, b["count"] ** 0.5) for b in cal]))])  # fmt: skip
    fig.update_layout(height=300, margin=dict(l=5, r=5, t=30, b=5), title="Calibration (held out)", showlegend=False,
                      xaxis=dict(title="mean predicted P(positive)", range=[0, 1]),
                      yaxis=dict(title="observed positive share", range=[0, 1]))  # fmt: skip
    c2.plotly_chart(fig, key="learn_cal", width="stretch")


def scatter(ws: Any) -> None:
    """A stored model's column (perplexity, DSIR weight, ...) against ``quality_score``, coloured by source or
    map cluster, over a seeded sample."""
    xs = widgets.cached(ws, learn_view.learned_columns)
    if not xs:
        st.caption("Fit a reference model to compare its perplexity with the heuristic quality score here.")
        return
    num = [c for c in widgets.cached(ws, queries.numeric_columns) if c not in xs]
    cols = widgets.cached(ws, queries.corpus_columns)
    c1, c2, c3 = st.columns(3)
    x = c1.selectbox("x", xs, key="w_ref_x")
    ys = (["quality_score"] if "quality_score" in num else []) + [c for c in num if c != "quality_score"]
    if not ys:
        st.caption("No other numeric column to compare with: compute signals on the Workspace page.")
        return
    y = c2.selectbox("y", ys, key="w_ref_y")
    colour = c3.selectbox("colour", [c for c in ("source", "map_cluster_label", "map_cluster") if c in cols],
                          key="w_ref_colour")  # fmt: skip
    pts = widgets.cached(ws, learn_view.scatter_sample, x=x, y=y, color=colour, n=SCATTER_N)
    fig = go.Figure()
    groups = pts["color"].fillna("(none)")
    top = list(groups.value_counts().index[:12])
    palette = categorical(top)
    for g in top:
        d = pts[groups == g]
        fig.add_trace(go.Scattergl(x=d["x"], y=d["y"], mode="markers", name=html.escape(str(g))[:40],
                                   hovertext=[html.escape(str(i)) for i in d["id"]], hoverinfo="text+x+y",
                                   marker=dict(size=4, opacity=0.7, color=palette[g])))  # fmt: skip
    logx = x.startswith("ppl_") and bool(len(pts)) and float(pts["x"].min()) > 0
    fig.update_layout(height=480, margin=dict(l=5, r=5, t=10, b=5), legend=dict(orientation="h"),
                      xaxis=dict(title=x, type="log" if logx else "linear"), yaxis=dict(title=y))  # fmt: skip
    st.plotly_chart(fig, key="learn_scatter", width="stretch")
    st.caption(f"{len(pts):,} documents with both values" + (" (a seeded sample)" if len(pts) >= SCATTER_N else ""))
