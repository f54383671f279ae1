"""Expression rules (URL state, recipes, the Thresholds editor) and map selections turned into rules."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.elements.plotly_chart import PlotlySelectionState, PlotlyState

from app.explore import selection as S
from app.explore import view_state
from app.explore.view_state import Rule
from tests.app.test_pages import _kept, app_at

# ------------------------------------------------------------------ URL state

_SPECIAL = ":;|,'\" %()<>=!&#?+\\/\n\t"
texts = st.text(
    alphabet=st.one_of(st.sampled_from(_SPECIAL), st.characters(blacklist_categories=("Cs",))), min_size=1
).filter(lambda s: s.strip() != "")

names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in {"and", "or", "not", "in", "is", "null", "true", "false", "between"}
)
strings = st.text(alphabet=st.sampled_from("ab:;|,% '\"é\\"), max_size=6)


@st.composite
def exprs(draw) -> str:
    """Valid expressions in the recipes' grammar, with literals holding the URL's separators."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        col = draw(names)
        form = draw(st.sampled_from(["between", "in", "cmp", "null"]))
        if form == "between":
            lo, hi = sorted(draw(st.floats(-1e6, 1e6)) for _ in range(2))
            parts.append(f"{col} between {lo!r} and {hi!r}")
        elif form == "in":
            vals = draw(st.lists(strings, min_size=1, max_size=3))
            parts.append(f"{col} in ({', '.join(repr(v) for v in vals)})")
        elif form == "cmp":
            parts.append(f"{col} {draw(st.sampled_from(['<', '<=', '!=', '=', '>']))} {draw(st.integers(-99, 99))}")
        else:
            parts.append(f"{col} is not null")
    text = f" {draw(st.sampled_from(['and', 'or']))} ".join(parts)
    return f"not ({text})" if draw(st.booleans()) else text


other_rules = st.one_of(
    st.builds(Rule, st.just("range"), names, st.just(1.5), st.none()),
    st.builds(Rule, st.sampled_from(["in", "notin"]), names, values=st.lists(strings.filter(bool), max_size=3)),
    st.builds(Rule, st.just("dedup"), st.sampled_from(list(view_state.DEDUP_KINDS))),
)


@given(st.lists(st.one_of(texts.map(view_state.expr_rule), exprs().map(view_state.expr_rule), other_rules), max_size=5))
def test_expr_rules_survive_the_url(rules):
    assert view_state.decode_rules(view_state.encode_rules(rules)) == rules


@given(exprs())
def test_valid_expressions_survive_url_and_recipe(text):
    from app.recipes.expr import parse_expr

    rule = view_state.expr_rule(text)
    assert rule.col == parse_expr(text).columns[0]
    (back,) = view_state.decode_rules(view_state.encode_rules([rule]))
    assert back.expr == text and back.col == rule.col
    assert view_state.from_recipe_dict(view_state.to_recipe_dict([rule])) == [rule]


def test_expr_url_is_readable_and_separators_are_escaped():
    text = "not (map_x between 1.5 and 3.2 and map_y between -1 and 0.5) or source in ('a:b;c|d,e', \"x%y\")"
    enc = view_state.encode_rules([view_state.expr_rule(text), Rule("dedup", "exact")])
    assert enc.startswith("expr:map_x:not (map_x between 1.5 and 3.2 and map_y between -1 and 0.5) or ")
    assert enc.count(";") == 1 and "%3A" in enc and "%3B" in enc and "%7C" in enc and "%25" in enc
    assert [r.kind for r in view_state.decode_rules(enc)] == ["expr", "dedup"]
    assert view_state.to_recipe_dict(view_state.decode_rules(enc))["rules"] == [{"expr": text}]


@pytest.mark.parametrize("junk", ["expr::", "expr:x:", "expr:x:%20%20"])
def test_empty_expressions_from_the_url_are_dropped(junk):
    assert view_state.decode_rules(junk) == []


def test_unparsable_expression_keeps_its_url_column():
    (r,) = view_state.decode_rules("expr:size_words:size_words >")
    assert (r.kind, r.col, r.expr) == ("expr", "size_words", "size_words >")
    assert r.columns() == [] and view_state.expr_rule("a > 1 or b < 2").columns() == ["a", "b"]


