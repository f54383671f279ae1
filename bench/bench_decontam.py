"""Decontamination: Winnow's normalised word n-gram matcher against an exact 13-gram set-lookup baseline.

Benchmark: 200 Alpaca records (instruction, input, output; seed 0) from ``realmix/raw/alpaca_5000.json``.
Corpus: realmix.parquet (53,941 documents) where the 200 instruct documents that are these records are
replaced by four variants, 50 each: verbatim, re-wrapped at 40 columns, re-cased and re-punctuated, and
embedded in the middle of a Wikipedia document. Recall is per variant over those 200 documents; "other
flagged" counts documents outside them that a method flags (realmix may hold real near copies, so these
are not all errors: the count is shown, not judged).

- ``winnow n=N``: :class:`app.decontam.index.BenchIndex` (fields and their concatenation as units, a
  document flagged when one item reaches overlap 0.5; items under N words only as the whole document);
- ``exact 13-gram``: each record rendered as realmix does (fields joined by blank lines), split on
  whitespace, every 13-token window in a Python set; a document is flagged when any of its windows is in it.

Speed is documents per second of matching only (texts already in memory, one process), index build
excluded and shown separately. ``python bench/bench_decontam.py`` writes ``bench/out/decontam.json`` and
the README section ``decontam``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402

REALMIX = ROOT.parent / "shared" / "corpora" / "realmix"
OUT = ROOT / "bench" / "out"
VARIANTS = ("verbatim", "rewrapped", "recased", "embedded")
FIELDS = ("instruction", "input", "output")


def render(rec: dict) -> str:
    return "\n\n".join(rec[f].strip() for f in FIELDS if rec.get(f, "").strip())


def recase(s: str) -> str:
    s = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(s))
    return s.replace(",", " ").replace(".", " ;").replace("?", "?!").replace(":", " -")


def build() -> tuple[list[dict], list[str], dict[int, str]]:
    import duckdb

    recs = json.loads((REALMIX / "raw" / "alpaca_5000.json").read_text(encoding="utf-8"))
    rows = duckdb.sql(f"SELECT id, source, text FROM '{REALMIX / 'realmix.parquet'}' ORDER BY id").fetchall()
    texts = [r[2] or "" for r in rows]
    pos = {t: i for i, (_, s, t) in enumerate(rows) if s == "instruct"}
    wiki = [t for _, s, t in rows if s == "wiki" and len(t) > 1500]
    rng = random.Random(0)
    found = [r for r in recs if render(r) in pos]
    bench = rng.sample(found, 200)
    truth: dict[int, str] = {}
    for k, rec in enumerate(bench):
        i, kind = pos[render(rec)], VARIANTS[k % 4]
        t = texts[i]
        if kind == "rewrapped":
            t = textwrap.fill(t, width=40)
        elif kind == "recased":
            t = recase(t)
        elif kind == "embedded":
            w = wiki[k % len(wiki)]
            t = w[: len(w) // 2] + "\n" + t + "\n" + w[len(w) // 2 :]
        texts[i] = t
        truth[i] = kind
    return bench, texts, truth


class Exact13:
    """The baseline: exact whitespace-token 13-gram set lookup."""

    def __init__(self, bench: list[dict]) -> None:
        self.grams: set[tuple[str, ...]] = set()
        for rec in bench:
            toks = render(rec).split()
            self.grams.update(tuple(toks[i : i + 13]) for i in range(len(toks) - 12))

    def match(self, texts: list[str]) -> list[bool]:
        out = []
        for t in texts:
            toks = t.split()
            out.append(any(tuple(toks[i : i + 13]) in self.grams for i in range(len(toks) - 12)))
        return out


def measure(name: str, build_fn, texts: list[str], truth: dict[int, str]) -> dict:
    t0 = time.perf_counter()
    m = build_fn()
    t_build = time.perf_counter() - t0
    flagged: list[bool] = []
    t0 = time.perf_counter()
    for lo in range(0, len(texts), 2048):
        got = m.match(texts[lo : lo + 2048])
        flagged.extend(got if isinstance(got, list) else (got.hits > 0).tolist())
    secs = time.perf_counter() - t0
    rec = {
        v: sum(flagged[i] for i, k in truth.items() if k == v) / sum(1 for k in truth.values() if k == v)
        for v in VARIANTS
    }
    rec["all"] = sum(flagged[i] for i in truth) / len(truth)
    other = sum(f for i, f in enumerate(flagged) if f and i not in truth)
    res = {"method": name, "recall": rec, "other_flagged": other, "docs_per_s": len(texts) / secs, "build_s": t_build}
    if hasattr(m, "nbytes"):
        res["index_mb"] = m.nbytes / 1e6
    print(json.dumps(res), flush=True)
    return res


def main() -> int:
    from app.decontam.index import BenchIndex
    from app.decontam.store import item_units

    if not (REALMIX / "realmix.parquet").exists():
        print(f"no corpus at {REALMIX}")
        return 1
    bench, texts, truth = build()
    units = [(k, t) for k, rec in enumerate(bench) for _, t in item_units(rec, list(FIELDS))]

    def winnow(n: int):
        return lambda: BenchIndex.build(units, item_bench=[0] * len(bench), bench_names=["alpaca200"], n=n)

    results = [measure("exact 13-gram (baseline)", lambda: Exact13(bench), texts, truth)]
    for n in (5, 8, 13):
        results.append(measure(f"winnow n={n}", winnow(n), texts, truth))
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {"results": results, "docs": len(texts), "machine": machine(), "load": os.getloadavg()[0],
           "when": time.strftime("%Y-%m-%d")}  # fmt: skip
    (OUT / "decontam.json").write_text(json.dumps(doc, indent=1))
    readme(doc)
    return 0


def readme(doc: dict) -> None:
    rows = [
        [r["method"], *(f"{r['recall'][v]:.2f}" for v in (*VARIANTS, "all")), r["other_flagged"],
         f"{r['docs_per_s']:,.0f}", f"{r['build_s']:.2f}", f"{r['index_mb']:.1f}" if "index_mb" in r else "-"]
        for r in doc["results"]
    ]  # fmt: skip
    body = "\n".join([
        f"**Decontamination** (`winnow decontam`): 200 Alpaca records as the benchmark against realmix "
        f"({doc['docs']:,} documents) in which their 200 instruct documents appear verbatim, re-wrapped at 40 "
        "columns, re-cased and re-punctuated, or embedded mid-way in a Wikipedia article (50 each). Recall per "
        "variant; *other flagged*: documents outside the 200 that the method flags; docs/s: matching only, "
        "one process; build: index construction (s); index: memory of Winnow's index arrays (MB).",
        "",
        md_table(["method", *VARIANTS, "recall", "other flagged", "docs/s", "build s", "index MB"], rows),
        "",
        f"{doc['machine']}; load average {doc['load']:.2f}; {doc['when']}. `python bench/bench_decontam.py`",
    ])  # fmt: skip
    write_section("decontam", body)


if __name__ == "__main__":
    sys.exit(main())
