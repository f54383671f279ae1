"""The Map's colour bar (issue 20): an integer column gets one colour per value and only those ticks."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from app.maps.colour_scale import MAX_STEPS, integer_values, marker_colour


def test_dup_near_size_gets_discrete_steps():
    sizes = np.array([1, 1, 1, 2, 2, 3, 7, 1, np.nan])
    m = marker_colour(sizes, title="dup_near_size")
    bar = m["colorbar"]
    assert bar["ticktext"] == ["1", "2", "3", "7"] and bar["tickvals"] == [0, 1, 2, 3]
    assert (m["cmin"], m["cmax"]) == (-0.5, 3.5)
    assert list(m["color"][:7]) == [0, 0, 0, 1, 1, 2, 3] and np.isnan(m["color"][8])
    # each value's step is one flat colour band
    stops = m["colorscale"]
    assert len(stops) == 8 and all(stops[2 * i][1] == stops[2 * i + 1][1] for i in range(4))
    assert len({s[1] for s in stops}) == 4


def test_many_integers_get_integer_ticks_and_floats_stay_continuous():
    m = marker_colour(np.arange(0, 500), title="size_words")
    assert m["colorbar"]["tickformat"] == ",d" and m["colorbar"]["dtick"] == 100 and m["colorscale"] == "Viridis"
    f = marker_colour(np.array([0.1, 0.5, 0.9]), title="quality_score")
    assert f["colorscale"] == "Viridis" and "tickvals" not in f["colorbar"] and "dtick" not in f["colorbar"]
    assert integer_values(np.array([True, False])) is not None
    assert integer_values(np.array(["a", "b"], dtype=object)) is None


@given(st.lists(st.one_of(st.integers(-1000, 1000), st.none()), min_size=1, max_size=60))
def test_discrete_or_integer_ticks_for_any_integers(vals):
    arr = np.array([np.nan if v is None else v for v in vals], dtype=float)
    m = marker_colour(arr, title="n")
    distinct = {v for v in vals if v is not None}
    if 0 < len(distinct) <= MAX_STEPS:
        assert m["colorbar"]["ticktext"] == [f"{v:,}" for v in sorted(distinct)]
        ok = ~np.isnan(arr)
        assert np.all((m["color"][ok] >= m["cmin"]) & (m["color"][ok] <= m["cmax"]))
    elif distinct:
        assert m["colorbar"].get("tickformat") == ",d"
        assert isinstance(m["colorbar"].get("dtick", 1), int)


def test_map_page_draws_an_integer_column_with_its_values(tmp_path):
    import json

    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import build_ui_workspace
    from tests.app.test_pages import MAIN

    ws = build_ui_workspace(tmp_path / "ui", n=40)
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.query_params["ws"] = ws
    at.run()
    at.switch_page("../../pages/map.py").run()
    at.selectbox(key="w_map_color").set_value("dup_exact_size").run()
    assert not at.exception, [e.value for e in at.exception]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bar = spec["data"][0]["marker"]["colorbar"]
    assert bar["ticktext"] == ["1", "2"] and bar["tickvals"] == [0, 1]
