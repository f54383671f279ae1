"""Reliability under bad input and faults: every hostile kind and every kill stage, N trials each.

Each trial runs the real ``winnow`` command in a subprocess (the cases are the ones ``tests/test_faults.py``
runs, from ``tests/hostile.py`` and ``tests/faults.py``) and is judged against issue 11's contract:

- hostile input: a one-line ``winnow: error:`` that is not an internal error (exit 70), or a counted skip;
  under an address-space cap (RLIMIT_AS) and a time limit; the starting workspace unchanged;
- kill: ``ingest``/``score``/``embed``/``apply`` SIGKILLed after a seeded random delay; the workspace opens
  (``winnow info``), nothing visible is half-written, and a re-run equals an uninterrupted run (table
  digests, export sha256s).

A trial fails on any broken rule. "Documents lost" counts documents that were in the workspace before
(or rows of the input that vanished without being counted). Peak memory is the largest RSS of one
``winnow`` process over the trials (``os.wait4``'s ``ru_maxrss``). The table goes into README.md between
``<!-- reliability:start -->`` and ``<!-- reliability:end -->``.

    python bench/bench_reliability.py [--trials 5] [--kill-trials 10] [--docs 3000] [--seed 11] [--no-readme]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _readme import README, machine, md_table

from tests.hostile import CAP_RECIPE, CAP_WORKSPACE, CASES, TIMEOUT
from tests.kills import KillLab

START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"


def write_readme(body: str) -> None:
    """Replace the text between the reliability markers (added before ``## Dependencies`` if absent)."""
    text = README.read_text(encoding="utf-8")
    if START not in text:
        text = text.replace("## Dependencies", f"## Reliability\n\n{START}\n{END}\n\n## Dependencies", 1)
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    README.write_text(pattern.sub(lambda _m: f"{START}\n{body.strip()}\n{END}", text), encoding="utf-8")


def row(kind: str, results: list, seconds: float) -> list:
    failures = [r for r in results if r.problems or r.lost]
    for r in failures:
        print(f"  FAILED {kind}: lost {r.lost}; {r.problems}", flush=True)
    return [
        kind,
        len(results),
        len(failures),
        sum(r.lost for r in results),
        f"{max(r.peak_rss_mb for r in results):,.0f} MB",
        f"{seconds / len(results):.1f}",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5, help="trials per hostile-input kind")
    ap.add_argument("--kill-trials", type=int, default=10, help="kills per command")
    ap.add_argument("--docs", type=int, default=3000, help="documents in the kill corpus")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--only", nargs="*", help="run only kinds/stages containing one of these words")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    wanted = lambda k: not args.only or any(w in k for w in args.only)  # noqa: E731
    work = Path(tempfile.mkdtemp(prefix="winnow-reliability-"))
    rows = []
    try:
        for kind, case in CASES.items():
            if not wanted(kind):
                continue
            t0 = time.perf_counter()
            results = [case(work / f"{len(rows)}-{t}", args.seed + t) for t in range(args.trials)]
            rows.append(row(kind, results, time.perf_counter() - t0))
            print(rows[-1], flush=True)
        stages = [s for s in KillLab.STAGES if wanted(f"kill {s}")]
        if stages:
            lab = KillLab(work / "lab", n_docs=args.docs)
            for stage in stages:
                rnd = random.Random(f"{stage}:{args.seed}")
                t0 = time.perf_counter()
                results = []
                for t in range(args.kill_trials):
                    delay = rnd.uniform(0.3, max(0.6, lab.seconds[stage]))
                    results.append(lab.trial(stage, delay, work / f"kill-{stage}-{t}"))
                label = f"`{stage}` SIGKILLed at a random point ({sum(not r.finished_before_kill for r in results)} mid-run)"
                rows.append(row(label, results, time.perf_counter() - t0))
                print(rows[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = md_table(["kind", "trials", "failures", "documents lost", "peak memory", "s / trial"], rows)
    body = (
        f"**Reliability** (`python bench/bench_reliability.py --trials {args.trials} --kill-trials "
        f"{args.kill_trials} --docs {args.docs} --seed {args.seed}`; {machine()}). Every trial runs the real "
        f"`winnow` command. Bad input runs under an address-space cap ({CAP_WORKSPACE:,} MiB, {CAP_RECIPE:,} MiB "
        f"for `recipe validate`) and a {TIMEOUT:.0f} s limit, and passes only with a one-line error that is not "
        "an internal error (or a counted skip), the starting workspace unchanged. A killed command passes when "
        "`winnow info` opens the workspace, nothing visible is half-written, and a re-run equals an "
        f"uninterrupted run (table digests, export sha256s); the kill corpus has {args.docs:,} documents. "
        "Peak memory is the largest RSS of one `winnow` process.\n\n" + table
    )
    print(body)
    if not args.no_readme:
        write_readme(body)


if __name__ == "__main__":
    main()