# ------------------------------------------------------------------ selection -> rule, on DuckDB


def _map_ws(path, *, n: int = 3000, seed: int = 0, unmapped: int = 0):
    """A workspace whose map part is float32 like ``winnow map`` writes: clustered points, many exact ties
    (coordinates on a coarse grid), labels shared by two clusters, and optionally unmapped documents."""
    from app.workspace import Workspace

    rng = np.random.default_rng(seed)
    ids = [f"m{i:05d}" for i in range(n)]
    ws = Workspace.open(path, create=True)
    centres = rng.uniform(-8, 8, size=(6, 2))
    cl = rng.integers(0, 6, n)
    xy = centres[cl] + rng.normal(scale=0.6, size=(n, 2))
    xy[::7] = np.round(xy[::7], 1)  # ties on round values, where box edges tend to fall
    m = n - unmapped
    mp = pd.DataFrame(
        {
            "id": ids[:m],
            "map_x": xy[:m, 0].astype(np.float32),
            "map_y": xy[:m, 1].astype(np.float32),
            "map_cluster": cl[:m].astype(np.int32),
            "map_cluster_label": [f"topic {c // 2}" for c in cl[:m]],  # clusters 2k and 2k+1 share a label
        }
    )
    ws.write_source("web", pd.DataFrame({"id": ids, "text": [f"doc {i}" for i in range(n)]}))
    with ws.transaction() as cur:
        cur.register("_map", mp)
        cur.execute(
            "CREATE TABLE map_t AS SELECT id, map_x::FLOAT AS map_x, map_y::FLOAT AS map_y, "
            "map_cluster::INTEGER AS map_cluster, map_cluster_label FROM _map"
        )
        ws.register_part("map_t", kind="map", con=cur)
    return ws


@pytest.fixture(scope="module")
def map_ws(tmp_path_factory):
    ws = _map_ws(tmp_path_factory.mktemp("sel") / "ws")
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def map_ws_unmapped(tmp_path_factory):
    ws = _map_ws(tmp_path_factory.mktemp("sel_un") / "ws", n=800, unmapped=25, seed=3)
    yield ws
    ws.close()


def _kept_docs(con, rules: list[Rule]) -> int:
    from app.recipes import summarize

    return summarize(con, view_state.to_recipe_dict(rules))["kept_docs"]


