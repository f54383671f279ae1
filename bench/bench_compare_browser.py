"""The browser half of ``bench/bench_compare.py``: the Thresholds page's compare panel and mixture planner at 1M
documents in a real browser (Debian chromium + Playwright against ``streamlit run``, as ``bench/bench_ui.py``).

The page is opened as a reviewer's link, ``/thresholds?recipe=current&compare=stricter``, with both expanders
open. Times are taken inside the page (``performance.now()``), from the Enter keydown to the animation frame
after the changed numbers are in the DOM, so Playwright's own round trips are not counted:

- ``compare_ms``: a new minimum for A's first rule (the live panel's box) -> the compare panel's caption
  ("A keeps N documents ... ; T ms") changed; ``count_ms``: the same change -> the live panel's kept count;
- ``mixture_ms``: a new target share typed into the planner's table -> the recipe section it prints changed.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

#: installed before the page loads: the Enter keydown, then the first frame painting each watched element's change
TIMING_JS = r"""
window.__w = null;
const _cmp = () => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]
  .find(x => x.textContent.startsWith('A keeps'));
const _kept = () => document.querySelector('.wl-mvalue[data-m=kept]');
const _mix = () => [...document.querySelectorAll('[data-testid=stCode] code, pre code')]
  .find(x => x.textContent.includes('max_epochs'));
const _text = (f) => { const e = f(); return e ? e.textContent : null; };
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' || !window.__arm) return;
  window.__w = {enter: performance.now(), cmp: null, kept: null, mix: null,
                t: {cmp: _text(_cmp), kept: _text(_kept), mix: _text(_mix)}};
  window.__arm = false;
}, true);
new MutationObserver(() => {
  const w = window.__w;
  if (!w) return;
  for (const [k, f] of [['cmp', _cmp], ['kept', _kept], ['mix', _mix]]) {
    if (w[k] !== null) continue;
    const t = _text(f);
    if (t !== null && t !== w.t[k]) { w[k] = -1; requestAnimationFrame(() => { w[k] = performance.now(); }); }
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _idle(pg) -> None:
    """Wait until Streamlit has finished the run (its status widget gone), then a reader's pause."""
    pg.wait_for_timeout(150)
    pg.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget] button')", timeout=180_000)
    pg.wait_for_timeout(300)


def _open(pg, title: str) -> None:
    pg.get_by_text(title).first.click()
    pg.wait_for_timeout(300)


def _timed(pg, key: str, prepare, enter) -> tuple[float | None, dict]:
    """``prepare()`` (untimed), then arm the timer and ``enter()`` (presses Enter): ms from that keydown to
    ``key``'s painted change; None when nothing changed within a minute (counted as a miss, not dropped)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    prepare()
    pg.evaluate("window.__arm = true; window.__w = null")
    enter()
    try:
        pg.wait_for_function(f"() => window.__w && window.__w.{key} > 0", timeout=60_000)
    except PlaywrightTimeout:
        return None, {}
    w = pg.evaluate("window.__w")
    return w[key] - w["enter"], w


def measure(ws: Path, *, changes: int = 20) -> dict:
    """``{compare_ms, count_ms, mixture_ms}``: one list of browser-measured milliseconds per change."""
    from playwright.sync_api import sync_playwright

    from app.launch import Server

    out: dict = {"compare_ms": [], "count_ms": [], "mixture_ms": [], "missed": {"compare_ms": 0, "mixture_ms": 0}}
    with Server(ws, timeout=180) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        pg.add_init_script(TIMING_JS)
        t = time.perf_counter()
        pg.goto(f"{url}/thresholds?recipe=current&compare=stricter")
        pg.locator(".wl-mvalue[data-m=kept]").first.wait_for(timeout=300_000)
        _open(pg, "Compare with another recipe")
        pg.get_by_text("A keeps").first.wait_for(timeout=300_000)
        _open(pg, "Plan a token mixture")
        pg.get_by_text("planned share").first.wait_for(timeout=300_000)
        _idle(pg)
        out["first_paint_s"] = round(time.perf_counter() - t, 1)
        box = pg.locator('.wl-rule input[data-f="lo"]').first
        for i in range(changes):
            v = 60 + 11 * i  # a new minimum every time (size_words is 0..399)
            ms, w = _timed(pg, "cmp", lambda v=v: box.fill(str(v)), lambda: box.press("Enter"))
            print(f"threshold {v}: compare painted after {ms or -1:,.0f} ms", file=sys.stderr)
            if ms is None:
                out["missed"]["compare_ms"] += 1
                continue
            out["compare_ms"].append(ms)
            if w.get("kept", -1) > 0:
                out["count_ms"].append(w["kept"] - w["enter"])
            _idle(pg)
        planner = pg.locator('[data-testid="stExpander"]', has_text="Plan a token mixture").first
        grid = planner.locator('[data-testid="stDataFrame"]').first
        grid.scroll_into_view_if_needed()
        for i in range(changes):

            def edit(i=i) -> None:
                grid.click(position={"x": 12, "y": 35 + 17})  # the first row's group cell (not editable)
                pg.keyboard.press("ArrowRight")  # its share
                pg.keyboard.press("Enter")  # opens the cell's editor
                pg.wait_for_timeout(150)
                pg.keyboard.press("Control+A")
                pg.keyboard.type(f"0.{3 + i % 6}{i % 10}1")  # never the share it had

            ms, _ = _timed(pg, "mix", edit, lambda: pg.keyboard.press("Enter"))
            print(f"share change {i}: plan painted after {ms or -1:,.0f} ms", file=sys.stderr)
            if ms is None:
                out["missed"]["mixture_ms"] += 1
                pg.keyboard.press("Escape")
                _idle(pg)
                continue
            out["mixture_ms"].append(ms)
            _idle(pg)
        browser.close()
    return out


if __name__ == "__main__":  # a workspace already built by bench_compare.py (recipes "current" and "stricter")
    import json

    print(json.dumps(measure(Path(sys.argv[1]), changes=int(sys.argv[2]) if len(sys.argv) > 2 else 5)))
