"""Map: the 2-D embedding map as a WebGL scatter (or a density view beyond 200k points), coloured by any signal,
source, cluster or kept/removed under the current rules; box/lasso selection lists documents, labels them, and
turns them into a Thresholds rule (keep only / remove a box's region, remove the whole clusters it covers)."""

from __future__ import annotations

import html

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.errors import WinnowError
from app.explore import labels, queries, recipe_bridge, selection
from app.explore.map_labels import spread
from app.explore.palette import categorical
from app.maps.colour_scale import marker_colour
from app.maps.common import PENDING_NOTE, neighbours_pending
from app.ui import learn, map_density, map_rules, widgets

widgets.page_header("Map", "Documents placed by meaning: nearby points say similar things.")
ws = widgets.current_workspace()
if widgets.n_docs(ws) == 0:
    st.info("The workspace has no documents yet: ingest some on the Workspace page.")
    st.stop()
if not widgets.has_map(ws):
    if widgets.missing(
        ws, "embeddings", "the map is built from document embeddings; compute them first.", key="miss_emb"
    ):
        st.stop()
    widgets.missing(ws, "map", "project the embeddings to 2-D and cluster them.", key="miss_map")
    st.stop()
if neighbours_pending(ws):  # the map is written; density, SemDeDup and neighbours are not yet: absent, not stale
    st.info(PENDING_NOTE[0].upper() + PENDING_NOTE[1:] + ".")

ss = st.session_state
num = widgets.cached(ws, queries.numeric_columns)
cats = widgets.cached(ws, queries.categorical_columns)
cols = widgets.cached(ws, queries.corpus_columns)
special = ["kept / removed (current rules)"]
cluster_cols = [c for c in ("map_cluster_label", "map_cluster") if c in cols]
options = [*cluster_cols, *cats, *special, *[c for c in num if not c.startswith("map_")]]
# the clusters when the map has them, else a dense, spread category (queries.default_category)
first = cluster_cols[0] if cluster_cols else widgets.cached(ws, queries.default_category) or options[0]
cur_c = ss.get("c") if ss.get("c") in options else first
c1, c2 = st.columns([3, 1])
color = c1.selectbox("Colour by", options, index=options.index(cur_c), key="w_map_color")
ss["c"] = color
show_labels = c2.toggle("cluster labels", value=True, key="w_map_labels")

keep_sql, keep_params = None, None
rules = ss.get("rules") or []
if color in special:
    if not rules:
        st.info("No rules yet: every document is kept. Add rules on the Thresholds page.")
    try:
        keep_sql, keep_params = recipe_bridge.where_sql(ws.cursor(), rules)
    except WinnowError as e:
        st.error(str(e))
colour_col = "__kept__" if color in special else color

