"""One report, whoever builds it: the dashboard's download and ``winnow report`` draw the same figures.

Importing Streamlit sets ``plotly.io.templates.default`` to its own theme (no axis automargin: tick labels
clipped to "50", ".5"; the overlap heatmap lost its row labels). The report names its own template, so the
figures' layouts are equal whatever the building process set; and it reads like the dashboard: rules numbered
from 1, a missing group ``(none)`` in tables and charts, measured values rounded.
"""

from __future__ import annotations

import json
import re

import plotly.io as pio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.report import build_report
from app.report.render import NONE, _g4
from tests.test_recipe_core import MINIMAL, make_ws

RECIPE = MINIMAL + "dedup: {exact: true}\n"
_DEC = json.JSONDecoder()


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("same") / "ws")
    m = w.con.execute("SELECT id, hash(id) % 100 / 10.0 AS map_x, hash(id || 'y') % 100 / 10.0 AS map_y FROM docs").df()
    with w.transaction() as cur:
        cur.register("_m", m)
        cur.execute("CREATE TABLE map_same AS SELECT * FROM _m")
        w.register_part("map_same", kind="map", con=cur)
    yield w
    w.close()


def figures(html: str) -> dict[str, tuple[list, dict]]:
    """``{div id: (traces, layout)}`` of every ``Plotly.newPlot`` call in the report."""
    out = {}
    for m in re.finditer(r'Plotly\.newPlot\(\s*"(fig-[^"]+)",\s*', html):
        traces, end = _DEC.raw_decode(html, m.end())
        end = re.compile(r"\s*,\s*").match(html, end).end()
        layout, _ = _DEC.raw_decode(html, end)
        out[m.group(1)] = (traces, layout)
    return out


def build(ws, *, streamlit: bool) -> str:
    """The report's HTML with Plotly's stock default template, or after Streamlit configured its theme."""
    before = pio.templates.default
    try:
        if streamlit:
            theme = pytest.importorskip("streamlit.elements.lib.streamlit_plotly_theme")
            theme.configure_streamlit_plotly_theme()  # what `import streamlit` does in the dashboard
            assert pio.templates.default == "streamlit"
        else:
            pio.templates.default = "plotly"
        return build_report(ws, RECIPE, samples=3)[0]
    finally:
        pio.templates.default = before


@pytest.fixture(scope="module")
def both(ws):
    return build(ws, streamlit=False), build(ws, streamlit=True)


def test_figures_are_the_same_from_the_cli_and_the_dashboard(both):
    cli, dash = both
    a, b = figures(cli), figures(dash)
    assert {"fig-rules", "fig-overlap", "fig-languages", "fig-map"} <= set(a)
    assert set(a) == set(b)
    for k in a:
        assert a[k][1] == b[k][1], f"{k}: the layout depends on the process's Plotly default template"
        assert a[k][0] == b[k][0], k
    assert cli == dash  # nothing else in the page depends on it either


def test_axes_make_room_for_their_labels(both):
    for k, (_, layout) in figures(both[1]).items():
        assert layout["template"]["layout"]["font"]["color"] != "#000037", k  # not Streamlit's theme
        for ax in ("xaxis", "yaxis"):
            assert layout[ax]["automargin"] is True, (k, ax)  # tick labels never clipped by the margins


def test_rules_numbered_from_one_as_in_the_thresholds_panel(both):
    html = both[0]
    traces, _ = figures(html)["fig-overlap"]
    assert traces[0]["x"][0] == "rule 1" and traces[0]["y"][0].startswith("1. ")
    rules = re.search(r'<section id="rules">.*?</section>', html, re.S).group(0)
    firsts = re.findall(r"<tr><td>([^<]*)</td>", rules)
    assert [x.split(".")[0] for x in firsts] == ["1", "2", "3", "4"]
    assert "0. " not in html.split('<section id="by_group">')[1].split("</section>")[0]
    assert "<h3>Borderline: 1. size_words &gt;= 5" in html


def test_a_missing_language_reads_the_same_in_table_and_chart(both):
    html = both[0]
    traces, _ = figures(html)["fig-languages"]
    assert NONE in traces[0]["x"] and "None" not in traces[0]["x"]
    langs = re.search(r'<section id="languages">.*?</section>', html, re.S).group(0)
    assert f"<tr><td>{NONE}</td>" in langs and "<tr><td></td>" not in langs


def test_values_are_rounded_for_reading(both):
    text = re.sub(r"<script.*?</script>", "", both[0], flags=re.S)  # the figures' data stays exact
    assert re.findall(r"\d\.\d{6,}", text) == []
    assert "(threshold 0.198)" in text  # the quantile cut, 0.19800000000000006 before


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12))
def test_g4_keeps_four_significant_digits(v):
    s = _g4(v)
    assert abs(float(s) - v) <= 5e-4 * abs(v) + 1e-300
    assert len(re.sub(r"[-.]|e.*$", "", s).strip("0")) <= 4


def test_g4_leaves_text_and_integers_alone():
    assert _g4("en") == "en" and _g4(None) == "" and _g4(12345) == "12345" and _g4(0.4920634920634921) == "0.4921"
    assert _g4(True) == "True"
