"""Exports and reports name the trained models behind a recipe's rules (issue 13: hash and metrics)."""

from __future__ import annotations

import json

import numpy as np

from app.learn import store


class _Len:
    def __init__(self, m: store.StoredModel):
        self.columns = {"clf_len": "DOUBLE"}

    def score(self, texts):
        return {"clf_len": [min(len(t) / 100, 1.0) for t in texts]}


def test_manifest_and_report_cite_the_model(tiny_ws, tmp_path, monkeypatch):
    from app.export import apply
    from app.report import build_data, render_html

    monkeypatch.setitem(store.LOADERS, "test_len_clf", _Len)
    m = store.StoredModel(name="len", kind="test_len_clf", digest="abc123", columns={"clf_len": "DOUBLE"},
                          settings={"positive": "label:good", "negative": "random:10"},
                          metrics={"auc": 0.91, "auc_ci95": [0.88, 0.94], "ap": 0.8}, blob=store.pack({"x": np.zeros(1)}))  # fmt: skip
    store.save(tiny_ws.cursor(), m)
    store.score_workspace(tiny_ws, "len")
    recipe = {"name": "r", "rules": [{"signal": "clf_len", "min": 0.5}]}
    man = apply(tiny_ws, recipe, tmp_path / "out")
    assert man["models"][0]["digest"] == "abc123" and man["models"][0]["metrics"]["auc"] == 0.91
    data = build_data(tiny_ws, recipe)
    html = render_html(data)
    assert "Trained models behind the rules" in html and "abc123" in html and "label:good vs random:10" in html
    # a recipe that reads no model column: no section, no manifest entry
    plain = {"name": "p", "rules": [{"signal": "clf_len", "min": 0.0}]}
    assert "models" in apply(tiny_ws, plain, tmp_path / "o2")
    other = apply(tiny_ws, {"name": "q", "rules": []}, tmp_path / "o3")
    assert "models" not in other
    assert "Trained models" not in render_html(build_data(tiny_ws, {"name": "q", "rules": []}))
    json.dumps(man)
