"""The Thresholds panel's server work per threshold change, in CPU seconds, without a browser or Streamlit.

A threshold change in the browser posts three requests to the dashboard's own routes, one after the other
(``app/ui/live/thresholds.js``): ``summary`` (the counts), ``compare`` (recipe B and the mixture plan; the page
registers a plan grouped by ``source`` by default, so this runs on every change) and ``edge`` (the documents at
the cut). This script registers a panel token and that default context the way the page does and answers the
same three requests for the bench's edit loop (the same thresholds, in the same order, as
``bench/bench_ui.py``'s browser loop), timing each request's CPU (``time.process_time``: every thread of this
process, DuckDB's included) and wall time. ``--profile FILE`` also writes a cProfile of the loop, timed in CPU
seconds of the process (so a loaded machine's waits do not count); ``--each`` prints every change's CPU and wall
ms per request. A check's first move builds its drag index in a thread (:func:`app.recipes.live_drag.background`),
whose CPU counts in the requests that run meanwhile: ``--pause S`` waits S seconds between changes (a person's
pause), ``--foreground`` answers as before that thread existed (the first move waits for the build), to compare.

    python bench/profile_panel.py --workspace WS [--changes 20] [--profile out.prof] [--each] [--pause 0.3]

It prints one JSON line per request kind: p50 / p95 / sum of CPU and wall ms over the loop (after one warm-up
change, as the page's first load warms the caches).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_ui import EDIT_VALUES as VALUES  # noqa: E402  (the browser loop's minimums, in its order)
from bench_ui import RULES  # noqa: E402


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, -(-len(xs) * p // 100) - 1))]


def run(
    ws_path: Path,
    *,
    changes: int,
    rules: str,
    compare: bool,
    edge: bool,
    prof: cProfile.Profile | None,
    each: bool = False,
    pause: float = 0.0,
    foreground: bool = False,
) -> dict:
    """Answer the panel's requests for ``changes`` threshold changes; CPU and wall ms per request kind."""
    from app.explore import panel_api, panel_compare
    from app.explore.view_state import decode_rules
    from app.ui import db
    from app.workspace import Workspace

    rs = decode_rules(rules)
    answer = panel_api._handle if foreground else panel_api.handle
    out: dict[str, dict[str, list[float]]] = {}
    with Workspace.open(ws_path, read_only=True) as ws:
        token = panel_api.register(ws)
        # what app.ui.compare.register_context registers when no widget was touched: a plan by source
        mix = {"by": "source", "tokens": 1_000_000, "max_epochs": 2.0, "tokens_column": None}
        ctx = panel_compare.Context(version=db.data_version(ws), mix=mix if compare else None)
        panel_compare.set_context(token, ctx, alive=panel_api.alive())
        kinds = ["summary", *(["compare"] if compare else []), *(["edge"] if edge else [])]
        for i in range(changes + 1):
            rs[0].lo = float(5 if i == 0 else VALUES[(i - 1) % len(VALUES)] + (i - 1) // len(VALUES))
            body = {"token": token, "rules": [panel_api.rule_to_json(r) for r in rs], "uid": rs[0].uid}
            for kind in kinds:
                if prof is not None and i > 0:
                    prof.enable()
                c0, w0 = time.process_time(), time.perf_counter()
                answer(kind, body)
                c1, w1 = time.process_time(), time.perf_counter()
                if prof is not None:
                    prof.disable()
                if i > 0:  # change 0 is the page's first load (frame, vectors, group codes built)
                    d = out.setdefault(kind, {"cpu": [], "wall": []})
                    d["cpu"].append(1000 * (c1 - c0))
                    d["wall"].append(1000 * (w1 - w0))
            if each and i > 0:
                cpu = {k: round(out[k]["cpu"][-1]) for k in kinds}
                wall = {k: round(out[k]["wall"][-1]) for k in kinds}
                print(json.dumps({"change": i, "min": rs[0].lo, "cpu_ms": cpu, "wall_ms": wall}), file=sys.stderr)
            time.sleep(pause)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--rules", default=RULES)
    ap.add_argument("--no-compare", action="store_true", help="no mixture plan registered (no compare request)")
    ap.add_argument("--no-edge", action="store_true")
    ap.add_argument("--profile", help="write a cProfile (CPU seconds) of the timed changes here")
    ap.add_argument("--each", action="store_true", help="print each change's CPU and wall ms per request (stderr)")
    ap.add_argument("--pause", type=float, default=0.0, help="seconds between changes (default 0)")
    ap.add_argument("--foreground", action="store_true", help="a first move waits for its drag index (as before)")
    args = ap.parse_args()
    prof = cProfile.Profile(time.process_time) if args.profile else None
    res = run(
        Path(args.workspace),
        changes=args.changes,
        rules=args.rules,
        compare=not args.no_compare,
        edge=not args.no_edge,
        prof=prof,
        each=args.each,
        pause=args.pause,
        foreground=args.foreground,
    )
    total = [sum(x) for x in zip(*(d["cpu"] for d in res.values()), strict=True)]
    for kind, d in [*res.items(), ("all", {"cpu": total, "wall": total})]:
        row = {"request": kind}
        for m in ("cpu", "wall") if kind != "all" else ("cpu",):
            xs = d[m]
            row[m] = {"p50": round(statistics.median(xs)), "p95": round(_pct(xs, 95)), "sum": round(sum(xs))}
        print(json.dumps(row))
    if prof is not None:
        prof.dump_stats(args.profile)


if __name__ == "__main__":
    main()
