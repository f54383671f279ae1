"""The Thresholds panel's routes: request validation, counts equal ``app.recipes.summarize``, edge documents."""

from __future__ import annotations

import pytest

from app.explore import panel_api
from app.explore.panel_api import ApiError


@pytest.fixture
def opened(ui_ws):
    from app.workspace import Workspace

    ws = Workspace.open(ui_ws)
    yield ws, panel_api.register(ws)
    ws.close()


def _expected(ws, recipe: dict) -> dict:
    from app.recipes import summarize

    return summarize(ws.cursor(), {"version": 1, **recipe})


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        [{"kind": "drop_table", "col": "x"}],
        [{"kind": "range", "col": "size_words", "lo": float("nan")}],
        [{"kind": "range", "col": "size_words", "lo": "ten"}],
        [{"kind": "range", "col": "size_words", "lo": True}],
        [{"kind": "qrange", "col": "quality_score", "lo": 1.5}],
        [{"kind": "in", "col": "lang_code", "values": [1, 2]}],
        [{"kind": "dedup", "col": "fuzzy"}],
        [{"kind": "expr", "expr": None}],
        [{"kind": "range", "col": ""}],
        [{"kind": "range", "col": "size_words"}] * 65,
    ],
)
def test_malformed_rules_are_refused(bad):
    with pytest.raises(ApiError):
        panel_api.rules_from_json(bad)


def test_rules_round_trip_through_json():
    from app.explore.view_state import decode_rules

    rules = decode_rules("range:size_words:5.0,;qrange:quality_score:0.1,0.9;in:lang_code:en|de;dedup:exact:")
    rules.append(panel_api.rule_from_json({"kind": "expr", "expr": "map_x > 0 and size_words < 30"}))
    back = panel_api.rules_from_json([panel_api.rule_to_json(r) for r in rules])
    assert back == rules and [r.uid for r in back] == [r.uid for r in rules]


def test_summary_counts_equal_the_recipes_library(opened):
    ws, token = opened
    body = {
        "token": token,
        "rules": [
            {"kind": "range", "col": "size_words", "lo": 20, "hi": None, "uid": "a"},
            {"kind": "qrange", "col": "quality_score", "lo": 0.25, "hi": 0.9, "uid": "b"},
            {"kind": "in", "col": "lang_code", "values": ["en", "de"], "uid": "c"},
            {"kind": "dedup", "col": "exact", "uid": "d"},
        ],
    }
    got = panel_api.handle("summary", body)
    want = _expected(
        ws,
        {
            "rules": [
                {"signal": "size_words", "min": 20},
                {"signal": "quality_score", "min_quantile": 0.25, "max_quantile": 0.9},
                {"signal": "lang_code", "in": ["en", "de"]},
            ],
            "dedup": {"exact": True},
        },
    )
    for k in ("kept_docs", "kept_tokens", "total_docs", "by_source", "by_lang", "rules", "overlap"):
        assert got[k] == want[k], k
    assert got["rule_uids"] == ["a", "b", "c", "d"]
    assert got["cuts"][0] == {"min": 20.0, "max": None}
    q = want["resolved"]["rules"][1]
    assert got["cuts"][1] == {"min": q["min"], "max": q["max"]} and q["min"] is not None
    assert got["cuts"][3] == {"min": None, "max": None}  # dedup: no cut to draw


def test_moving_one_threshold_changes_the_count(opened):
    ws, token = opened
    counts = []
    for lo in (10, 30, 50):
        rules = [{"kind": "range", "col": "size_words", "lo": lo, "uid": "a"}]
        counts.append(panel_api.handle("summary", {"token": token, "rules": rules})["kept_docs"])
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    assert counts[1] == _expected(ws, {"rules": [{"signal": "size_words", "min": 30}]})["kept_docs"]


def test_unknown_token_and_unknown_column_are_one_line_errors(opened):
    _ws, token = opened
    with pytest.raises(ApiError, match="expired"):
        panel_api.handle("summary", {"token": "nope", "rules": []})
    from app.errors import WinnowError

    with pytest.raises(WinnowError) as e:
        panel_api.handle("summary", {"token": token, "rules": [{"kind": "range", "col": "no_such", "lo": 1}]})
    assert "\n" not in str(e.value)