n = widgets.cached(ws, queries.map_count)
dense = n > queries.MAP_POINTS_MAX
fig = go.Figure()
if not dense:
    preview = 80 if n <= queries.HOVER_PREVIEW_MAX else 0
    pts = (
        widgets.now(
            ws, queries.map_points, color=colour_col, keep_sql=keep_sql, keep_params=keep_params, preview_chars=preview
        )
        if keep_sql
        else widgets.cached(ws, queries.map_points, color=colour_col, preview_chars=preview)
    )
    # hover text is untrusted document text: escape it (plotly renders a subset of HTML in hover labels)
    # (numpy arrays throughout: plotly validates Python lists element by element, ~10x slower at 100k points)
    ids_np = pts["id"].to_numpy(dtype=object)
    xs, ys = pts["x"].to_numpy(), pts["y"].to_numpy()
    if preview:
        hover = np.array([html.escape(f"{i}: {p or ''}") for i, p in zip(ids_np, pts["preview"])], dtype=object)
    else:
        hover = np.array([html.escape(str(i)) for i in ids_np], dtype=object)
    numeric = color in num and pd.api.types.is_numeric_dtype(pts["color"])
    if numeric:
        fig.add_trace(
            go.Scattergl(
                x=xs,
                y=ys,
                mode="markers",
                customdata=ids_np,
                hovertext=hover,
                hoverinfo="text",
                # an integer column (dup_near_size, a count) gets one colour per value and only those ticks
                marker=dict(
                    size=3,
                    **marker_colour(
                        pd.to_numeric(pts["color"], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
                        title=color,
                    ),
                ),
            )
        )
    else:
        groups = pts["color"].astype(str).fillna("(none)")
        top = groups.value_counts().index[:20]
        groups = groups.where(groups.isin(top), "(other)")
        order = list(groups.value_counts().index)
        # one colour per legend entry (plotly's default cycle repeats after ten); the "(other)" tail is grey
        palette = categorical(order)
        for g in order:
            m = (groups == g).to_numpy()
            fig.add_trace(
                go.Scattergl(
                    x=xs[m],
                    y=ys[m],
                    mode="markers",
                    name=html.escape(str(g))[:40],
                    customdata=ids_np[m],
                    hovertext=hover[m],
                    hoverinfo="text",
                    marker=dict(size=3, color=palette[g]),
                )
            )
else:
    dens = (
        widgets.now(ws, queries.map_density, keep_sql=keep_sql, keep_params=keep_params)
        if keep_sql
        else widgets.cached(ws, queries.map_density)
    )
    st.caption(f"{n:,} documents: drawn as a {200}×{200} density grid (drag a box to list its documents).")

if not dense:
    if show_labels:
        cent = widgets.cached(ws, queries.cluster_centres)
        # the largest clusters' labels, none drawn over another (a dense region piled them up)
        cent = spread(cent, x_range=(float(xs.min()), float(xs.max())), y_range=(float(ys.min()), float(ys.max())))
        for _, r in cent.iterrows():
            fig.add_annotation(
                x=r["x"],
                y=r["y"],
                text=html.escape(str(r["label"] or r["cluster"]))[:40],
                showarrow=False,
                font=dict(size=11, color="#222"),
                bgcolor="rgba(255,255,255,0.7)",
            )
    # the legend sits under the plot inside the figure's height: grow the figure by its rows (four entries a
    # row at the dashboard's width) so the plot keeps its ~560 px instead of being squeezed flat
    legend_rows = 0 if numeric else -(-len(order) // 4)
    fig.update_layout(
        height=620 + 22 * legend_rows,
        margin=dict(l=5, r=5, t=5, b=5),
        dragmode="lasso",
        # the legend sits below the plot, so the toolbar (top right) never covers its first entry
        legend=dict(itemsizing="constant", orientation="h", x=0, xanchor="left", y=-0.02, yanchor="top"),
        xaxis=dict(showticklabels=False, title=None),
        yaxis=dict(showticklabels=False, title=None),
    )
    # the toolbar always shown (not only on hover), with the box and lasso tools on it
    cfg = {"displayModeBar": True, "modeBarButtonsToAdd": ["select2d", "lasso2d"], "displaylogo": False}
    event = st.plotly_chart(
        fig, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso"), width="stretch", config=cfg
    )
    sel = getattr(event, "selection", None) or {}
else:
    sel = map_density.density_chart(ws, dens, kept=bool(keep_sql), show_labels=show_labels)

ids = [p.get("customdata") for p in sel.get("points", []) if p.get("customdata") is not None]
ids = [i[0] if isinstance(i, list) else i for i in ids]
show_cols = [c for c in ("quality_score", "size_words", "lang_code", color) if c in cols and c != "source"]
show_cols = list(dict.fromkeys(show_cols))
if dense and sel.get("box"):
    b = sel["box"][0]
    total, df = widgets.now(
        ws, queries.docs_in_box, min(b["x"]), max(b["x"]), min(b["y"]), max(b["y"]), columns=show_cols
    )
    ids = list(df["id"])
    st.subheader(f"Selection: {total:,} documents" + (f" (first {len(df):,} listed)" if total > len(df) else ""))
elif ids:
    df = widgets.now(ws, queries.docs_by_ids, ids, columns=show_cols)
    st.subheader(f"Selection: {len(ids):,} documents" + (f" (first {len(df):,} listed)" if len(ids) > len(df) else ""))
else:
    df = None
    st.caption(
        "Drag a box on the map to list its documents here, label them, or turn the region into a rule."
        if dense
        else "Select points with the lasso or box tool to list them here, label them, or open one."
    )
if df is not None and len(df):
    pick = st.dataframe(
        df, hide_index=True, key="map_sel_table", on_select="rerun", selection_mode="single-row", width="stretch"
    )
    rows = getattr(getattr(pick, "selection", None), "rows", None) or []
    c1, c2, c3, c4 = st.columns([2, 1, 1, 2], vertical_alignment="bottom")
    note = c1.text_input("note for the label (optional)", key="w_map_note")
    for lab, col in (("good", c2), ("bad", c3)):
        if col.button(f"label {len(ids):,} as {lab}", key=f"btn_map_{lab}"):
            added = labels.add_labels(ws.cursor(), ids, lab, note or "map selection")
            st.success(f"labelled {added:,} documents as {lab}")
    if rows and c4.button("open the selected document", key="btn_map_open"):
        widgets.open_doc(str(df.iloc[rows[0]]["id"]))
    learn.target_action(ws, ids)  # "make this the target": label the selection, fit a reference model on it


_boxes = selection.boxes_from_selection(sel)
_lassos = selection.lassos_from_selection(sel)
try:
    map_rules.rule_actions(ws, ids, _boxes, _lassos)
except (WinnowError, duckdb.Error) as e:
    st.error(str(e).splitlines()[0])
_msg = ss.pop("_map_rule_msg", None)
if _msg and _msg.startswith("error: "):
    st.error(_msg.removeprefix("error: "))
elif _msg:
    st.success(_msg)
    st.page_link(ss["_pages"]["thresholds"], label="Open the Thresholds page", icon=":material/tune:")
