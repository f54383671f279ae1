"""The Thresholds URL carries the whole recipe being edited (issue 20): rules in ``r``, the other stages
(balance, sample, mixture...) in ``rb``: compact, size-bounded, and a bad ``rb`` is one clear message."""

from __future__ import annotations

import base64
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import RecipeError
from app.explore import view_state as vs

BASE = {
    "balance": [{"column": "lang_code", "cap": 30}],
    "sample": {"n": 50, "seed": 7},
}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_round_trip_and_size():
    text = vs.encode_stages(BASE)
    assert (
        text
        and len(text) < 120
        and set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    )
    assert vs.decode_stages(text) == BASE
    assert vs.encode_stages(None) is None and vs.encode_stages({}) is None
    # too large for a link: left out (the page says so), never a cut-short parameter
    huge = {"output": {"columns": [f"c{i:05d}_{'x' * (i % 7)}" for i in range(4000)]}}
    assert vs.encode_stages(huge) is None


@given(
    st.fixed_dictionaries(
        {"sample": st.fixed_dictionaries({"n": st.integers(1, 10**6), "seed": st.integers(0, 2**31 - 1)})},
        optional={"balance": st.just([{"column": "source", "cap": 5}])},
    )
)
def test_round_trip_any_sample(base):
    assert vs.decode_stages(vs.encode_stages(base)) == base


@pytest.mark.parametrize(
    "bad, why",
    [
        ("%%%", "cannot be read"),
        (_b64(zlib.compress(b'{"sample": {"n": 5}}'))[:-6], "cut short"),
        (_b64(zlib.compress(b"[1, 2]")), "not a recipe's stages"),
        (_b64(zlib.compress(b'{"rules": []}')), "not a recipe's stages"),
        (_b64(zlib.compress(b'{"sample": {"n": -3}}')), "cannot be read"),
        (_b64(zlib.compress(b" " * (1 << 20), 9)), "KiB once unpacked"),
        ("A" * (vs.MAX_STAGES_CHARS + 1), "longer than"),
        (_b64(b"not zlib at all"), "cannot be read"),
    ],
)
def test_bad_stages_are_one_clear_error(bad, why):
    with pytest.raises(RecipeError, match=why) as e:
        vs.decode_stages(bad)
    assert "\n" not in str(e.value)


def test_session_round_trip_through_the_url():
    url: dict[str, str] = {}
    sender = {"rules": vs.decode_rules("range:size_words:20.0,"), "recipe_base": BASE}
    vs.sync_to_url(url, sender)
    assert url["rb"] == vs.encode_stages(BASE) and url["r"]
    receiver: dict = {}
    vs.load_from_url(url, receiver)
    assert receiver["recipe_base"] == BASE and len(receiver["rules"]) == 1
    broken: dict = {}
    vs.load_from_url({**url, "rb": url["rb"][:-5]}, broken)
    assert "recipe_base" not in broken and "cut short" in broken[vs.STAGES_NOTE]


def test_thresholds_page_shows_every_stage_of_an_unsaved_recipe(tmp_path):
    from tests.app.conftest import build_ui_workspace
    from tests.app.test_pages import app_at

    ui_ws = build_ui_workspace(tmp_path / "ws")
    rb = vs.encode_stages({"sample": {"n": 50, "seed": 1}})
    at = app_at(ui_ws, "thresholds", r="range:size_words:20.0,", rb=rb)
    tables = [d.value for d in at.dataframe]
    stages = next(t for t in tables if "stage" in t.columns)
    sample = stages[stages["stage"] == "sample"].iloc[0]
    assert 50 in [v for v in sample.to_numpy() if not isinstance(v, str)]
    assert at.query_params["rb"] == [rb] or at.query_params["rb"] == rb
    bad = app_at(ui_ws, "thresholds", r="range:size_words:20.0,", rb=rb[:-4])
    assert any("cut short" in w.value for w in bad.warning)