coord = st.floats(-10, 10, allow_nan=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(coord, coord, st.floats(0, 6), st.floats(0, 6), st.booleans())
def test_snapped_box_holds_exactly_the_same_documents(map_ws, x, y, w, h, on_a_point):
    con = map_ws.cursor()
    if on_a_point:  # put the edges exactly on existing coordinates (ties, float32 values)
        x, y = (float(v) for v in con.execute("SELECT map_x, map_y FROM corpus USING SAMPLE 1 ROWS").fetchone())
    box = S.Box(x, x + w, y, y + h)
    snapped = S.snap_box(con, box)
    differ = con.execute(
        "SELECT count(*) FROM corpus WHERE (map_x BETWEEN $a AND $b AND map_y BETWEEN $c AND $d) "
        "IS DISTINCT FROM (map_x BETWEEN $e AND $f AND map_y BETWEEN $g AND $h)",
        dict(a=box.x0, b=box.x1, c=box.y0, d=box.y1, e=snapped.x0, f=snapped.x1, g=snapped.y0, h=snapped.y1),
    ).fetchone()[0]
    assert differ == 0
    # and the text of the rule reads back as these very numbers
    assert S.box_sql_text(snapped).count(" between ") == 2
    for v in (snapped.x0, snapped.x1, snapped.y0, snapped.y1):
        assert float(S._num(v)) == v


def test_snapped_bounds_are_short(map_ws):
    con = map_ws.cursor()
    snapped = S.snap_box(con, S.Box(-1.23456789, 2.3456789, -3.456789, 0.987654321))
    text = S.box_sql_text(snapped)
    assert all(len(S._num(v)) <= 8 for v in (snapped.x0, snapped.x1, snapped.y0, snapped.y1)), text


@pytest.mark.parametrize("boxes", [[(-3.3, 2.1, -2.2, 4.4)], [(-9, -2, -9, 0), (1.5, 9, -1.5, 2.25)]])
def test_region_rules_keep_and_remove_exactly_the_box(map_ws, boxes):
    con = map_ws.cursor()
    bs = [S.Box(*b) for b in boxes]
    keep, remove = S.region_rules(con, bs)
    inside = " OR ".join("(map_x BETWEEN ? AND ? AND map_y BETWEEN ? AND ?)" for _ in bs)
    params = [v for b in bs for v in (b.x0, b.x1, b.y0, b.y1)]
    n_in = con.execute(f"SELECT count(*) FROM corpus WHERE {inside}", params).fetchone()[0]
    n_out = con.execute(f"SELECT count(*) FROM corpus WHERE NOT ({inside})", params).fetchone()[0]
    assert 0 < n_in < 3000 and n_in + n_out == 3000
    assert S.count_in_boxes(con, bs) == n_in
    assert _kept_docs(con, [keep]) == n_in
    assert _kept_docs(con, [remove]) == n_out
    # through the URL, as the Thresholds page will read it
    assert _kept_docs(con, view_state.decode_rules(view_state.encode_rules([remove]))) == n_out


def _circle(cx: float, cy: float, r: float, n: int = 200) -> list[tuple[float, float]]:
    return [(cx + r * np.cos(2 * np.pi * i / n), cy + r * np.sin(2 * np.pi * i / n)) for i in range(n)]


def test_lassos_from_a_plotly_selection():
    sel = {
        "lasso": [
            {"x": [0, 1, 1], "y": [0, 0, 1]},
            {"x": [0, 1], "y": [0, 0]},  # two points: no polygon
            {"x": ["a", 1, 2], "y": [0, 0, 1]},
            {"x": [0, 1, 2]},
        ]
    }
    assert S.lassos_from_selection(sel) == [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]]
    assert S.lassos_from_selection({}) == [] and S.lassos_from_selection(None) == []


def test_simplify_keeps_the_shape_within_the_vertex_budget():
    square = [(i / 50, 0.0) for i in range(50)] + [(1.0, i / 50) for i in range(50)]
    square += [(1 - i / 50, 1.0) for i in range(50)] + [(0.0, 1 - i / 50) for i in range(50)]
    out = S.simplify(square, max_vertices=8)
    assert len(out) <= 8 and {(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)} <= set(out)
    circle = _circle(0, 0, 1, n=500)
    assert len(S.simplify(circle)) <= S.LASSO_VERTICES
    assert S.simplify(circle[:10]) == circle[:10]


