"""Dashboard latency in a real browser (Debian chromium + Playwright) against a real ``streamlit run``.

Builds (once, cached under ``data/bench_ui/``) a workspace of realmix replicated to about N documents
(default 1M; each copy gets its own id) with SQL-computed size signals (``size_chars``, ``size_words``,
``size_tokens``, ``gopher_mean_word_length``), realmix's own ``lang`` as ``lang_code``, exact-duplicate
clusters (the copies are exact duplicates of each other, as in a real crawl's repeats) and a synthetic
``quality_score`` and 2-D map (the real scorers and UMAP would take far longer than this bench's budget at
1M documents; the dashboard's queries do not care where a column came from). Then measures:

- first paint of every page (new browser session: time until the page's key element is visible);
- a threshold change on the Thresholds page: type a new minimum and press Enter, time until the kept-count
  metric shows the new number (``count``), and until the whole fragment (retention tables, per-rule table,
  overlap, histograms with the cut) has been redrawn (``all``).

    python bench/bench_ui.py [--docs 1000000] [--changes 20] [--no-readme] [--screenshots]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402

REALMIX = ROOT.parent / "shared" / "corpora" / "realmix" / "realmix.parquet"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
RULES = "range:size_words:5.0,;qrange:quality_score:0.1,;in:lang_code:en|zh;dedup:exact:"
#: the minimums the browser's edit loop types (:func:`threshold_loop`), in its order; the in-process loop uses them
#: too, so both count the same moves (large ones flip up to 45% of the documents and are counted in full)
EDIT_VALUES = [12, 20, 30, 45, 60, 80, 100, 150, 200, 8, 15, 25, 35, 50, 70, 90, 120, 170, 250, 6]


def build_workspace(path: Path, *, docs: int, parquet: Path = REALMIX) -> dict:
    """Realmix replicated to ~``docs`` documents with signal and map parts (see the module docstring)."""
    from app.sql import qi
    from app.workspace import Workspace, source_table

    t0 = time.perf_counter()
    if path.exists():
        shutil.rmtree(path)
    ws = Workspace.open(path, create=True)
    c = ws.con
    n_real = c.execute("SELECT count(*) FROM read_parquet(?)", [str(parquet)]).fetchone()[0]
    copies = max(1, math.ceil(docs / n_real))
    sources = [
        r[0] for r in c.execute("SELECT DISTINCT source FROM read_parquet(?) ORDER BY 1", [str(parquet)]).fetchall()
    ]
    with ws.deferred_views(), ws.transaction() as cur:
        for s in sources:
            t = source_table(s)
            # stored as `winnow ingest` stores shards: copy k is file `copy-k.parquet`, its rows in file and line
            # order with their `_file` and `_row` (the Thresholds panel finds edge texts by them)
            copy = (
                "SELECT CASE WHEN $k = 0 THEN id ELSE id || '~' || $k END AS id, source, text, md5(text) AS text_hash,"
                " lang, url, title, 'copy-' || $k || '.parquet' AS _file, file_row_number + 1 AS _row"
                " FROM read_parquet($p, file_row_number = true) WHERE source = $s"
            )
            for k in range(copies):  # one INSERT per copy: each keeps the file's order
                args = {"k": k, "p": str(parquet), "s": s}
                cur.execute(f"INSERT INTO {qi(t)} {copy}" if k else f"CREATE TABLE {qi(t)} AS {copy}", args)
            ws.register_source(s, con=cur, spec={"kind": "bench", "copies": copies})
        ws.rebuild_views(con=cur, force=True)
        cur.execute("""
            CREATE TABLE sig_bench AS
            SELECT id, length(text) AS size_chars, w AS size_words, CAST(round(w * 1.3) AS BIGINT) AS size_tokens,
                   round(length(text) / greatest(w, 1), 3) AS gopher_mean_word_length,
                   coalesce(lang, 'und') AS lang_code,
                   round(0.55 * u + 0.45 * least(ln(1 + w) / ln(2000), 1), 4) AS quality_score,
                   hash(text_hash) % 1000000007 AS dup_exact_cluster
            FROM (SELECT id, text, text_hash, lang, (hash(id) % 100000) / 100000.0 AS u,
                         length(string_split_regex(trim(text), '\\s+')) AS w FROM docs)""")
        cur.execute("""
            CREATE TABLE map_bench AS
            WITH s AS (SELECT id, source, dense_rank() OVER (ORDER BY source) AS si, hash(id) AS h FROM docs)
            SELECT id, si * 3 + (h % 3) AS map_cluster, source || ' · ' || (h % 3) AS map_cluster_label,
                   cos(si * 0.9 + (h % 3) * 0.3) * 6 + (CAST((h >> 8) % 1000 + (h >> 18) % 1000 + (h >> 28) % 1000 AS DOUBLE) - 1500) / 1000.0 * 1.6 AS map_x,
                   sin(si * 0.9 + (h % 3) * 0.3) * 6 + (CAST((h >> 38) % 1000 + (h >> 48) % 1000 + (h >> 10) % 997 AS DOUBLE) - 1500) / 1000.0 * 1.6 AS map_y
            FROM s""")
        ws.register_part("sig_bench", kind="signal", con=cur)
        ws.register_part("map_bench", kind="map", con=cur)
    n = ws.con.execute("SELECT count(*) FROM corpus_fast").fetchone()[0]
    ws.close()
    return {"documents": int(n), "copies": copies, "build_s": round(time.perf_counter() - t0, 1)}


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident set (``VmHWM``) of a live process, in MB (None where /proc does not say)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        return None
    return None


def tree_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a live process and its live descendants (None without /proc): the dashboard
    server's own work, every thread included (DuckDB's, the routes' thread pool), whatever the machine's load."""
    if pid is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            if p == pid:
                return None
    return total


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


