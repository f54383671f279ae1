"""Categorical colours for chart legends that never repeat within one legend.

Plotly's default colour cycle has ten colours, so an eleventh category silently reuses the first one and
two clusters look like one. ``categorical`` gives every category its own colour: a fixed base palette of
well-separated colours first, then deterministic extra hues (golden-angle steps around the colour wheel at
alternating lightness), skipping any that would equal a colour already given. Reserved names keep fixed
colours wherever they appear ("(other)" is a neutral grey, so the grouped tail never looks like a cluster).
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable

# hand-picked, well separated on a white background; grey is left for the reserved "(other)" entry
BASE = (
    "#1f5fa8",  # blue
    "#e0751b",  # orange
    "#2a9d4a",  # green
    "#c8322f",  # red
    "#7b4fb5",  # purple
    "#8a5a3b",  # brown
    "#d45aa8",  # pink
    "#a8a21c",  # olive
    "#1aa3b8",  # teal
    "#0b2f66",  # navy
    "#f2b134",  # amber
    "#5fd38d",  # mint
)

RESERVED = {"(other)": "#9a9a9a", "(none)": "#c4c4c4", "kept": "#2f6f4f", "removed": "#c9c9c0"}

_GOLDEN_ANGLE = 0.381966  # of a full turn: consecutive hues stay far apart however many are drawn


def extra_colour(i: int) -> str:
    """The ``i``-th generated colour (0-based) beyond the base palette, as ``#rrggbb``."""
    hue = (0.07 + i * _GOLDEN_ANGLE) % 1.0
    light = (0.42, 0.58, 0.32)[i % 3]
    sat = (0.70, 0.60, 0.80)[(i // 3) % 3]
    r, g, b = colorsys.hls_to_rgb(hue, light, sat)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def categorical(names: Iterable[str]) -> dict[str, str]:
    """``{name: colour}`` for the legend entries ``names`` in order: reserved names get their fixed colour,
    the others the base palette then generated hues; no two entries share a colour."""
    out: dict[str, str] = {}
    used: set[str] = set()
    base = iter(BASE)
    extra = 0
    for name in names:
        if name in out:
            continue
        colour = RESERVED.get(name)
        if colour is None or colour in used:
            colour = next(base, None)
            while colour is None or colour in used or colour in RESERVED.values():
                colour = extra_colour(extra)
                extra += 1
        out[name] = colour
        used.add(colour)
    return out
