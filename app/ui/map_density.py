"""The Map page beyond what a browser draws point by point: a density grid as a Vega-Lite heatmap (its library is
a sixth of plotly.js, so a new session paints it seconds sooner) with a box (interval) selection, handed on in the
shape of a plotly box selection. Streamlit only: the grid comes from :func:`app.explore.queries.map_density`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app.explore import queries
from app.ui import widgets


def _step(v: pd.Series) -> float:
    """The grid's cell width along one axis: the smallest gap between its distinct centres."""
    u = np.unique(v.to_numpy())
    d = np.diff(u)
    return float(d[d > 0].min()) if (d > 0).any() else 1.0


def density_chart(ws: Any, dens: pd.DataFrame, *, kept: bool, show_labels: bool) -> dict:
    """Draw the density grid ``dens`` (coloured by the kept share when ``kept``, else by count, log scale) and
    return the user's box selection as ``{"box": [{"x": [x0, x1], "y": [y0, y1]}]}`` (``{}`` without one)."""
    grid = dens.copy()
    grid["share"] = grid["kept"] / grid["count"] if kept else None

    hx, hy = _step(grid["x"]) / 2, _step(grid["y"]) / 2
    grid["x0"], grid["x1"] = grid["x"] - hx, grid["x"] + hx
    grid["y0"], grid["y1"] = grid["y"] - hy, grid["y"] + hy
    # only the columns the spec reads: each one is decoded from Arrow and copied into every one of the ~20k
    # data tuples by the browser, which is most of a new session's wait for this chart
    grid = grid[["x0", "x1", "y0", "y1", "count", *(["share"] if kept else [])]]
    colour = (
        {"field": "share", "type": "quantitative", "scale": {"scheme": "viridis", "domain": [0, 1]}, "title": "kept"}
        if kept
        else {"field": "count", "type": "quantitative", "scale": {"scheme": "viridis", "type": "log"}, "title": "docs"}
    )
    axis = {"title": None, "labels": False, "ticks": False, "grid": False, "domain": False}
    layers = [
        {
            "params": [{"name": "box", "select": {"type": "interval", "encodings": ["x", "y"]}}],
            "mark": {"type": "rect"},
            "encoding": {
                "x": {"field": "x0", "type": "quantitative", "axis": axis, "scale": {"zero": False, "nice": False}},
                "x2": {"field": "x1"},
                "y": {"field": "y0", "type": "quantitative", "axis": axis, "scale": {"zero": False, "nice": False}},
                "y2": {"field": "y1"},
                "color": colour,
                "tooltip": [{"field": "count", "format": ",", "title": "documents"}]
                + ([{"field": "share", "format": ".1%", "title": "kept"}] if kept else []),
            },
        }
    ]
    if show_labels:
        cent = widgets.cached(ws, queries.cluster_centres).head(30)
        names = [  # not ``labels``: that is the module the label buttons below write with
            {"x": float(r["x"]), "y": float(r["y"]), "label": str(r["label"] or r["cluster"])[:40]}
            for _, r in cent.iterrows()
        ]
        layers.append(
            {
                "data": {"values": names},
                "mark": {
                    "type": "text",
                    "fontSize": 11,
                    "color": "#222",
                    "stroke": "white",
                    "strokeWidth": 3,
                    "strokeOpacity": 0.7,
                },
                "encoding": {
                    "x": {"field": "x", "type": "quantitative"},
                    "y": {"field": "y", "type": "quantitative"},
                    "text": {"field": "label"},
                },
            }
        )
        layers.append({**layers[-1], "mark": {**layers[-1]["mark"], "strokeWidth": 0}})
    event = st.vega_lite_chart(
        grid, {"height": 620, "layer": layers}, key="map_density_chart", on_select="rerun", width="stretch"
    )
    box = ((getattr(event, "selection", None) or {}).get("box")) or {}
    bx, by = box.get("x0"), box.get("y0")  # an interval selection is keyed by the fields of its encodings
    sel = {"box": [{"x": list(bx), "y": list(by)}]} if bx and by and len(bx) == 2 and len(by) == 2 else {}
    return sel
