"""Comparing two recipes and re-planning a token mixture at 1M documents (issue 19's speed targets: a recipe
comparison answers a threshold change within 500 ms p95; a mixture plan is recomputed within 300 ms).

A synthetic workspace of N documents (five sources, three languages, 40 map clusters, four signals; texts are
short: the comparison never reads them except for the flipped documents' snippets). Each repeat changes B's
threshold, so no two comparisons are alike:

- ``compare_recipes`` (one grouped pass over ``corpus_fast`` + the flipped-document sample and its snippets),
  rules only, and with B sampling (the compiled pipeline joined by id);
- the mixture plan as shares change: the per-group token totals of what the recipe keeps (one grouped query,
  recomputed when the recipe changes) plus :func:`app.recipes.mixture.plan`, and ``plan`` alone (a share
  change with the recipe unchanged reuses the totals).

In a real browser (Debian chromium driven by Playwright against ``streamlit run``, as ``tests/browser`` and
``bench/bench_ui.py`` do), with A and B saved in the workspace and the page opened as a reviewer's link
(``/thresholds?recipe=A&compare=B``), the compare panel and the mixture planner open:

- a threshold change: a new minimum typed into A's first rule and Enter, timed inside the browser from the
  keydown to the animation frame that paints the compare panel's new numbers (and the live panel's kept count);
- a share change in the mixture planner: a new share typed into the table and Enter, to the frame that paints
  the new plan.

    python bench/bench_compare.py [--docs 1000000] [--repeats 15] [--changes 20] [--no-browser] [--no-readme]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _readme import machine, md_table, write_section

from app.recipes import compile_recipe, load_recipe, save_recipe
from app.recipes.compare import compare_recipes
from app.recipes.mixture import Mixture, group_tokens, plan
from app.workspace import Workspace

A = {
    "version": 1,
    "rules": [
        {"signal": "size_words", "min": 50},
        {"signal": "quality_score", "min_quantile": 0.2},
        {"signal": "lang_code", "in": ["en", "de"]},
    ],
}


#: recipe B of the browser runs: stricter thresholds, and a seeded sample (the stage the SQL path was slow at)
B_SAVED = {
    "version": 1,
    "rules": [
        {"signal": "size_words", "min": 120},
        {"signal": "quality_score", "min_quantile": 0.3},
        {"signal": "lang_code", "in": ["en", "de"]},
    ],
    "sample": {"n": 300_000, "seed": 1},
}


def b_recipe(i: int, *, sample: bool) -> dict:
    r = {
        "version": 1,
        "rules": [
            {"signal": "size_words", "min": 40 + 7 * i},
            {"signal": "quality_score", "min_quantile": 0.1 + 0.02 * i},
            {"signal": "lang_code", "in": ["en", "de", "zh"]},
        ],
    }
    if sample:  # the seed stays: a threshold changes, the seeded order is computed once
        r["sample"] = {"n": 300_000, "seed": 1}
    return r


def pcts(xs: list[float]) -> tuple[float, float]:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return statistics.median(xs) * 1000, p95 * 1000


def build(path: Path, n: int) -> Workspace:
    ws = Workspace.open(path, create=True)
    c = ws.con
    c.execute(
        "CREATE TABLE docs__big AS SELECT 'd' || lpad(i::VARCHAR, 9, '0') AS id,"
        " (['wiki', 'instruct', 'web_article', 'social', 'code'])[1 + i % 5] AS source,"
        f" 'text of document ' || i AS text, md5(i::VARCHAR) AS text_hash FROM range({n}) t(i)"
    )
    c.execute("INSERT INTO sources VALUES ('big', 'docs__big', ?, 0, '{}', now())", [n])
    c.execute(
        "CREATE TABLE sig_big AS SELECT id, (hash(id) % 400)::INT AS size_words, random() AS quality_score,"
        " (['en', 'de', 'zh'])[1 + (hash(id || 'l') % 3)::INT] AS lang_code, (20 + hash(id || 't') % 800)::INT"
        " AS size_tokens, (hash(id || 'c') % 40)::INT AS map_cluster FROM docs__big"
    )
    ws.register_part("sig_big", kind="signal")
    return ws


def backend_rows(con, repeats: int) -> tuple[list[list[str]], float]:
    """In-process timings: compare_recipes (rules; with texts; B sampling) and the mixture plan."""
    rows = []
    compare_recipes(con, A, b_recipe(0, sample=False))  # warm: quantiles, column types, the frame
    t = time.perf_counter()
    compare_recipes(con, A, b_recipe(0, sample=True), flipped=20, snippets=False)  # the sample's seeded keys
    cold = (time.perf_counter() - t) * 1000
    cases = (
        ("compare (counts, flipped ids)", False, False),
        ("compare + 40 flipped texts", False, True),
        ("compare, B samples 300k (seeded)", True, False),
    )
    for k, (label, sample, snippets) in enumerate(cases):
        xs, flips, path = [], 0, ""
        for i in range(repeats):
            b = b_recipe(1 + i + k * repeats, sample=sample)  # never a threshold seen before
            t = time.perf_counter()
            res = compare_recipes(con, A, b, flipped=20, snippets=snippets)
            xs.append(time.perf_counter() - t)
            flips, path = res["counts"]["a_only"]["docs"] + res["counts"]["b_only"]["docs"], res["path"]
        p50, p95 = pcts(xs)
        rows.append([label, f"{p50:,.0f}", f"{p95:,.0f}", "500", f"{path} path, {flips:,} flipped (last run)"])
    comp = compile_recipe(con, A, relation="corpus_fast")
    mix_xs, plan_xs = [], []
    for i in range(repeats):
        w = 0.2 + 0.03 * (i % 10)
        rest = (1 - w) / 2
        mix = Mixture("source", 50_000_000, {"wiki": w, "instruct": rest, "web_article": rest}, 2.0)
        t = time.perf_counter()
        groups = group_tokens(
            con, "corpus_fast", "source", comp.token_sql, where_sql=comp.where_sql, params=comp.params
        )
        plan(mix, groups)
        mix_xs.append(time.perf_counter() - t)
        t = time.perf_counter()
        plan(mix, groups)
        plan_xs.append(time.perf_counter() - t)
    p50, p95 = pcts(mix_xs)
    rows.append(["mixture plan, totals recounted", f"{p50:,.0f}", f"{p95:,.0f}", "300", "3 groups"])
    p50, p95 = pcts(plan_xs)
    rows.append(["mixture plan, shares changed only", f"{p50:,.3f}", f"{p95:,.3f}", "300", ""])
    return rows, cold


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--changes", type=int, default=20, help="browser: threshold and share changes timed")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="winnow-bench-compare-"))
    try:
        t = time.perf_counter()
        ws = build(tmp / "ws", args.docs)
        print(f"built {args.docs:,} documents in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        rows, cold = backend_rows(ws.cursor(), args.repeats)
        save_recipe(ws, "current", load_recipe(A))
        save_recipe(ws, "stricter", load_recipe(B_SAVED))
        ws.close()
        browser = None
        if not args.no_browser:
            from bench_compare_browser import measure

            browser = measure(tmp / "ws", changes=args.changes)
            from bench_ui import measure_floor

            # for scale: what one rerun of a one-widget Streamlit fragment costs on this machine right now
            browser["floor_ms"] = measure_floor(tmp / "ws", changes=max(5, args.changes // 2))["count_ms"]
            for label, key, target in (
                ("browser: threshold change → compare panel painted", "compare_ms", "500"),
                ("browser: threshold change → kept count painted", "count_ms", ""),
                ("browser: share change → mixture plan painted", "mixture_ms", "300"),
                ("for scale: a one-widget Streamlit fragment's rerun", "floor_ms", ""),
            ):
                p50, p95 = pcts([x / 1000 for x in browser[key]] or [float("nan")])
                missed = browser.get("missed", {}).get(key, 0)
                note = f"{len(browser[key])} changes" + (f", {missed} not painted within 60 s" if missed else "")
                rows.append([label, f"{p50:,.0f}", f"{p95:,.0f}", target, note])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = md_table(["operation", "p50 ms", "p95 ms", "target ms", "note"], rows)
    body = (
        f"Recipe comparison and mixture planning at {args.docs:,} documents (`python bench/bench_compare.py`; "
        f"{args.repeats} runs each in-process, every run a threshold of B not seen before; {machine()}):\n\n"
        f"{table}\n\n"
        "Balancing and sampling run on the cached vectors: the sample's seeded keys are computed once per seed and "
        f"data version (the first comparison with this seed took {cold:,.0f} ms), then a threshold change costs a few "
        "numpy passes. The flipped texts are read by an `IN` list of ids after the counts are drawn."
    )
    if browser is not None:
        body += (
            " Browser rows: Debian chromium + Playwright against `streamlit run`, the page opened as "
            "`/thresholds?recipe=current&compare=stricter` (B samples 300k) with the compare panel and the planner "
            "open; times from the Enter keydown to the animation frame that paints the new numbers, measured in "
            "the page."
        )
    print(body)
    if not args.no_readme:
        write_section("compare", body)


if __name__ == "__main__":
    main()