def test_edge_documents_straddle_the_cut(opened):
    _ws, token = opened
    rules = [
        {"kind": "range", "col": "size_words", "lo": 25, "uid": "a"},
        {"kind": "dedup", "col": "exact", "uid": "b"},
    ]
    b = panel_api.handle("edge", {"token": token, "rules": rules, "uid": "a"})
    assert b["bound"] == "min" and b["above"] and b["below"]
    assert all(d["value"] >= 25 for d in b["above"]) and all(d["value"] < 25 for d in b["below"])
    assert all(d["text"] for d in b["above"] + b["below"])
    d = panel_api.handle("edge", {"token": token, "rules": rules, "uid": "b"})
    assert d["bound"] is None and d["above"] and d["below"]
    with pytest.raises(ApiError):
        panel_api.handle("edge", {"token": token, "rules": rules, "uid": "zz"})


def test_http_routes(opened):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    ws, token = opened
    client = TestClient(Starlette(routes=panel_api.routes()))
    rules = [{"kind": "range", "col": "size_words", "lo": 30, "uid": "a"}]
    r = client.post("/winnow/api/summary", json={"token": token, "rules": rules})
    assert r.status_code == 200
    assert r.json()["kept_docs"] == _expected(ws, {"rules": [{"signal": "size_words", "min": 30}]})["kept_docs"]
    r = client.post("/winnow/api/summary", json={"token": "stolen", "rules": rules})
    assert r.status_code == 400 and "expired" in r.json()["error"]
    r = client.post("/winnow/api/summary", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"] == "malformed JSON"
    r = client.post("/winnow/api/summary", content=b"x" * 300_000)
    assert r.status_code == 413
    assert client.get("/winnow/api/summary").status_code == 405
    r = client.post("/winnow/api/edge", json={"token": token, "rules": rules, "uid": "a"})
    assert r.status_code == 200 and r.json()["bound"] == "min"


def test_register_reuses_a_live_token_and_bounds_the_registry(opened):
    ws, token = opened
    assert panel_api.register(ws, token) == token
    assert panel_api.register(object(), token) != token  # a token never moves to another workspace
    for _ in range(panel_api._MAX_TOKENS + 5):
        panel_api.register(object())
    assert len(panel_api._tokens) <= panel_api._MAX_TOKENS


def test_rules_handed_back_by_the_panel():
    import json

    rules = [{"kind": "range", "col": "size_words", "lo": 5, "uid": "a"}, {"kind": "dedup", "col": "exact", "uid": "b"}]
    got = panel_api.from_panel(json.dumps({"rules": rules, "edge_uid": "b"}))
    assert got is not None
    back, edge = got
    assert [r.uid for r in back] == ["a", "b"] and back[0].lo == 5.0 and edge == "b"
    for raw in (None, "", "{", json.dumps({"rules": [{"kind": "nope"}]}), json.dumps([1, 2]), json.dumps({"x": 1})):
        assert panel_api.from_panel(raw) is None


def test_the_pages_own_first_counts_start_the_prebuild(opened, monkeypatch):
    """``summary_payload`` (the page's first counts as well as the route's) counts in the background context:
    from PREBUILD_MIN documents its first summary starts building the single-bound cut's drag index."""
    from app.explore.view_state import decode_rules
    from app.recipes import live, live_drag

    ws, _token = opened
    monkeypatch.setattr(live_drag, "PREBUILD_MIN", 0)
    live.clear()
    panel_api.summary_payload(ws.cursor(), decode_rules("range:size_words:5.0,;qrange:quality_score:0.1,0.9"))
    (state,) = live._STATES.values()
    for t in state.drag_threads:
        t.join(timeout=60)
    assert [k[1:] for k in state.drags] == [(0, "lo")]  # the quantile cut has both bounds: not prebuilt