def stat_row(label: str, xs: list[float]) -> list:
    """A README table row: ``label``, the median and p95 of ``xs`` (ms, rounded) and how many there are."""
    return [label, f"{statistics.median(xs):.0f}", f"{pct(xs, 95):.0f}", len(xs)]


KEY = {
    "workspace": '[data-testid="stMetric"]',
    "distributions": '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg',
    "thresholds": ".wl-mvalue",
    "map": '[data-testid="stPlotlyChart"] .js-plotly-plot, [data-testid="stVegaLiteChart"] canvas',
    "documents": '[data-testid="stDataFrame"]',
    "export": '[data-testid="stMetric"]',
}


FP_QUERY = f"r={RULES}&sig=size_words&by=lang_code&c=map_cluster_label&doc=rm-029196"


def measure(url: str, *, changes: int, shots: Path | None, paint: bool = True, pid: int | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {"first_paint_ms": {}, "count_ms": [], "all_ms": [], "server_ms": [], "summary_ms": [], "title_ms": {}}
    out.update(drag_paints=[], drag_seconds=[], release_ms=[], warm_ms={}, cold_ms={})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        # warm the server's caches once (a user's first visit, timed: the server builds the recipe frame, the
        # histograms and the counts here), then measure fresh sessions. Thresholds first, so its first load
        # pays for everything it needs, not helped by another page's queries.
        for page_name in sorted(KEY, key=lambda k: k != "thresholds") if paint else []:
            pg = browser.new_page()
            t = time.perf_counter()
            pg.goto(f"{url}/{'' if page_name == 'workspace' else page_name}?{FP_QUERY}")
            pg.locator(KEY[page_name]).first.wait_for(timeout=600_000)
            out["cold_ms"][page_name] = round((time.perf_counter() - t) * 1000)
            pg.close()
        for page_name, sel in [kv for _ in range(2) for kv in KEY.items()] if paint else []:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            pg = ctx.new_page()
            t = time.perf_counter()
            path = "" if page_name == "workspace" else page_name
            pg.goto(f"{url}/{path}?{FP_QUERY}")
            pg.locator("h1").first.wait_for(timeout=120_000)
            out["title_ms"].setdefault(page_name, []).append(round((time.perf_counter() - t) * 1000))
            pg.locator(sel).first.wait_for(timeout=120_000)
            out["first_paint_ms"].setdefault(page_name, []).append(round((time.perf_counter() - t) * 1000))
            if shots is not None:
                pg.wait_for_timeout(2500)
                shots.mkdir(parents=True, exist_ok=True)
                pg.screenshot(path=str(shots / f"{page_name}.png"), full_page=False)
            ctx.close()
        if paint:  # a returning user: a new tab in a browser that has loaded the dashboard before (HTTP cache)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            for page_name, sel in KEY.items():
                pg = ctx.new_page()
                pg.goto(f"{url}/{'' if page_name == 'workspace' else page_name}?{FP_QUERY}")
                pg.locator(sel).first.wait_for(timeout=120_000)
                pg.close()
            for page_name, sel in [kv for _ in range(2) for kv in KEY.items()]:
                pg = ctx.new_page()
                t = time.perf_counter()
                pg.goto(f"{url}/{'' if page_name == 'workspace' else page_name}?{FP_QUERY}")
                pg.locator(sel).first.wait_for(timeout=120_000)
                out["warm_ms"].setdefault(page_name, []).append(round((time.perf_counter() - t) * 1000))
                pg.close()
            ctx.close()
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.add_init_script(TIMING_JS)
        pg.goto(f"{url}/thresholds?r={RULES}")
        threshold_loop(pg, changes, out, pid=pid)
        drag_loop(pg, max(5, changes // 2), out)
        browser.close()
    return out


#: Installed in the page before it loads: timestamps taken inside the browser, from the Enter keydown to the
#: animation frame that paints the changed kept count (and the changed "update #" caption), so Playwright's own
#: round trips (actionability checks, polling, CDP) are not counted.
TIMING_JS = r"""
window.__w = null;
// the Thresholds panel's kept count and status line, or the one-widget floor app's metric and caption
const _metric = () => document.querySelector('.wl-mvalue[data-m=kept]') ||
  document.querySelector('[data-testid=stMetricValue]');
const _caption = () => document.querySelector('.wl-status') ||
  [...document.querySelectorAll('[data-testid=stCaptionContainer]')].find(x => x.textContent.startsWith('update #'));
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  const m = _metric(), c = _caption();
  const ed = document.querySelector('.wl-edge');
  window.__w = {enter: performance.now(), count: null, all: null, edge: null,
                countText: m && m.textContent, capText: c && c.textContent, edgeRun: ed && ed.dataset.run};
}, true);
new MutationObserver(() => {
  const w = window.__w;
  if (!w) return;
  if (w.count === null) { const m = _metric();
    if (m && m.textContent !== w.countText) { w.count = -1; requestAnimationFrame(() => { w.count = performance.now(); }); } }
  if (w.all === null) { const c = _caption();
    if (c && c.textContent !== w.capText) { w.all = -1; requestAnimationFrame(() => { w.all = performance.now(); }); } }
  // the documents at the edge of the cut, drawn after the counts (the panel sets data-run with its new text)
  if (w.edge === null && w.all !== null) { const ed = document.querySelector('.wl-edge');
    if (ed && ed.dataset.run !== w.edgeRun) { w.edge = -1; requestAnimationFrame(() => { w.edge = performance.now(); }); } }
  const d = window.__drag, m = _metric();
  if (d && m && m.textContent !== d.text) {
    d.text = m.textContent;
    requestAnimationFrame(() => { const t = performance.now(); d.paints.push(t); });
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
// a drag on a cut's histogram: when it starts and ends, and every frame that paints a new kept count
window.__drag = null;
document.addEventListener('pointerdown', (e) => {
  if (!e.target.closest('svg[data-drag]')) return;
  const m = _metric();
  window.__drag = {down: performance.now(), up: null, paints: [], text: m && m.textContent};
}, true);
document.addEventListener('pointerup', () => { if (window.__drag) window.__drag.up = performance.now(); }, true);
"""


def threshold_loop(pg, changes: int, out: dict, *, pid: int | None = None) -> None:
    """Type ``changes`` new minimums into the first number box; time the kept count and the whole fragment.
    The page must have been opened after ``pg.add_init_script(TIMING_JS)``. With the server's ``pid``, also its
    CPU per change (``server_cpu_ms``): from the end of the previous change (the reader's pause included, so
    nothing the server finishes late is missed) to this one's URL and edge documents."""
    # the page's first load builds the recipe frame when the server is fresh (--compare): ~2 min at 10M documents
    pg.locator(".wl-mvalue, [data-testid=stMetric]").first.wait_for(timeout=600_000)
    pg.get_by_text("update #").first.wait_for(timeout=120_000)
    pg.locator(".w-done").first.wait_for(state="attached", timeout=120_000)
    panel = pg.locator(".wl-mvalue").count() > 0
    box = pg.locator('.wl-rule input[data-f="lo"]' if panel else '[data-testid="stNumberInput"] input').first
    values = EDIT_VALUES  # never 5 (the page's start) twice
    for i in range(changes):
        v = values[i % len(values)] + (i // len(values))
        cpu0 = tree_cpu_s(pid)
        pg.wait_for_timeout(250)  # a reader's pause between two edits: the browser is idle when Enter is pressed
        run_before = pg.locator(".w-done").first.get_attribute("data-run")
        box.fill(str(v))
        box.press("Enter")
        pg.wait_for_function("() => window.__w && window.__w.count > 0 && window.__w.all > 0", timeout=60_000)
        w = pg.evaluate("window.__w")
        out["count_ms"].append(w["count"] - w["enter"])
        out["all_ms"].append(w["all"] - w["enter"])
        cap = pg.locator(".wl-status" if panel else '[data-testid="stCaptionContainer"]', has_text="update #")
        m = re.search(r"· (\d+) ms (?:in the app|on the server) \(summary query (\d+) ms\)", cap.first.inner_text())
        if m:
            out["server_ms"].append(float(m.group(1)))
            out["summary_ms"].append(float(m.group(2)))
        # let the rest of the update finish, as a reader would: the documents at the edge of the cut, and the
        # rules handed back to Streamlit (the URL)
        pg.wait_for_function(
            "([c]) => { const e = document.querySelector('.w-done'); return e && e.dataset.run !== c; }",
            arg=[run_before],
            timeout=60_000,
        )
        if panel:
            pg.wait_for_function(
                "([r]) => { const e = document.querySelector('.wl-edge'); return e && e.dataset.run === r; }",
                arg=[pg.locator(".w-done").first.get_attribute("data-run")],
                timeout=60_000,
            )
            pg.wait_for_function(
                "([v]) => decodeURIComponent(location.search).includes(`size_words:${v}.0`)", arg=[v], timeout=60_000
            )
            pg.wait_for_function("() => window.__w.edge > 0", timeout=60_000)
            out.setdefault("edge_ms", []).append(pg.evaluate("window.__w.edge - window.__w.enter"))
        cpu1 = tree_cpu_s(pid)
        if cpu0 is not None and cpu1 is not None:
            out.setdefault("server_cpu_ms", []).append(1000 * (cpu1 - cpu0))


def drag_loop(pg, drags: int, out: dict) -> None:
    """Drag the first rule's cut along its histogram ``drags`` times (12 pointer moves over ~0.5 s each):
    how many new kept counts are painted while the pointer moves, and the lag from release to the final one."""
    svg = pg.locator("svg[data-drag]").first
    svg.scroll_into_view_if_needed()
    for i in range(drags):
        pg.wait_for_timeout(250)
        bb = svg.bounding_box()
        a, b = (0.2, 0.8) if i % 2 == 0 else (0.8, 0.2)
        y = bb["y"] + bb["height"] / 2
        pg.mouse.move(bb["x"] + bb["width"] * a, y)
        pg.mouse.down()
        for k in range(1, 13):
            pg.mouse.move(bb["x"] + bb["width"] * (a + (b - a) * k / 12), y)
            pg.wait_for_timeout(40)
        pg.mouse.up()
        pg.wait_for_function(
            "() => window.__drag && window.__drag.up && document.querySelector('.wl').dataset.busy === '0'",
            timeout=60_000,
        )
        pg.wait_for_timeout(100)  # the last answer's frame
        d = pg.evaluate("window.__drag")
        during = [t for t in d["paints"] if t <= d["up"]]
        out["drag_paints"].append(len(during))
        out["drag_seconds"].append((d["up"] - d["down"]) / 1000)
        out["release_ms"].append(max(0.0, max(d["paints"], default=d["up"]) - d["up"]))


FLOOR_APP = """
import time
import streamlit as st

@st.fragment
def f():
    t0 = time.perf_counter()
    v = st.number_input("min", value=5.0, key="lo")
    st.metric("Kept documents", f"{int(v * 1000):,}")
    n = st.session_state["n"] = st.session_state.get("n", 0) + 1
    st.caption(f"update #{n} · {1000 * (time.perf_counter() - t0):.0f} ms in the app (summary query 0 ms)")
    st.markdown(f'<span class="w-done" data-run="{n}"></span>', unsafe_allow_html=True)

f()
"""


def measure_floor(ws: Path, *, changes: int) -> dict:
    """The same threshold loop against a one-widget Streamlit fragment: what Streamlit and the browser cost on
    this machine before Winnow does anything (the floor under the dashboard's own figures)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from app.launch import Server

    out: dict = {"count_ms": [], "all_ms": [], "server_ms": [], "summary_ms": []}
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "floor.py"
        script.write_text(FLOOR_APP)
        srv = Server(ws, timeout=120, script=script)
        with srv as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.add_init_script(TIMING_JS)
            pg.goto(url)
            threshold_loop(pg, changes, out, pid=srv.proc.pid)
            out["first_paint_ms"] = []
            for _ in range(3):  # Streamlit's own bootstrap in a new browser context: the floor under first paint
                ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = ctx.new_page()
                t = time.perf_counter()
                page.goto(url)
                page.locator('[data-testid="stMetric"]').first.wait_for(timeout=120_000)
                out["first_paint_ms"].append(round((time.perf_counter() - t) * 1000))
                ctx.close()
            browser.close()
    return out


SHOT_RULES = (
    "range:gopher_word_count:50.0,100000.0;range:gopher_mean_word_length:3.0,10.0;"
    "range:quality_score:0.2,;notin:lang_code:und;dedup:exact:"
)


def shoot(url: str, out: Path, *, rules: str, doc: str | None = None) -> None:
    """One PNG per page (1400x1000 viewport, kept under 300 KB by palette quantisation when needed)."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    q = f"r={rules}&sig=gopher_word_count&by=source&c=source&q=recipe"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for name, sel in KEY.items():
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            path = "" if name == "workspace" else name
            pg.goto(f"{url}/{path}?{q}")
            pg.locator(sel).first.wait_for(timeout=180_000)
            if name == "documents" and doc:
                pg.goto(f"{url}/{path}?{q}&doc={doc}")
                pg.locator(".w-doc").first.wait_for(timeout=60_000)
                pg.wait_for_timeout(1500)
                pg.locator(".w-doc").first.scroll_into_view_if_needed()
            if name == "map":  # cluster labels are data (c-TF-IDF terms of social posts): keep the README tidy
                pg.get_by_text("cluster labels").first.click()
                pg.wait_for_timeout(2000)
            if name == "thresholds":
                pg.locator(".w-done").first.wait_for(state="attached", timeout=120_000)
            pg.wait_for_timeout(3000)
            target = out / f"{name}.png"
            pg.screenshot(path=str(target))
            _shrink(target)
            print(f"{target}: {target.stat().st_size // 1024} KB", file=sys.stderr)
            pg.close()
        browser.close()


def _shrink(path: Path, limit: int = 300_000) -> None:
    if path.stat().st_size <= limit:
        return
    from PIL import Image

    img = Image.open(path).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    img.save(path, optimize=True)


def direct_summary_ms(ws: Path, n: int = 20) -> list[float]:
    """The recipes library's summary of :data:`RULES` at the browser loop's ``n`` thresholds, in-process (the
    floor: no routes, no mixture plan's summary between two changes, no Streamlit)."""
    from app.explore import recipe_bridge
    from app.explore.view_state import decode_rules
    from app.workspace import Workspace

    rules = decode_rules(RULES)
    out = []
    with Workspace.open(ws, read_only=True) as w:
        cur = w.cursor()
        recipe_bridge.summarize(cur, rules)  # warm the recipes library's frame cache, as the app does
        for i in range(n):
            rules[0].lo = float(EDIT_VALUES[i % len(EDIT_VALUES)] + i // len(EDIT_VALUES))
            t = time.perf_counter()
            recipe_bridge.summarize(cur, rules)
            out.append((time.perf_counter() - t) * 1000)
    from app.recipes.cache import CACHE

    CACHE.clear()  # the frame and vectors (GBs at 10M documents): the server holds its own copy while measured
    return out


def compare_runs(ws: Path, other_main: Path, *, changes: int, rounds: int = 2) -> list[dict]:
    """The edit loop against this code and against ``other_main`` (another checkout's Streamlit script),
    interleaved ``rounds`` times, so that both see the same machine."""
    from playwright.sync_api import sync_playwright

    from app.launch import Server

    out = []
    for r in range(rounds):
        for label, script in (("this code", None), (str(other_main), other_main)):
            res: dict = {"count_ms": [], "all_ms": [], "server_ms": [], "summary_ms": []}
            srv = Server(ws, timeout=120, script=script)
            with srv as url, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                pg = browser.new_page(viewport={"width": 1400, "height": 1000})
                pg.add_init_script(TIMING_JS)
                pg.goto(f"{url}/thresholds?r={RULES}")
                threshold_loop(pg, changes, res, pid=srv.proc.pid)
                browser.close()
            row = {"round": r + 1, "code": label, "load": round(os.getloadavg()[0], 1)}
            for k in ("count_ms", "all_ms", "server_ms", "server_cpu_ms"):
                xs = res.get(k)
                row[k] = (round(statistics.median(xs)), round(pct(xs, 95))) if xs else None
            print(json.dumps(row), file=sys.stderr)
            out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached workspace")
    ap.add_argument("--screenshots", action="store_true", help="save a screenshot of each page to docs/screenshots")
    ap.add_argument("--shoot", metavar="WS", help="only save screenshots of workspace WS (e.g. realmix scored)")
    ap.add_argument("--rules", default=SHOT_RULES, help="rules (URL encoding) for --shoot")
    ap.add_argument("--doc", help="document id to open on the Documents page for --shoot")
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument(
        "--compare",
        metavar="MAIN_PY",
        help="also time the edit loop against another checkout's app/ui/main.py (e.g. a git worktree of an older "
        "commit), interleaved with this code's, and print both",
    )
    ap.add_argument("--compare-label", help="how the README names the --compare checkout (e.g. a commit)")
    ap.add_argument(
        "--workspace",
        help="the bench workspace's folder (default data/bench_ui/ws_DOCS); one not built here needs a"
        ' bench_meta.json: {"documents": N, "caption": "what it holds"}',
    )
    ap.add_argument("--no-paint", action="store_true", help="skip the first-paint pages (implies --no-readme)")
    ap.add_argument("--edit-rules", help="the rules (URL encoding) the edit loop starts from (default: RULES)")
    ap.add_argument("--readme-key", default="ui", help="the README section written (bench:KEY; default ui)")
    args = ap.parse_args()
    if args.edit_rules:
        globals()["RULES"] = args.edit_rules  # read by the edit loop and the README caption
    from app.launch import Server

    if args.shoot:
        with Server(args.shoot, timeout=120) as url:
            shoot(url, ROOT / "docs" / "screenshots", rules=args.rules, doc=args.doc)
        return
    if not REALMIX.exists():
        sys.exit(f"bench_ui: {REALMIX} is absent")

    ws = Path(args.workspace) if args.workspace else ROOT / "data" / "bench_ui" / f"ws_{args.docs}"
    meta_file = ws / "bench_meta.json"
    if args.rebuild or not meta_file.exists():
        print(f"building {ws} ...", file=sys.stderr)
        meta = build_workspace(ws, docs=args.docs)
        meta_file.write_text(json.dumps(meta))
    meta = json.loads(meta_file.read_text())
    print(f"workspace: {meta}", file=sys.stderr)
    shots = ROOT / "docs" / "screenshots" if args.screenshots else None
    direct = direct_summary_ms(ws)
    load0 = os.getloadavg()[0]
    srv = Server(ws, timeout=120)
    with srv as url:
        res = measure(url, changes=args.changes, shots=shots, paint=not args.no_paint, pid=srv.proc.pid)
        res["server_peak_rss_mb"] = peak_rss_mb(srv.proc.pid)
    floor = measure_floor(ws, changes=args.changes)
    compare = compare_runs(ws, Path(args.compare), changes=args.changes) if args.compare else None
    load = max(load0, os.getloadavg()[0])
    rows = [
        stat_row(
            "threshold change → kept count shown",
            res["count_ms"],
        ),
        stat_row(
            "threshold change → whole panel redrawn (retention, per-rule table, overlap, histograms)",
            res["all_ms"],
        ),
    ]
    if res.get("edge_ms"):
        xs = res["edge_ms"]
        rows.append(
            stat_row(
                "threshold change → the documents at the edge of the cut shown (a second POST, reads texts)",
                xs,
            )
        )
    if res["server_ms"]:
        for label, key in (
            ("… of which the server's answer (`/winnow/api/summary`, from the panel's status line)", "server_ms"),
            ("… of which `app.recipes.summarize`", "summary_ms"),
        ):
            xs = res[key]
            rows.append(stat_row(label, xs))
    if res.get("server_cpu_ms"):
        xs = res["server_cpu_ms"]
        rows.append(
            stat_row(
                "the dashboard server's CPU per threshold change (user + system, every thread: the three requests, the"
                " Streamlit rerun that takes the rules back)",
                xs,
            )
        )
    if res["release_ms"]:
        rate = [p / s for p, s in zip(res["drag_paints"], res["drag_seconds"])]
        rows.append(
            [
                "drag a cut along its histogram (12 moves over ~0.5 s) → new kept counts painted per second of drag",
                f"{statistics.median(rate):.1f} /s",
                f"{min(rate):.1f} /s (min)",
                len(rate),
            ]
        )
        rows.append(
            stat_row(
                "… release → the final count shown",
                res["release_ms"],
            )
        )
    rows.append(
        stat_row(
            "for scale: the same edit on a one-widget Streamlit fragment (one rerun) → number shown",
            floor["count_ms"],
        )
    )
    if floor.get("server_cpu_ms"):
        xs = floor["server_cpu_ms"]
        rows.append(
            stat_row(
                "… its server's CPU per edit (user + system)",
                xs,
            )
        )
    rows.append(
        [
            "floor: first paint of that one-widget Streamlit page (new browser context)",
            f"{statistics.median(floor['first_paint_ms']):.0f}",
            f"{max(floor['first_paint_ms']):.0f} (max)",
            len(floor["first_paint_ms"]),
        ]
    )
    rows.append(
        stat_row(
            "`app.recipes.summarize` alone, in a Python loop (same rules, the edit loop's 20 thresholds)",
            direct,
        )
    )
    for k, ms in res["cold_ms"].items():
        rows.append([f"page {k}: first visit after the server starts (cold caches) → key content drawn", ms, "", 1])
    for k, xs in res["first_paint_ms"].items():
        ts = res["title_ms"][k]
        rows.append(
            [
                f"page {k}: title drawn / key content drawn (new session, warm server)",
                f"{statistics.median(ts):.0f} / {statistics.median(xs):.0f}",
                f"{max(ts):.0f} / {max(xs):.0f} (max)",
                len(xs),
            ]
        )
    for k, xs in res["warm_ms"].items():
        rows.append(
            [
                f"page {k}: key content drawn in a new tab of a browser that has loaded the dashboard before",
                f"{statistics.median(xs):.0f}",
                f"{max(xs):.0f} (max)",
                len(xs),
            ]
        )
    table = md_table(["measure", "p50 ms", "p95 ms", "n"], rows)
    rss = res.get("server_peak_rss_mb")
    cmd = f"python bench/bench_ui.py --docs {args.docs}" + (
        f" --workspace WS --readme-key {args.readme_key}" if args.readme_key != "ui" else ""
    )
    body = (
        f"**Dashboard in a real browser** (headless Debian chromium via Playwright, real `streamlit run`; "
        f"{meta['documents']:,} documents = "
        + (meta.get("caption") or f"realmix × {meta['copies']} with SQL size signals and synthetic quality/map columns")
        + f"; rules `{RULES}`; {machine()}, shared with other work: load average "
        f"{load:.1f} during the run; the dashboard server's peak RSS "
        f"{'—' if rss is None else f'{rss:,} MB'}).\n\n{table}\n\n"
        "A threshold change is typed into the first rule's number box after a 250 ms pause (the browser is idle, "
        "as when a person edits). Times are taken inside the page, from the Enter keydown event to the animation "
        "frame that paints the new kept count; the Thresholds panel draws counts, retention, the per-rule table, "
        "overlap and histograms in that same frame (*whole panel*), then fetches the documents at the edge of the "
        "cut and hands its rules back to Streamlit (the URL), which the loop waits for before the next edit. A "
        "change is three POSTs to the dashboard's own routes, one after the other (the counts; recipe B and the "
        "mixture plan, which the page registers by source unless told otherwise; the edge documents) and one small "
        "rerun of the panel's Streamlit fragment that takes the rules back; the one-widget row times what a "
        "Streamlit rerun alone costs on this machine, for scale. *Server CPU*: user + system time of the dashboard's "
        "processes per change, from the end of the previous change (the reader's pause included, so nothing "
        "finished late is missed). Key content: the first metric (Workspace, "
        "Export), the kept count (Thresholds), the first chart (Distributions, Map: a 200×200 density view at this "
        "size) or the table (Documents); a new browser context each time, so the browser compiles Streamlit's "
        "JavaScript (and plotly's or Vega's) from scratch. The `summarize` row is the same call in a plain Python "
        "loop before the server starts, at the edit loop's thresholds (no browser, no Streamlit). *First visit*: each page once, Thresholds "
        "first, right after the server starts (it builds the recipe frame, histograms and counts then).\n\n"
        f"`{cmd}`"
    )
    if compare:
        crow = [
            [
                c["round"],
                "this code" if c["code"] == "this code" else f"`{args.compare_label or c['code']}`",
                *(
                    f"{c[k][0]} / {c[k][1]}" if c.get(k) else "—"
                    for k in ("count_ms", "all_ms", "server_ms", "server_cpu_ms")
                ),
                c["load"],
            ]
            for c in compare
        ]
        ctab = md_table(
            ["round", "code", "kept count shown", "whole update", "server", "server CPU per change", "load avg"], crow
        )
        body += (
            "\n\n**Before and after, interleaved on the same machine** (the same edit loop, p50 / p95 ms, "
            f"{args.changes} edits per run; the server's CPU per change as above; `--compare OTHER/app/ui/server.py`, "
            f"OTHER a git worktree of the older commit):\n\n{ctab}"
        )
    print(body)
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    (ROOT / "bench" / "out" / f"bench_{args.readme_key}.json").write_text(
        json.dumps({"meta": meta, **res, "floor": floor, "compare": compare}, indent=1)
    )
    if not (args.no_readme or args.no_paint):
        write_section(args.readme_key, body)


if __name__ == "__main__":
    main()
