"""The Thresholds panel's near-duplicate slider in a real browser: the count follows the Jaccard threshold and
the URL (and so a saved recipe) keeps it. Skips without chromium, like the other browser test."""

from __future__ import annotations

import pytest

from tests.browser.test_e2e import KEPT, _kept, _need_chromium, _wait_kept, browser_page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_near_dedup_slider_counts_live(tmp_path, browser_page):  # noqa: F811 (the fixture imported above)
    from app.launch import Server
    from tests.test_dedup_recipe import _kept as kept_ids
    from tests.test_dedup_recipe import _scored

    _need_chromium()
    ws = _scored(tmp_path, "ws", 0.5)
    try:  # what the recipes library keeps at the scored threshold and at 0.85
        at_scored = len(kept_ids(ws, "version: 1\nrules: []\ndedup: {near: true}\n"))
        at_85 = len(kept_ids(ws, "version: 1\nrules: []\ndedup: {near: 0.85}\n"))
    finally:
        ws.close()
    assert at_scored < at_85
    page = browser_page
    with Server(str(tmp_path / "ws")) as url:
        page.goto(f"{url}/thresholds?r=dedup:near:", wait_until="domcontentloaded")
        page.locator(KEPT).wait_for(timeout=60_000)
        _wait_kept(page, at_scored)
        slider = page.locator('.wl-rule input[data-f="jt"]').first
        assert slider.get_attribute("min") == "0.5"
        slider.fill("0.85")
        _wait_kept(page, at_85)
        assert _kept(page) == at_85
        page.wait_for_function("() => decodeURIComponent(location.search).includes('dedup:near:0.85')", timeout=30_000)
