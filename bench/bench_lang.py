"""Language ID on realmix's labelled documents: py3langid as shipped vs Winnow's ``lang`` scorer (which maps
``yue``/``wuu`` without Cantonese/Wu characters to ``zh`` and ``pcm`` without Pidgin words to the next best
language), accuracy per source and label, and docs/s.

    .venv/bin/python bench/bench_lang.py [--write-readme]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._readme import machine, md_table, write_section

REALMIX = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "realmix" / "realmix.parquet"


def main() -> None:
    import duckdb

    from app.signals.lang import Lang, _py3langid_model, prepare

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realmix", type=Path, default=REALMIX)
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    q = f"SELECT source, lang, text FROM read_parquet('{args.realmix}') WHERE lang IS NOT NULL ORDER BY id"
    rows = duckdb.sql(q).fetchall()
    ident = _py3langid_model()
    t0 = time.perf_counter()
    raw = []
    for _, _, text in rows:
        t = prepare(text)
        code = ident.classify(t)[0] if t is not None else None
        raw.append(None if code == "zxx" else code)
    t_raw = time.perf_counter() - t0
    t0 = time.perf_counter()
    fixed = Lang().score_batch([r[2] for r in rows])["lang_code"]
    t_fixed = time.perf_counter() - t0
    groups: dict[tuple, list] = collections.defaultdict(lambda: [0, 0, 0, collections.Counter()])
    for (src, lab, _), a, b in zip(rows, raw, fixed, strict=True):
        for key in ((src, lab), ("all", "")):
            g = groups[key]
            g[0] += 1
            g[1] += a == lab
            g[2] += b == lab
            if b != lab:
                g[3][b] += 1
    table = []
    for (src, lab), (n, ra, fa, wrong) in sorted(groups.items(), key=lambda kv: kv[0] == ("all", "")):
        top = ", ".join(f"{c} {k}" for c, k in wrong.most_common(3))
        table.append([src, lab or "-", f"{n:,}", f"{ra / n:.4f}", f"{fa / n:.4f}", top or "-"])
    body = (
        f"Language ID (`bench/bench_lang.py`; {machine()}): realmix's {len(rows):,} documents with a language label. "
        f"The `lang` scorer ran at {len(rows) / t_fixed:,.0f} docs/s (py3langid alone {len(rows) / t_raw:,.0f}; one "
        "run each on a machine shared with other jobs, so not a speed comparison: the fixes re-rank only the "
        "documents tagged yue, wuu or pcm).\n\n"
        + md_table(["source", "label", "docs", "py3langid", "lang scorer", "most frequent errors left"], table)
    )
    print(body)
    if args.write_readme:
        write_section("lang", body)


if __name__ == "__main__":
    main()
