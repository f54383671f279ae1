"""The compare panel's state in the URL (``?compare=NAME``) and each changed threshold drawn on its histogram."""

from __future__ import annotations

import json

from app.recipes import load_recipe, save_recipe
from app.workspace import Workspace
from tests.app.conftest import build_ui_workspace
from tests.app.test_pages import app_at

STRICT = "version: 1\nname: strict\nrules:\n  - {signal: size_words, min: 30}\n  - {signal: lang_code, in: [en]}\n"


def test_url_names_b_and_changed_cuts_are_drawn(tmp_path):
    path = build_ui_workspace(tmp_path / "ws")
    with Workspace.open(path) as ws:
        save_recipe(ws, "strict", load_recipe(STRICT))
    at = app_at(path, "thresholds", r="range:size_words:10.0,", compare="strict")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="w_cmp_with").value == "saved: strict"
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    cuts = [c for c in charts if c["layout"].get("title", {}).get("text") == "size_words"]
    assert len(cuts) == 1
    texts = sorted(a["text"] for a in cuts[0]["layout"]["annotations"])
    assert texts == ["A min 10", "B min 30"]
    # choosing another B writes it to the URL; none removes it
    at.selectbox(key="w_cmp_with").select(None).run()
    assert "compare" not in at.query_params
    at.selectbox(key="w_cmp_with").select("saved: strict").run()
    assert at.query_params["compare"] in ("strict", ["strict"])


def test_unknown_name_in_url_is_said(tmp_path):
    path = build_ui_workspace(tmp_path / "ws")
    at = app_at(path, "thresholds", r="range:size_words:10.0,", compare="<b>nope</b>")
    assert not at.exception, [e.value for e in at.exception]
    assert any("no saved recipe or preset" in w.value for w in at.warning)
    assert at.selectbox(key="w_cmp_with").value is None
