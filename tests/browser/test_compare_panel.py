"""The Thresholds panel's comparison with recipe B and its mixture plan in a real browser: both follow a threshold
change without a Streamlit rerun, a share edit replans, the numbers are compare_recipes' and mixture.plan's.
Skips without chromium, like the other browser tests."""

from __future__ import annotations

import pytest

from tests.browser.test_e2e import _need_chromium, browser_page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STRICT = "version: 1\nname: strict\nrules:\n  - {signal: size_words, min: 30}\n  - {signal: lang_code, in: [en]}\n"
CMP = ".wl-cmp [data-m=cmp]"
YAML = ".wl-mix [data-m=yaml]"


def _wait_text(page, sel: str, want: str) -> None:
    page.wait_for_function(
        "([sel, want]) => { const e = document.querySelector(sel); return e && e.textContent.includes(want); }",
        arg=[sel, want],
        timeout=60_000,
    )


def test_compare_and_plan_follow_the_panel(tmp_path, browser_page):  # noqa: F811 (the fixture imported above)
    from app.launch import Server
    from app.recipes import load_recipe, save_recipe
    from app.recipes.compare import compare_recipes
    from app.workspace import Workspace
    from tests.app.conftest import build_ui_workspace

    _need_chromium()
    path = build_ui_workspace(tmp_path / "ws")
    with Workspace.open(path) as ws:
        save_recipe(ws, "strict", load_recipe(STRICT))
        want = {lo: compare_recipes(ws.con, f"version: 1\nrules:\n  - {{signal: size_words, min: {lo}}}\n", STRICT)
                for lo in (10, 20)}  # fmt: skip
    page = browser_page
    with Server(path) as url:
        page.goto(f"{url}/thresholds?r=range:size_words:10.0,&compare=strict", wait_until="domcontentloaded")
        a10 = want[10]["a"]
        _wait_text(page, CMP, f"A keeps {a10['kept_docs']:,} documents ({a10['kept_tokens']:,} tokens)")
        box = page.locator(".wl-cmp")
        assert f"{want[10]['counts']['a_only']['docs']:,}" in box.inner_text()
        assert "dropped by B: lang_code in [en]" in box.inner_text()
        page.locator(YAML).wait_for(timeout=60_000)
        # a threshold change: the comparison follows, counted by the panel's own route
        lo = page.locator('.wl-rule input[data-f="lo"]').first
        lo.fill("20")
        lo.press("Enter")
        a20 = want[20]["a"]
        _wait_text(page, CMP, f"A keeps {a20['kept_docs']:,} documents ({a20['kept_tokens']:,} tokens)")
        assert f"{want[20]['counts']['b_only']['docs']:,}" in box.inner_text()
        # a share edit replans: the recipe's mixture section and the target shares follow
        share = page.locator(".wl-mix input[data-mix]").first
        group = share.get_attribute("data-mix")
        others = page.locator(".wl-mix input[data-mix]").count() - 1
        share.fill("0")
        share.press("Enter")
        page.wait_for_function(
            "([sel, g]) => { const e = document.querySelector(sel); return e && !e.textContent.includes(g + ':'); }",
            arg=[YAML, group],
            timeout=60_000,
        )
        if others:
            assert f"{1 / others:.4f}".rstrip("0") in page.locator(YAML).inner_text()
        assert page.evaluate("() => window.__xss") is None


def test_choosing_b_in_the_expander_reaches_the_panel(tmp_path, browser_page):  # noqa: F811
    """B chosen in the Streamlit selectbox (a fragment rerun) reaches the panel, which then draws the comparison."""
    from app.launch import Server
    from app.recipes import load_recipe, save_recipe
    from app.recipes.compare import compare_recipes
    from app.workspace import Workspace
    from tests.app.conftest import build_ui_workspace

    _need_chromium()
    path = build_ui_workspace(tmp_path / "ws")
    with Workspace.open(path) as ws:
        save_recipe(ws, "strict", load_recipe(STRICT))
        a = compare_recipes(ws.con, "version: 1\nrules:\n  - {signal: size_words, min: 10}\n", STRICT)["a"]
    page = browser_page
    with Server(path) as url:
        page.goto(f"{url}/thresholds?r=range:size_words:10.0,", wait_until="domcontentloaded")
        page.locator(YAML).wait_for(timeout=60_000)  # the planner's settings are registered from the start
        assert page.locator(".wl-cmp").is_hidden()
        page.get_by_text("Compare with another recipe").first.click()
        page.get_by_text("B: compare the rules above (A) with").first.wait_for(timeout=30_000)
        box = page.locator('[data-testid="stSelectbox"]', has_text="B: compare the rules above").first
        box.locator("input").first.click()
        page.get_by_role("option", name="saved: strict").click()
        _wait_text(page, CMP, f"A keeps {a['kept_docs']:,} documents ({a['kept_tokens']:,} tokens)")
