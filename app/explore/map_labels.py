"""Which cluster labels the Map draws: the largest clusters first, none on top of another.

A real corpus packs many clusters into one region (realmix's 24,783 tweets: 25 of its 52 clusters in one blob),
and drawing the 30 largest labels there stacked them into an unreadable pile. :func:`spread` keeps a label only
when its box does not overlap one already kept, so the biggest clusters are always named and the rest are
named where there is room (every cluster keeps its colour and its legend entry either way).
"""

from __future__ import annotations

import pandas as pd


def spread(
    centres: pd.DataFrame,
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    width_px: float = 1000.0,
    height_px: float = 560.0,
    font_px: float = 11.0,
    max_labels: int = 30,
) -> pd.DataFrame:
    """The rows of ``centres`` (``label``, ``x``, ``y``, largest cluster first) whose labels, drawn centred at
    ``(x, y)`` in a plot of ``width_px`` x ``height_px`` pixels spanning ``x_range`` x ``y_range``, do not overlap
    a larger cluster's label. At most ``max_labels`` rows, in the input order."""
    if centres.empty:
        return centres
    sx = width_px / max(x_range[1] - x_range[0], 1e-12)
    sy = height_px / max(y_range[1] - y_range[0], 1e-12)
    boxes: list[tuple[float, float, float, float]] = []
    keep: list[int] = []
    for i, r in enumerate(centres.itertuples(index=False)):
        if len(keep) >= max_labels:
            break
        text = str(getattr(r, "label", None) or getattr(r, "cluster", ""))[:40]
        w = (len(text) * 0.62 * font_px + 8) / 2  # half width in pixels (CJK glyphs are wider: counted below)
        w += sum(0.4 * font_px for c in text if ord(c) > 0x2E80) / 2
        h = (font_px + 6) / 2
        cx, cy = float(r.x) * sx, float(r.y) * sy
        box = (cx - w, cx + w, cy - h, cy + h)
        if any(box[0] < b[1] and b[0] < box[1] and box[2] < b[3] and b[2] < box[3] for b in boxes):
            continue
        boxes.append(box)
        keep.append(i)
    return centres.iloc[keep]
