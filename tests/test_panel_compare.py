"""The Thresholds panel's ``compare`` and ``plan`` routes: recipe B's comparison and the mixture plan the panel draws
after every threshold change, the same numbers as ``compare_recipes`` and ``mixture.plan``."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from app.errors import WinnowError
from app.explore import panel_api, panel_compare
from app.recipes import load_recipe
from app.recipes.compare import compare_recipes
from app.recipes.mixture import Mixture, group_tokens, plan
from app.workspace import Workspace
from tests.app.conftest import build_ui_workspace

STRICT = "version: 1\nname: strict\nrules:\n  - {signal: size_words, min: 30}\n  - {signal: lang_code, in: [en]}\n"
MIX = {"by": "source", "tokens": 1_000_000, "max_epochs": 2.0, "tokens_column": None}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    path = build_ui_workspace(tmp_path_factory.mktemp("pc") / "ws")
    w = Workspace.open(path)
    yield w
    w.close()


def _rule(lo: float) -> list[dict]:
    return [{"kind": "range", "col": "size_words", "lo": lo, "hi": None, "uid": "u1"}]


def _token(ws, b=STRICT, mix=MIX) -> str:
    token = panel_api.register(ws)
    ctx = panel_compare.Context(
        b=load_recipe(b) if b else None, b_label="saved: strict", mix=dict(mix) if mix else None
    )
    panel_compare.set_context(token, ctx)
    return token


def test_compare_route_gives_compare_recipes_numbers(ws):
    token = _token(ws)
    got = panel_api.handle("compare", {"token": token, "rules": _rule(10)})
    want = compare_recipes(ws.con, "version: 1\nrules:\n  - {signal: size_words, min: 10}\n", STRICT, flipped=0)
    c = got["compare"]
    assert c["counts"] == {k: want["counts"][k] for k in ("a_only", "b_only", "both")}
    assert c["counts"]["a_only"]["docs"] > 0  # the fixture's B is stricter: the comparison says something
    assert c["counts"]["a_only"]["docs"] + c["counts"]["both"]["docs"] == want["a"]["kept_docs"] == c["a"]["kept_docs"]
    assert {f["rule"] for f in c["flips"]} == {f["rule"] for f in want["flips"]}
    assert [r["source"] for r in c["by_source"]] == [r["source"] for r in want["by_source"][:15]]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lo=hs.integers(0, 120))
def test_a_recipe_compared_with_itself_flips_nothing(ws, lo):
    token = _token(ws, b=f"version: 1\nrules:\n  - {{signal: size_words, min: {lo}}}\n", mix=None)
    c = panel_api.handle("compare", {"token": token, "rules": _rule(lo)})["compare"]
    assert c["same"] and c["counts"]["a_only"]["docs"] == c["counts"]["b_only"]["docs"] == 0
    assert c["counts"]["both"]["docs"] == c["a"]["kept_docs"] == c["b_kept"]["kept_docs"]


def test_plan_follows_the_rules_and_the_shares(ws):
    token = _token(ws)
    totals = {
        str(k): v
        for k, v in group_tokens(ws.con, "corpus_fast", "source", "size_tokens", where_sql="size_words >= 10").items()
    }
    first = panel_api.handle("compare", {"token": token, "rules": _rule(10)})["mix"]
    assert first["entered"] == panel_compare.default_shares(totals)  # equal shares until the user edits one
    shares = {"web": 1.0, "forum": 3.0}
    got = panel_api.handle("plan", {"token": token, "rules": _rule(10), "shares": shares, "shares_by": "source"})["mix"]
    want = plan(Mixture("source", 1_000_000, {"web": 0.25, "forum": 0.75}, 2.0), totals)
    assert got["plan"] == want
    assert got["entered"] == shares and "capped at 2" in " ".join(got["plan"]["warnings"])
    assert "forum: 0.75" in got["yaml"] and "max_epochs: 2.0" in got["yaml"]
    # a threshold change keeps the entered shares and replans over what the new rules keep
    totals40 = group_tokens(ws.con, "corpus_fast", "source", "size_tokens", where_sql="size_words >= 40")
    body = {"token": token, "rules": _rule(40), "shares": shares, "shares_by": "source"}
    again = panel_api.handle("compare", body)["mix"]["plan"]
    assert again == plan(Mixture("source", 1_000_000, {"web": 0.25, "forum": 0.75}, 2.0), totals40)
    # shares entered for another grouping are not applied to this one
    other = panel_api.handle("plan", {**body, "shares_by": "lang_code"})["mix"]
    assert other["entered"] == panel_compare.default_shares({str(k): v for k, v in totals40.items()})


def test_without_a_context_the_routes_answer_nothing(ws):
    token = panel_api.register(ws)
    assert panel_api.handle("compare", {"token": token, "rules": _rule(10)}) == {"compare": None, "mix": None}


@pytest.mark.parametrize("shares", [{"web": -1}, {"web": "x"}, {"web": True}, ["web"], {"web": float("nan")}])
def test_malformed_shares_are_one_line_errors(ws, shares):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    token = _token(ws)
    client = TestClient(Starlette(routes=panel_api.routes()))
    import json

    body = json.dumps({"token": token, "rules": _rule(10), "shares": shares, "shares_by": "source"}, allow_nan=True)
    r = client.post(f"{panel_api.PREFIX}/plan", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "\n" not in r.json()["error"] and "share" in r.json()["error"]


def test_a_mixture_by_a_missing_column_is_one_line(ws):
    token = _token(ws, b=None, mix={**MIX, "by": "no_such_column"})
    with pytest.raises(WinnowError) as e:
        panel_api.handle("compare", {"token": token, "rules": _rule(10)})
    assert "no_such_column" in str(e.value) and "\n" not in str(e.value)


def test_the_page_registers_b_and_the_mixture_settings_for_the_panel(tmp_path):
    """Choosing B or a mixture setting in the Streamlit expanders reaches the panel's routes and the context key
    the panel was sent. (AppTest reruns the whole page on a widget change, so the fragment's own st.rerun is not
    exercised here; tests/browser/test_compare_panel.py drives the panel.)"""
    from app.recipes import save_recipe
    from tests.app.test_pages import app_at

    path = build_ui_workspace(tmp_path / "ws")
    with Workspace.open(path) as w:
        save_recipe(w, "strict", load_recipe(STRICT))
    at = app_at(path, "thresholds", r="range:size_words:10.0,")
    ctx = panel_compare.context(at.session_state["_thr_token"])
    assert ctx is not None and ctx.b is None and ctx.mix["by"] == "source"
    at.selectbox(key="w_cmp_with").select("saved: strict").run()
    assert not at.exception, [e.value for e in at.exception]
    ctx = panel_compare.context(at.session_state["_thr_token"])
    assert ctx.b_label == "saved: strict" and [r.signal for r in ctx.b.rules] == ["size_words", "lang_code"]
    assert at.session_state["_thr_ctx_key_sent"] == ctx.key()  # the panel was sent this context
    at.number_input(key="w_mix_tokens").set_value(5000).run()
    ctx = panel_compare.context(at.session_state["_thr_token"])
    assert ctx.mix["tokens"] == 5000 and at.session_state["_thr_ctx_key_sent"] == ctx.key()
