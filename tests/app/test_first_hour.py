"""Issue 17's small things on the dashboard pages: names, messages and errors where a new user looks."""

from __future__ import annotations

import re

from tests.app.test_pages import app_at
from tests.conftest import ROOT


def test_yaml_preview_shows_the_name_the_recipe_was_saved_under(ui_ws):
    at = app_at(ui_ws, "thresholds")
    at.selectbox(key="w_add_col").set_value("quality_score").run()
    at.button(key="btn_add_rule").click().run()
    at.toggle(key="w_show_yaml").set_value(True).run()
    assert any("name: my-recipe" in c.value for c in at.code)
    at.text_input(key="w_recipe_name").set_value("first-hour").run()
    at.button(key="btn_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("saved recipe" in s.value for s in at.success)
    yaml = next(c.value for c in at.code if "name:" in c.value)
    assert "name: first-hour" in yaml, yaml


def test_panel_status_line_is_hidden_from_readers_but_kept_for_tests():
    """The "update #n · ms on the server" line stays in the DOM (bench_ui and the browser tests read it)."""
    css = (ROOT / "app" / "ui" / "live" / "thresholds.css").read_text()
    rule = re.search(r"\.wl-status\s*\{([^}]*)\}", css)
    assert rule, "no .wl-status rule"
    body = rule.group(1)
    assert "position: absolute" in body and "clip" in body and "overflow: hidden" in body, body
    js = (ROOT / "app" / "ui" / "live" / "thresholds.js").read_text()
    assert 'class="w-done" data-run=' in js and "update #" in js
