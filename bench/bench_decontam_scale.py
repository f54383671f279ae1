"""Decontamination at scale: index build time, index memory and matching rate for many documents and items.

The issue's target is 1M documents against benchmarks totalling 50k items in <= 10 minutes on 2 cores, with
memory bounded by the benchmark index. Items: the 5,000 Alpaca records of ``realmix/raw/alpaca_5000.json``
(instruction, input, output) plus generated variants of them (each variant replaces every 6th word of the
record's text with a word drawn from the records' vocabulary, a different draw per variant, so its n-grams
are mostly new) until ``--items`` items exist. Documents: realmix.parquet texts drawn with replacement
(seed 0) until ``--docs`` documents, matched in batches of 2,048 in one process, texts already in memory.

The index memory is the bytes of its arrays (:attr:`app.decontam.index.BenchIndex.nbytes`); the process's
peak RSS is shown too (it also holds the texts). ``python bench/bench_decontam_scale.py --docs 200000
--items 50000`` writes ``bench/out/decontam_scale.json`` and the README section ``decontam_scale``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402

REALMIX = ROOT.parent / "shared" / "corpora" / "realmix"
OUT = ROOT / "bench" / "out"
FIELDS = ("instruction", "input", "output")
TARGET_DOCS, TARGET_S = 1_000_000, 600


def items(count: int, *, seed: int = 0) -> list[dict]:
    """``count`` benchmark records: the Alpaca records, then perturbed variants of them (see module doc)."""
    recs = json.loads((REALMIX / "raw" / "alpaca_5000.json").read_text(encoding="utf-8"))
    recs = [{f: r.get(f, "") or "" for f in FIELDS} for r in recs]
    vocab = sorted({w for r in recs for f in FIELDS for w in r[f].split()})
    rng = random.Random(seed)
    out = list(recs[:count])
    v = 0
    while len(out) < count:
        v += 1
        for r in recs:
            if len(out) >= count:
                break
            new = {}
            for f in FIELDS:
                ws = r[f].split()
                new[f] = " ".join(rng.choice(vocab) if (i + v) % 6 == 0 else w for i, w in enumerate(ws))
            out.append(new)
    return out


def documents(count: int, *, min_chars: int = 0, seed: int = 0) -> list[str]:
    """``count`` realmix texts drawn with replacement; with ``min_chars``, each document joins drawn texts
    (one per paragraph) until it has at least that many characters (realmix texts are short on average)."""
    import duckdb

    texts = [r[0] or "" for r in duckdb.sql(f"SELECT text FROM '{REALMIX / 'realmix.parquet'}' ORDER BY id").fetchall()]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = [texts[rng.randrange(len(texts))]]
        while sum(len(x) for x in parts) < min_chars:
            parts.append(texts[rng.randrange(len(texts))])
        out.append("\n\n".join(parts))
    return out


def run(n_docs: int, n_items: int, *, min_chars: int = 0, n: int | None = None, workers: int = 1) -> dict:
    from app.decontam.index import DEFAULT_N, BenchIndex
    from app.decontam.parallel import match_batches
    from app.decontam.store import item_units

    n = n or DEFAULT_N
    recs = items(n_items)
    units = [(k, t) for k, rec in enumerate(recs) for _, t in item_units(rec, list(FIELDS))]
    t0 = time.perf_counter()
    index = BenchIndex.build(units, item_bench=[0] * len(recs), bench_names=["bench"], n=n)
    build_s = time.perf_counter() - t0
    texts = documents(n_docs, min_chars=min_chars)
    chars = sum(len(t) for t in texts)
    flagged = 0
    c0 = time.process_time()
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # earlier runs' workers are counted there too
    t0 = time.perf_counter()
    batches = ((None, texts[lo : lo + 2048]) for lo in range(0, len(texts), 2048))
    for _, m in match_batches(index, batches, workers=workers):
        flagged += int((m.hits > 0).sum())
    match_s = time.perf_counter() - t0
    cpu_s = time.process_time() - c0
    if workers > 1:  # the children's CPU time (they have exited, so RUSAGE_CHILDREN counts them)
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s += (k1.ru_utime - k0.ru_utime) + (k1.ru_stime - k0.ru_stime)
    # the machine is shared: project from CPU seconds (one core busy) as well as wall seconds
    rate = n_docs / match_s
    res = {
        "docs": n_docs, "workers": workers, "chars_per_doc": chars / max(n_docs, 1), "items": len(recs), "units": len(units), "n": n, "index": index.describe(),
        "build_s": build_s, "match_s": match_s, "docs_per_s": rate, "mb_per_s": chars / match_s / 1e6,
        "flagged": flagged, "projected_1m_s_1proc": TARGET_DOCS / rate, "projected_1m_s_2proc": TARGET_DOCS / rate / 2,
        "match_cpu_s": cpu_s, "cpu_docs_per_s": n_docs / cpu_s, "projected_1m_cpu_s": TARGET_DOCS * cpu_s / n_docs,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip
    print(json.dumps(res), flush=True)
    return res


HEADERS = ["docs", "chars/doc", "items", "n-grams", "build s", "index MB", "processes", "match s (wall)",
           "docs/s (wall)", "1M min (wall)", "docs per CPU s", "1M min (CPU / processes)", "peak RSS MB"]  # fmt: skip


def readme(doc: dict) -> None:
    rows = []
    for r in doc["results"]:
        ix = r["index"]
        w = r.get("workers", 1)
        rows.append([
            f"{r['docs']:,}", f"{r['chars_per_doc']:,.0f}", f"{r['items']:,}", f"{ix['ngrams']:,}",
            f"{r['build_s']:.1f}", f"{ix['bytes'] / 1e6:.0f}", w, f"{r['match_s']:.0f}", f"{r['docs_per_s']:,.0f}",
            f"{r['projected_1m_s_1proc'] / 60:.1f}", f"{r['cpu_docs_per_s']:,.0f}",
            f"{r['projected_1m_cpu_s'] / 60 / w:.1f}", f"{r['peak_rss_mb']:,.0f}",
        ])  # fmt: skip
    cmd = (
        f"python bench/bench_decontam_scale.py --docs {doc['results'][-1]['docs']} --items "
        f"{doc['results'][-1]['items']} --min-chars {' '.join(str(m) for m in doc['min_chars'])} "
        f"--workers {' '.join(str(w) for w in doc.get('workers', [1]))}"
    )
    intro = (
        "**Decontamination at scale**: benchmark items = the 5,000 Alpaca records plus generated variants (every "
        "6th word redrawn); documents = realmix texts drawn with replacement (with a minimum length: several "
        "joined as paragraphs); word 8-grams; batches of 2,048, texts in memory, matched in *processes* "
        "(`app.decontam.parallel`, what `winnow decontam run -j N` uses). *index MB*: the index arrays, what bounds "
        "memory (about 20 bytes per distinct (n-gram, item text) pair plus a 2-byte-per-n-gram bit filter, "
        "independent of the corpus; each process holds one copy). *1M min (wall)*: minutes for 1,000,000 such "
        "documents at the measured wall rate; the machine is shared with other jobs, so *docs per CPU s* (all "
        "processes' CPU time) and *1M min (CPU / processes)* (that CPU time spread over the processes, i.e. on "
        "otherwise idle cores) are shown too. Peak RSS (of the main process) includes the documents in memory."
    )
    body = "\n".join([intro, "", md_table(HEADERS, rows), "",
                      f"{doc['machine']}; load average {doc['load']:.2f}; {doc['when']}. `{cmd}`"])  # fmt: skip
    write_section("decontam_scale", body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument(
        "--min-chars",
        type=int,
        nargs="*",
        default=[0],
        help="documents of at least this many characters (one run per value)",
    )
    ap.add_argument("--workers", type=int, nargs="*", default=[1], help="matching processes (one run per value)")
    ap.add_argument("--no-readme", action="store_true")
    a = ap.parse_args(argv)
    if not (REALMIX / "realmix.parquet").exists():
        print(f"no corpus at {REALMIX}")
        return 1
    res = [run(a.docs, a.items, min_chars=m, workers=w) for m in a.min_chars for w in a.workers]
    doc = {
        "results": res,
        "machine": machine(),
        "load": os.getloadavg()[0],
        "when": time.strftime("%Y-%m-%d"),
        "min_chars": a.min_chars,
        "workers": a.workers,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "decontam_scale.json").write_text(json.dumps(doc, indent=1))
    if not a.no_readme:
        readme(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