@pytest.mark.parametrize("fixture", ["map_ws", "map_ws_unmapped"])
def test_lasso_rules_keep_and_remove_the_polygon(fixture, request):
    ws = request.getfixturevalue(fixture)
    con = ws.cursor()
    total = con.execute("SELECT count(*) FROM corpus").fetchone()[0]
    lassos = [_circle(0.5, -0.5, 2.5), _circle(6, 6, 1.5)]
    keep, remove, inside = S.lasso_rules(con, lassos)
    assert keep.kind == remove.kind == "expr" and keep.expr.startswith("polygon(map_x, map_y, ")
    assert 0 < inside < total
    assert _kept_docs(con, [keep]) == inside
    assert _kept_docs(con, [remove]) == total - inside  # unmapped documents stay when a region is removed
    # through the URL, as the Thresholds page reads it
    assert _kept_docs(con, view_state.decode_rules(view_state.encode_rules([remove]))) == total - inside
    # the simplified, rounded polygons hold the documents of the drawn circles but for a few on the outline
    exact = con.execute(
        "SELECT count(*) FROM corpus WHERE (map_x - 0.5) ** 2 + (map_y + 0.5) ** 2 < 6.25"
        " OR (map_x - 6) ** 2 + (map_y - 6) ** 2 < 2.25"
    ).fetchone()[0]
    assert abs(inside - exact) <= max(3, exact // 100)


def test_removing_a_region_keeps_unmapped_documents(map_ws_unmapped):
    con = map_ws_unmapped.cursor()
    keep, remove = S.region_rules(con, [S.Box(-20, 20, -20, 0)])
    assert remove.expr.startswith("map_x is null or map_y is null or not (")
    n_in = S.count_in_boxes(con, [S.Box(-20, 20, -20, 0)])
    assert _kept_docs(con, [remove]) == 800 - n_in  # the 25 unmapped documents stay
    assert _kept_docs(con, [keep]) == n_in


def test_cluster_coverage_and_rule_by_label(map_ws):
    con = map_ws.cursor()
    # clusters 0 and 1 share the label "topic 0": selecting both wholly gives a readable label rule
    ids = [r[0] for r in con.execute("SELECT id FROM corpus WHERE map_cluster IN (0, 1)").fetchall()]
    part = [r[0] for r in con.execute("SELECT id FROM corpus WHERE map_cluster = 2 LIMIT 5").fetchall()]
    cov = {c.cluster: c for c in S.cluster_coverage(con, ids=ids + part + ids[:3])}
    assert set(cov) == {0, 1, 2}
    assert cov[0].whole and cov[1].whole and not cov[2].whole and cov[2].selected == 5
    rule = S.clusters_rule(con, [c for c, v in cov.items() if v.whole])
    assert (rule.kind, rule.col, rule.values) == ("not_in", "map_cluster_label", ["topic 0"])
    n = con.execute("SELECT count(*) FROM corpus WHERE map_cluster NOT IN (0, 1)").fetchone()[0]
    assert _kept_docs(con, [rule]) == n
    assert _kept_docs(con, view_state.decode_rules(view_state.encode_rules([rule]))) == n


def test_cluster_rule_falls_back_to_ids_when_a_label_is_shared(map_ws):
    con = map_ws.cursor()
    rule = S.clusters_rule(con, [3])  # "topic 1" also names cluster 2
    assert rule.kind == "expr" and rule.expr == "map_cluster not in (3)"
    n = con.execute("SELECT count(*) FROM corpus WHERE map_cluster <> 3").fetchone()[0]
    assert _kept_docs(con, [rule]) == n


def test_cluster_rule_keeps_unclustered_documents(map_ws_unmapped):
    con = map_ws_unmapped.cursor()
    rule = S.clusters_rule(con, [0, 1])
    assert rule.expr == "map_cluster is null or map_cluster not in (0, 1)"
    n = con.execute("SELECT count(*) FROM corpus WHERE map_cluster IS NULL OR map_cluster NOT IN (0, 1)").fetchone()
    assert _kept_docs(con, [rule]) == n[0] and n[0] > 25


def test_box_coverage_matches_ids(map_ws):
    con = map_ws.cursor()
    box = S.Box(-4, 3, -5, 5)
    ids = [
        r[0]
        for r in con.execute("SELECT id FROM corpus WHERE map_x BETWEEN -4 AND 3 AND map_y BETWEEN -5 AND 5").fetchall()
    ]
    assert S.cluster_coverage(con, boxes=[box]) == S.cluster_coverage(con, ids=ids)


def test_boxes_from_a_plotly_selection():
    sel = {"box": [{"x": [2.0, -1.0], "y": [0.5, 0.25]}, {"x": [1]}, {"x": ["nan", 1], "y": [0, 1]}], "lasso": []}
    assert S.boxes_from_selection(sel) == [S.Box(-1.0, 2.0, 0.25, 0.5)]
    assert S.boxes_from_selection(None) == []


# ------------------------------------------------------------------ pages (AppTest)


def _recipe_count(ws_path: str, rules: list[Rule]) -> int:
    from app.workspace import Workspace

    ws = Workspace.open(ws_path)
    try:
        return _kept_docs(ws.cursor(), rules)
    finally:
        ws.close()


def _sql_count(ws_path: str, sql: str, params: list) -> int:
    from app.workspace import Workspace

    ws = Workspace.open(ws_path)
    try:
        return ws.cursor().execute(sql, params).fetchone()[0]
    finally:
        ws.close()


def test_thresholds_expr_rule_from_the_url(ui_ws):
    from app.explore import panel_api
    from tests.app.test_pages import _panel

    r = view_state.encode_rules(
        [view_state.expr_rule("not (map_x between -0.5 and 0.75 and map_y between -1 and 0.5)")]
    )
    at = app_at(ui_ws, "thresholds", r=r)
    n = _kept(at)
    assert 0 < n < 240
    assert n == _recipe_count(ui_ws, view_state.decode_rules(r))
    assert n == _sql_count(
        ui_ws, "SELECT count(*) FROM corpus WHERE NOT (map_x BETWEEN -0.5 AND 0.75 AND map_y BETWEEN -1 AND 0.5)", []
    )
    data = _panel(at)
    (rule,) = data["rules"]
    assert rule["kind"] == "expr" and rule["expr"].startswith("not (map_x between")
    # editing the expression in the panel: the server counts the new one
    text = "quality_score >= 0.5 and lang_code in ('en', 'de')"
    got = panel_api.handle("summary", {"token": data["token"], "rules": [{**rule, "expr": text}]})
    assert got["kept_docs"] == _recipe_count(ui_ws, [view_state.expr_rule(text)])


def test_thresholds_bad_expression_is_one_line(ui_ws):
    from app.errors import WinnowError
    from app.explore import panel_api
    from tests.app.test_pages import _panel

    r = view_state.encode_rules([view_state.expr_rule("size_words > 3")])
    at = app_at(ui_ws, "thresholds", r=r)
    data = _panel(at)
    (rule,) = data["rules"]
    for text, word in (("size_words >> 3; drop table docs", "expression"), ("size_wrds > 3", "size_wrds")):
        with pytest.raises(WinnowError) as e:
            panel_api.handle("summary", {"token": data["token"], "rules": [{**rule, "expr": text}]})
        assert "\n" not in str(e.value) and word in str(e.value)
    # the same typo from a URL: the page says which rule it ignores
    at = app_at(ui_ws, "thresholds", r=view_state.encode_rules([view_state.expr_rule("size_wrds > 3")]))
    assert any("size_wrds" in w.value for w in at.warning) and _panel(at)["rules"] == []


def _url_rules(at) -> str:
    r = at.query_params["r"]
    return r[0] if isinstance(r, list) else r


def _inject(at, *, box=None, ids=(), lasso=False):
    path = lasso if isinstance(lasso, list) else [(0, 0), (1, 0), (1, 1)]
    sel = {
        "points": [{"customdata": i} for i in ids],
        "point_indices": list(range(len(ids))),
        "box": [{"x": list(box[:2]), "y": list(box[2:])}] if box else [],
        "lasso": [{"x": [p[0] for p in path], "y": [p[1] for p in path]}] if lasso else [],
    }
    at.session_state["map_chart"] = PlotlyState({"selection": PlotlySelectionState(sel)})
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_map_remove_this_region_adds_an_exact_rule(ui_ws):
    at = app_at(ui_ws, "map")
    box = (-0.61, 0.83, -0.9, 1.3)
    inside = "map_x BETWEEN ? AND ? AND map_y BETWEEN ? AND ?"
    b = [box[0], box[1], box[2], box[3]]
    ids = [r[0] for r in _rows(ui_ws, f"SELECT id FROM corpus WHERE {inside}", b)]
    _inject(at, box=box, ids=ids)
    labels = [x.label for x in at.button]
    assert "Keep only this region" in labels and "Remove this region" in labels
    assert f"label {len(ids):,} as good" in labels  # labelling still works as before
    at.button(key="btn_map_remove_region").click().run()
    assert not at.exception
    (rule,) = at.session_state["rules"]
    assert rule.kind == "expr" and rule.expr.startswith("not (map_x between ")
    n_out = _sql_count(ui_ws, f"SELECT count(*) FROM corpus WHERE NOT ({inside})", b)
    assert 0 < n_out < 240 - 3
    assert _recipe_count(ui_ws, [rule]) == n_out
    assert any("Added the rule" in s.value for s in at.success)
    assert view_state.decode_rules(_url_rules(at)) == [rule]
    # the Thresholds page shows the same count for it
    at.switch_page("../../pages/thresholds.py").run()
    assert not at.exception
    assert _kept(at) == n_out


def test_map_keep_only_region_and_no_duplicates(ui_ws):
    at = app_at(ui_ws, "map")
    box = (0.0, 2.5, -2.5, 0.0)
    _inject(at, box=box)
    at.button(key="btn_map_keep_region").click().run()
    at.button(key="btn_map_keep_region").click().run()
    assert not at.exception
    (rule,) = at.session_state["rules"]
    n_in = _sql_count(
        ui_ws, "SELECT count(*) FROM corpus WHERE map_x BETWEEN 0 AND 2.5 AND map_y BETWEEN -2.5 AND 0", []
    )
    assert _recipe_count(ui_ws, [rule]) == n_in > 0
    assert any("already" in s.value for s in at.success)


def test_map_remove_whole_clusters(ui_ws):
    at = app_at(ui_ws, "map")
    ids = [r[0] for r in _rows(ui_ws, "SELECT id FROM corpus WHERE map_cluster = 2", [])]
    _inject(at, ids=[*ids, "d0001"], lasso=True)  # cluster 2 whole, plus one document of cluster 1
    at.button(key="btn_map_remove_clusters").click().run()
    assert not at.exception
    (rule,) = at.session_state["rules"]
    assert (rule.kind, rule.col, rule.values) == ("not_in", "map_cluster_label", ["topic 2"])
    assert _recipe_count(ui_ws, [rule]) == 240 - len(ids)


def test_map_lasso_becomes_a_polygon_rule(ui_ws):
    at = app_at(ui_ws, "map")
    path = _circle(0.2, -0.1, 1.1, n=120)
    poly = S.polygon_text(path, digits=5)  # the lasso as drawn (120 vertices)
    from app.recipes.expr import parse_expr

    params: dict = {}
    sql = parse_expr(poly).to_sql(params)
    n_in = _sql_count(ui_ws, f"SELECT count(*) FROM corpus WHERE {sql}", params)
    ids = [r[0] for r in _rows(ui_ws, f"SELECT id FROM corpus WHERE {sql}", params)]
    assert 0 < n_in < 240
    _inject(at, ids=ids, lasso=path)
    keep = next(b for b in at.button if b.key == "btn_map_keep_region")
    assert "polygon" in keep.proto.help and f"listed {len(ids):,}" in keep.proto.help
    at.button(key="btn_map_remove_region").click().run()
    assert not at.exception
    (rule,) = at.session_state["rules"]
    assert rule.kind == "expr" and "polygon(map_x, map_y, " in rule.expr and rule.expr.startswith("not (")
    # simplified to 64 vertices and rounded: the rule removes the lasso's documents but for a few on the outline
    assert abs(_recipe_count(ui_ws, [rule]) - (240 - n_in)) <= 3
    assert view_state.decode_rules(_url_rules(at)) == [rule]
    at.switch_page("../../pages/thresholds.py").run()
    assert not at.exception and _kept(at) == _recipe_count(ui_ws, [rule])


def test_map_partial_cluster_selection_offers_no_cluster_rule(ui_ws):
    at = app_at(ui_ws, "map")
    _inject(at, ids=["d0001", "d0002"], lasso=True)
    assert not [x for x in at.button if x.key == "btn_map_remove_clusters"]
    assert any("covers no whole map cluster" in c.value for c in at.caption)


def _rows(ws_path: str, sql: str, params: list) -> list:
    from app.workspace import Workspace

    ws = Workspace.open(ws_path)
    try:
        return ws.cursor().execute(sql, params).fetchall()
    finally:
        ws.close()


@pytest.mark.browser
@pytest.mark.parametrize("tool", ["box", "lasso"])
def test_browser_box_selection_becomes_a_rule(tmp_path, tool):
    """In chromium: box- or lasso-select on the map, "Remove this region", and the Thresholds page counts the
    rule (a lasso's polygon holds the documents the lasso listed, but for any on its rounded outline)."""
    from tests.app.conftest import build_ui_workspace
    from tests.browser.test_e2e import ARGS, CHROMIUM, _kept, _need_chromium

    _need_chromium()
    from playwright.sync_api import sync_playwright

    from app.launch import Server

    ws = build_ui_workspace(tmp_path / "ws")
    with sync_playwright() as p, Server(ws) as url:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/map", wait_until="domcontentloaded")
            plot = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
            plot.wait_for(timeout=60_000)
            plot.hover()
            if tool == "box":
                page.locator('[data-title="Box Select"]').first.click()
            bb = page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first.bounding_box()
            x0, y0 = bb["x"] + bb["width"] * 0.35, bb["y"] + bb["height"] * 0.35
            if tool == "box":
                page.mouse.move(x0, y0)
                page.mouse.down()
                page.mouse.move(x0 + bb["width"] * 0.2, y0 + bb["height"] * 0.25, steps=10)
            else:  # the map's default drag mode: a lasso around a circle
                cx, cy, r = bb["x"] + bb["width"] * 0.45, bb["y"] + bb["height"] * 0.45, bb["height"] * 0.2
                page.mouse.move(cx + r, cy)
                page.mouse.down()
                for k in range(1, 41):
                    a = 2 * np.pi * k / 40
                    page.mouse.move(cx + r * np.cos(a), cy + r * np.sin(a))
            page.mouse.up()
            page.get_by_role("button", name="Remove this region").wait_for(timeout=60_000)
            n_sel = int(re.sub(r"\D", "", page.locator("h3", has_text="Selection").first.inner_text()))
            page.get_by_role("button", name="Remove this region").click()
            page.get_by_text("Added the rule").first.wait_for(timeout=30_000)
            page.wait_for_function("() => decodeURIComponent(location.search).includes('expr:map_x')", timeout=30_000)
            page.get_by_text("Open the Thresholds page").first.click()
            page.locator(".wl-mvalue[data-m=kept]").wait_for(timeout=60_000)
            want = 240 - n_sel
            if tool == "lasso":
                page.locator(".wl-status").wait_for(timeout=60_000)
                want = _kept(page)
                assert abs(want - (240 - n_sel)) <= 2
            page.wait_for_function(
                "n => { const e = document.querySelector('.wl-mvalue[data-m=kept]');"
                " return e && e.innerText.replace(/,/g,'') == String(n); }",
                arg=want,
                timeout=60_000,
            )
            assert 0 < n_sel < 240 and _kept(page) == want
            expr = page.locator('.wl-rule input[data-f="expr"]').first.input_value()
            assert expr.startswith("not (map_x between " if tool == "box" else "not (polygon(map_x, map_y, ")
        finally:
            browser.close()
    assert _recipe_count(ws, [view_state.expr_rule(expr)]) == want  # the server has let go of the workspace


def test_density_view_box_selection_lists_and_offers_region_rules(ui_ws, monkeypatch):
    """Beyond the point limit the map is a Vega-Lite heatmap; its interval selection is a box like plotly's."""
    from streamlit.elements.vega_charts import VegaLiteState

    from app.explore import queries

    monkeypatch.setattr(queries, "MAP_POINTS_MAX", 100)
    at = app_at(ui_ws, "map")
    assert any("density grid" in c.value for c in at.caption)
    box = (-0.61, 0.83, -0.9, 1.3)
    inside = "map_x BETWEEN ? AND ? AND map_y BETWEEN ? AND ?"
    want = len(_rows(ui_ws, f"SELECT id FROM corpus WHERE {inside}", list(box)))
    at.session_state["map_density_chart"] = VegaLiteState(
        {"selection": {"box": {"x0": [box[0], box[1]], "y0": [box[2], box[3]]}}}
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Selection: {want:,} documents" in h.value for h in at.subheader)
    labels = [x.label for x in at.button]
    assert "Keep only this region" in labels and "Remove this region" in labels
