"""Map cluster labels never pile up (app.explore.map_labels.spread)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from app.explore.map_labels import spread


def _centres(rows):
    return pd.DataFrame(rows, columns=["cluster", "label", "x", "y", "docs"])


def test_labels_on_top_of_each_other_keep_the_largest_cluster():
    c = _centres([(0, "bitch · hoes · pussy", 5.0, 5.0, 900), (1, "bitch · pussy · trash", 5.01, 5.0, 800),
                  (2, "酒店 · 房间 · 服务", 1.0, 1.0, 700)])  # fmt: skip
    got = spread(c, x_range=(0, 10), y_range=(0, 10))
    assert list(got["cluster"]) == [0, 2]


def test_labels_with_room_are_all_kept_up_to_the_limit():
    c = _centres([(i, f"c{i}", float(i), float(i), 100 - i) for i in range(10)])
    assert list(spread(c, x_range=(0, 10), y_range=(0, 10))["cluster"]) == list(range(10))
    assert len(spread(c, x_range=(0, 10), y_range=(0, 10), max_labels=3)) == 3
    assert spread(c.iloc[:0], x_range=(0, 1), y_range=(0, 1)).empty


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10), st.text(min_size=1, max_size=30)), max_size=40))
def test_no_two_kept_labels_overlap_and_the_largest_is_kept(points):
    c = _centres([(i, t, x, y, 1000 - i) for i, (x, y, t) in enumerate(points)])
    got = spread(c, x_range=(0, 10), y_range=(0, 10), width_px=1000, height_px=560)
    if points:
        assert got.iloc[0]["cluster"] == 0
    xs = got["x"].to_numpy() * 100
    ys = got["y"].to_numpy() * 56
    for i in range(len(got)):
        for j in range(i + 1, len(got)):
            # any two labels are at least one character plus padding wide and a line high: centres closer than
            # that on both axes would overlap
            assert abs(xs[i] - xs[j]) >= 14.8 - 1e-6 or abs(ys[i] - ys[j]) >= 17 - 1e-6
