"""The browser half of ``bench/bench_compare.py``: the Thresholds page's comparison with recipe B and its mixture
plan at 1M documents in a real browser (Debian chromium + Playwright against ``streamlit run``, as
``bench/bench_ui.py``).

The page is opened as a reviewer's link, ``/thresholds?recipe=current&compare=stricter``. The Thresholds panel
fetches and draws the comparison and the plan itself (``app/explore/panel_compare.py``), so nothing needs opening.
Times are taken inside the page (``performance.now()``), from the Enter keydown to the animation frame after the
changed numbers are in the DOM, so Playwright's own round trips are not counted; each change starts from a settled
page (:func:`_idle`):

- ``compare_ms``: a new minimum for A's first rule (the live panel's box) -> the panel's comparison line
  ("A keeps N documents ... ; T ms") changed; ``count_ms``: the same change -> the live panel's kept count;
- ``mixture_ms``: a new target share typed into the panel's plan -> the ``mixture:`` section it prints changed.

    python bench/bench_compare_browser.py WORKSPACE [CHANGES] [--before BEFORE.json] [--readme] [--after AFTER.json]

WORKSPACE: one built by ``bench_compare.py`` (recipes ``current`` and ``stricter``); ``--before``: the JSON this
script printed for the code before a change, shown beside the new numbers in the README section ``compare-browser``.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

#: installed before the page loads: the Enter keydown, then the first frame painting each watched element's change
TIMING_JS = r"""
window.__w = null;
const _cmp = () => document.querySelector('.wl-cmp [data-m=cmp]');
const _kept = () => document.querySelector('.wl-mvalue[data-m=kept]');
const _mix = () => document.querySelector('.wl-mix [data-m=yaml]');
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


#: the panel has settled: no request out, and the edge documents drawn for its latest update
SETTLED_JS = """() => { const p = document.querySelector('.wl'), e = document.querySelector('.wl-edge'),
  d = document.querySelector('.wl-status .w-done');
  return p && p.dataset.busy !== '1' && e && d && e.dataset.run === d.dataset.run; }"""


def _idle(pg) -> None:
    """Wait until the page has settled after a change (the panel's edge documents drawn, Streamlit's run over),
    then a reader's pause of a second: each change is timed from a quiet page, not on top of the last one's
    leftovers."""
    pg.wait_for_timeout(150)
    pg.wait_for_function(SETTLED_JS, timeout=180_000)
    pg.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget] button')", timeout=180_000)
    pg.wait_for_timeout(1000)


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
        pg.locator(".wl-cmp [data-m=cmp]").first.wait_for(timeout=300_000)
        pg.locator(".wl-mix [data-m=yaml]").first.wait_for(timeout=300_000)
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
        for i in range(changes):

            def edit(i=i) -> None:
                share = pg.locator(".wl-mix input[data-mix]").first
                share.scroll_into_view_if_needed()
                share.fill(f"0.{3 + i % 6}{i % 10}1")  # never the share it had

            def enter() -> None:
                pg.locator(".wl-mix input[data-mix]").first.press("Enter")

            ms, _ = _timed(pg, "mix", edit, enter)
            print(f"share change {i}: plan painted after {ms or -1:,.0f} ms", file=sys.stderr)
            if ms is None:
                out["missed"]["mixture_ms"] += 1
                _idle(pg)
                continue
            out["mixture_ms"].append(ms)
            _idle(pg)
        browser.close()
    return out


def _pcts(xs: list[float]) -> tuple[str, str]:
    if not xs:
        return "—", "—"
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return f"{statistics.median(xs):,.0f}", f"{p95:,.0f}"


def readme(after: dict, before: dict | None, *, load: str, note: str = "") -> str:
    """The README section ``compare-browser``: p50 / p95 before and after, per operation."""
    from _readme import machine, md_table

    rows = []
    for label, key, target in (
        ("threshold change → comparison with B painted", "compare_ms", "500"),
        ("threshold change → kept count painted", "count_ms", ""),
        ("share change → mixture plan painted", "mixture_ms", "300"),
    ):
        b50, b95 = _pcts(before[key]) if before else ("—", "—")
        a50, a95 = _pcts(after[key])
        missed = after.get("missed", {}).get(key, 0)
        note = f"{len(after[key])} changes" + (f", {missed} not painted within 60 s" if missed else "")
        rows.append([label, b50, b95, a50, a95, target, note])
    table = md_table(
        ["in the browser, 1M documents", "before p50", "before p95", "p50 ms", "p95 ms", "target", "note"], rows
    )
    return (
        "The comparison and the mixture plan in a real browser (`python bench/bench_compare_browser.py WS N "
        f"--before BEFORE.json --readme`, WS built by `bench/bench_compare.py`; {machine()}; {load}):\n\n{table}\n\n"
        "Before (commit f96af91, this script with that page's selectors): the numbers followed each threshold "
        "change through a Streamlit rerun of the compare and planner expanders (the browser rows of the compare "
        "section were measured that way, on a busier machine). After: the Thresholds panel posts its rules to its "
        "own `compare` route when the counts arrive (the server counts B while the browser draws the counts) and a "
        "share edit to `plan`, and draws the answers itself (`app/explore/panel_compare.py`: `compare_recipes` and "
        "`mixture.plan`, the token totals per group kept between share edits). Debian chromium + Playwright against "
        "`streamlit run`, the page opened as `/thresholds?recipe=current&compare=stricter` (B samples 300k); times "
        "from the Enter keydown to the animation frame that paints the new numbers, measured in the page; each "
        "change starts once the page has settled (the panel's edge documents drawn, Streamlit idle) plus 1 s, "
        "before and after alike." + (f" {note}" if note else "")
    )


if __name__ == "__main__":  # a workspace already built by bench_compare.py (recipes "current" and "stricter")
    import argparse
    import json
    import os

    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("changes", nargs="?", type=int, default=5)
    ap.add_argument("--before", help="this script's JSON for the code before a change")
    ap.add_argument("--readme", action="store_true", help="write the README section compare-browser")
    ap.add_argument("--after", help="write the README from this JSON (printed by an earlier run) instead of measuring")
    ap.add_argument("--note", default="", help="a sentence appended to the README section")
    args = ap.parse_args()
    if args.after:
        got = json.loads(Path(args.after).read_text())
    else:
        load0 = os.getloadavg()[0]
        got = measure(Path(args.workspace), changes=args.changes)
        got["load"] = [load0, os.getloadavg()[0]]  # 1-minute load average at the start and at the end
        print(json.dumps(got))
    if args.readme:
        from _readme import write_section

        before = json.loads(Path(args.before).read_text()) if args.before else None
        load = f"1-minute load average {got['load'][0]:.1f} → {got['load'][1]:.1f} over the run"
        if before and before.get("load"):
            load += f" (before: {before['load'][0]:.1f} → {before['load'][1]:.1f})"
        write_section("compare-browser", readme(got, before, load=load, note=args.note))
