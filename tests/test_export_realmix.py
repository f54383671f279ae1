"""On realmix: a recipe saved in the workspace applies headless to the same result; export and report work."""

from __future__ import annotations

import re

import pytest

from app.export import apply
from app.export.headless import apply_headless
from app.recipes import get_recipe, save_recipe, summarize
from app.report import build_report
from tests.test_export import read_ids

RECIPE = """version: 1
name: realmix-cut
rules:
  - {signal: lang, in: [en, zh, de]}
  - {signal: toxicity, not_in: [hate, offensive], keep_null: true}
  - {expr: "sentiment is null or sentiment >= 0.2"}
dedup: {exact: true}
balance: [{column: source, cap: 5000, seed: 3}]
"""


@pytest.mark.slow
@pytest.mark.realdata
def test_realmix_saved_recipe_headless_equals_workspace(realmix, tmp_path):
    from app.ingest import ingest
    from app.workspace import Workspace

    src = str(realmix / "realmix.parquet")
    with Workspace.open(tmp_path / "ws", create=True) as ws:
        ingest(ws, [src], source="realmix", id_field="id")
        save_recipe(ws, "cut", RECIPE)
        r = get_recipe(ws, "cut")
        s = summarize(ws.con, r)
        m = apply(ws, r, tmp_path / "ws_out", fmt="parquet")
        html, data = build_report(ws, r)
    assert 0 < s["kept_docs"] < s["total_docs"] == 53941
    assert m["counts"]["kept_docs"] == s["kept_docs"]
    h = apply_headless(r, [src], tmp_path / "hl_out", fmt="parquet", source="realmix", id_field="id")
    assert sorted(read_ids(tmp_path / "hl_out")) == read_ids(tmp_path / "ws_out")
    assert h["resolved"]["rules"] == m["resolved"]["rules"]
    assert data["summary"]["kept_docs"] == s["kept_docs"]
    assert not re.search(r"<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*[\"']?https?://", html)
