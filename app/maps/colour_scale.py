"""Colour scales for the Map's numeric colouring: a count or flag (an integer column such as ``dup_near_size``)
gets one colour per value and a legend-like colour bar with only those values, not a continuous bar with ticks
at 1.2, 1.4; other numbers keep the continuous Viridis bar.

:func:`marker_colour` returns the plotly ``marker`` settings; it has no Streamlit code so it is tested directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: at most this many distinct integers get a step each; more get a continuous bar with integer ticks
MAX_STEPS = 12


def integer_values(values: Any) -> np.ndarray | None:
    """The values as float64 when every non-null one is a whole number (booleans count), else None."""
    arr = np.asarray(values)
    if arr.dtype == object:
        try:
            arr = np.array([np.nan if v is None or v != v else float(v) for v in arr], dtype=np.float64)
        except (TypeError, ValueError):
            return None
    if arr.dtype.kind == "b":
        return arr.astype(np.float64)
    if arr.dtype.kind not in "iuf":
        return None
    arr = arr.astype(np.float64)
    fin = arr[np.isfinite(arr)]
    if not len(fin) or not np.all(fin == np.round(fin)):
        return None
    return arr


def _nice_step(span: float, ticks: int = 6) -> int:
    """An integer tick step (1, 2, 5 x 10^k) giving about ``ticks`` ticks over ``span``."""
    raw = max(span / ticks, 1.0)
    mag = 10 ** int(np.floor(np.log10(raw)))
    return int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def marker_colour(values: Any, *, title: str, colorscale: str = "Viridis") -> dict[str, Any]:
    """plotly ``marker`` settings (``color``, ``colorscale``, ``cmin``/``cmax``, ``colorbar``) for ``values``.

    Integers with at most :data:`MAX_STEPS` distinct values: each value is one colour step, the bar shows exactly
    those values (unevenly spaced values such as 1, 2, 7, 40 get equal steps). More integers: a continuous bar
    with integer ticks. Anything else: the continuous bar as before.
    """
    ints = integer_values(values)
    if ints is None:
        arr = np.asarray(values, dtype=np.float64)
        return {"color": arr, "colorscale": colorscale, "showscale": True, "colorbar": {"title": title}}
    fin = ints[np.isfinite(ints)]
    distinct = np.unique(fin)
    if 0 < len(distinct) <= MAX_STEPS:
        from plotly.colors import sample_colorscale

        k = len(distinct)
        cols = sample_colorscale(colorscale, [i / max(k - 1, 1) for i in range(k)])
        steps: list[list[Any]] = []
        for i, c in enumerate(cols):
            steps += [[i / k, c], [(i + 1) / k, c]]
        idx = np.full(len(ints), np.nan)
        ok = np.isfinite(ints)
        idx[ok] = np.searchsorted(distinct, ints[ok])
        return {
            "color": idx,
            "colorscale": steps,
            "cmin": -0.5,
            "cmax": k - 0.5,
            "showscale": True,
            "colorbar": {"title": title, "tickvals": list(range(k)), "ticktext": [f"{int(v):,}" for v in distinct]},
        }
    bar: dict[str, Any] = {"title": title, "tickformat": ",d"}
    if len(fin):
        bar.update({"tick0": int(fin.min()), "dtick": _nice_step(float(fin.max() - fin.min()))})
    return {"color": ints, "colorscale": colorscale, "showscale": True, "colorbar": bar}
