"""The report in a real browser (Debian's chromium via Playwright): offline, plots drawn, hostile text inert."""

from __future__ import annotations

import os
import shutil

import pytest

from app.report import write_report
from tests.test_report import RECIPE
from tests.test_report import ws as ws

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
def test_report_opens_offline_and_renders(ws, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    write_report(ws, RECIPE, out, samples=40)
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (errors.append("dialog: " + d.message), d.dismiss()))
        page.goto(out.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 6", timeout=30000)
        n_plots = page.evaluate("document.querySelectorAll('.js-plotly-plot').length")
        hostile_text = page.locator("#samples").inner_text()
        browser.close()
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:", "about:"))] == []
    assert errors == []  # no JS errors, and the hostile <script>/<img onerror> never ran (no alert dialog)
    assert n_plots >= 6
    assert "<script>alert('x')</script>" in hostile_text  # shown as text
