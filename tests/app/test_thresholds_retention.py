"""The Thresholds page's retention-by-category table is counted only while its expander is open.

Every threshold change hands the rules back to Streamlit (one rerun); a closed expander's content used to run
anyway, and at 10M documents that table costs a second recipe frame (~25 CPU-s and GBs on first load) and a
second summary per change (``bench/bench_ui.py --docs 10000000``).
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.explore import recipe_bridge
from tests.app.test_pages import app_at


def test_closed_retention_expander_counts_nothing(ui_ws, monkeypatch):
    calls = []
    real = recipe_bridge.retention

    def counting(*a, **k):
        calls.append(k.get("column"))
        return real(*a, **k)

    monkeypatch.setattr(recipe_bridge, "retention", counting)
    at: AppTest = app_at(ui_ws, "thresholds", r="range:size_words:10.0,")
    assert calls == []  # closed: nothing counted
    at.session_state["w_ret_open"] = True  # the reader opens it
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert calls, "an open expander shows the table"
    assert any(
        "vs overall" in str(df.value.columns if hasattr(df.value, "columns") else df.value) for df in at.dataframe
    )
