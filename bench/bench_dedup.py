"""Near-duplicate recall and precision on generated edits of realmix, side by side with DataTrove's MinHash.

Originals: realmix documents with >= 50 words (English wiki, instructions, web pages) and Chinese reviews with
>= 100 characters. Each original gets one copy with ``--edit`` (3%) of its words replaced by random corpus words
at scattered positions (characters for Chinese), and one copy with ``--far`` (12%) replaced (true Jaccard mostly
0.3-0.5: these should not be merged at a threshold of 0.5 or more). Everything is clustered together with all
53,941 realmix documents as background, exactly as ``winnow score --signals dedup_near`` clusters a workspace.

Reported per configuration: recall (edited copies in their original's cluster), the fraction of far copies merged,
merged documents whose exact shingle Jaccard with their representative is below 0.5, the pairs verified exactly
(estimate near the threshold) among the candidates and the texts read for it, and the clustering time.
DataTrove 0.10.1's MinhashDedupSignature (5-grams, 14 buckets x 8 hashes, its own tokenizer and text
normalisation, no verification) is measured on the same pairs: a pair is found when a bucket's hashes are equal.

    .venv/bin/python bench/bench_dedup.py [--n 2000] [--write-readme]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._readme import machine, md_table, write_section

REALMIX = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "realmix" / "realmix.parquet"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8)


def load(path: Path) -> list[tuple[str, str, str]]:
    """(id, source, text) of every realmix document."""
    import duckdb

    return duckdb.sql(f"SELECT id, source, text FROM read_parquet('{path}') ORDER BY id").fetchall()


def edit_text(text: str, frac: float, rnd: random.Random, vocab: list[str], zh_vocab: str) -> str:
    """``text`` with ``frac`` of its words (of its characters for Chinese) replaced at random positions."""
    from app.signals._unspaced import UNSPACED

    if UNSPACED.search(text) and len(text.split()) < len(text) / 10:
        chars = list(text)
        pos = [i for i, c in enumerate(chars) if UNSPACED.match(c)]
        for i in rnd.sample(pos, max(1, round(frac * len(pos)))):
            chars[i] = rnd.choice(zh_vocab)
        return "".join(chars)
    ws = text.split(" ")
    for i in rnd.sample(range(len(ws)), max(1, round(frac * len(ws)))):
        ws[i] = rnd.choice(vocab)
    return " ".join(ws)


def make_pairs(rows: list[tuple[str, str, str]], *, n: int, edit: float, far: float, seed: int) -> dict:
    """Originals (half English-like, half Chinese when available) with one near and one far copy each."""
    rnd = random.Random(seed)
    latin = [r for r in rows if r[1] != "zh_reviews" and len(r[2].split()) >= 50]
    zh = [r for r in rows if r[1] == "zh_reviews" and len(r[2]) >= 100]
    picks = rnd.sample(latin, min(len(latin), n - n // 4)) + rnd.sample(zh, min(len(zh), n // 4))
    vocab = [w for r in rnd.sample(latin, min(500, len(latin))) for w in r[2].split()]
    zh_vocab = "".join(r[2] for r in rnd.sample(zh, min(200, len(zh))))
    near = {f"near-{r[0]}": edit_text(r[2], edit, rnd, vocab, zh_vocab) for r in picks}
    farc = {f"far-{r[0]}": edit_text(r[2], far, rnd, vocab, zh_vocab) for r in picks}
    return {
        "originals": {r[0]: r[2] for r in picks},
        "zh": {r[0] for r in picks if r[1] == "zh_reviews"},
        "near": near,
        "far": farc,
    }


def signatures_of(texts: dict[str, str]) -> tuple[list, float]:
    """Every text's signature BLOB in batches of 4,096 (as the scorer computes them), and the seconds it took."""
    from app.signals.dedup_near import signature_blobs

    ids = list(texts)
    t0, c0 = time.perf_counter(), time.process_time()
    blobs: list = []
    for a in range(0, len(ids), 4096):
        blobs += signature_blobs([texts[i] for i in ids[a : a + 4096]])
    return blobs, (time.perf_counter() - t0, time.process_time() - c0)


def cluster_all(
    texts: dict[str, str], threshold: float, blobs: list | None = None, stats: dict | None = None
) -> tuple[dict[str, str], tuple[float, float]]:
    """id -> cluster representative, as the scorer clusters a workspace (pairs near the threshold verified with
    their exact Jaccard, texts fetched by id), and the seconds clustering took (wall, CPU of every thread: less
    sensitive to other jobs on the machine); ``blobs``: the signatures if computed; ``stats`` gets the counts of
    candidate pairs, pairs verified exactly and texts read."""
    import duckdb
    import pyarrow as pa

    from app.signals.dedup_near import cluster, texts_by_id

    ids = list(texts)
    if blobs is None:
        blobs, _ = signatures_of(texts)
    con = duckdb.connect()
    con.register("_t", pa.table({"id": ids, "sig": pa.array(blobs, pa.binary()), "text": list(texts.values())}))
    con.execute("CREATE TABLE rows AS SELECT * FROM _t")
    t0, c0 = time.perf_counter(), time.process_time()
    cluster(
        con,
        rows_sql="SELECT id, sig FROM rows",
        dest="out",
        threshold=threshold,
        texts=texts_by_id("rows"),
        stats=stats,
    )
    sec = (time.perf_counter() - t0, time.process_time() - c0)
    rep = dict(con.execute("SELECT id, dup_near_cluster FROM out").fetchall())
    return rep, sec


def exact_jaccard(a: str, b: str) -> float:
    from app.signals.dedup_near import shingle_set

    sa, sb = shingle_set(a), shingle_set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def measure_ours(texts: dict[str, str], pairs: dict, threshold: float, blobs: list | None = None) -> dict:
    stats: dict = {}
    rep, sec = cluster_all(texts, threshold, blobs, stats)
    origs = pairs["originals"]
    found = {o: rep[o] == rep[f"near-{o}"] for o in origs}
    far_merged = [o for o in origs if rep[o] == rep[f"far-{o}"]]
    low = 0
    merged = [i for i, r in rep.items() if r != i]
    for i in merged:
        if exact_jaccard(texts[i], texts[rep[i]]) < 0.5:
            low += 1
    zh = pairs["zh"]
    return {
        "recall": sum(found.values()) / len(found),
        "recall_zh": sum(found[o] for o in zh) / max(1, len(zh)),
        "recall_latin": sum(found[o] for o in origs if o not in zh) / max(1, len(origs) - len(zh)),
        "far_merged": len(far_merged) / len(origs),
        "far_merged_below_05": sum(1 for o in far_merged if exact_jaccard(origs[o], texts[f"far-{o}"]) < 0.5),
        "merged_docs": len(merged),
        "merged_below_05": low,
        "cluster_s": sec[0],
        "cluster_cpu_s": sec[1],
        **stats,
    }


def measure_datatrove(pairs: dict) -> dict | None:
    """DataTrove's own signatures on the same pairs: found = some bucket's hashes equal (14 x 8, 5-grams)."""
    try:
        from datatrove.pipeline.dedup.minhash import MinhashDedupSignature
    except ImportError:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        import xxhash

        step = MinhashDedupSignature(output_folder=d)
        # DataTrove 0.10.1 passes str to xxhash, which xxhash >= 3 rejects: hash the UTF-8 bytes, as older
        # xxhash did implicitly
        step._hash_func = lambda s: xxhash.xxh64_intdigest(s.encode("utf-8"))

        def sig(t: str):
            return step.get_signature(step.get_shingles(t))

        def hit(a: str, b: str) -> bool:
            if not step.get_shingles(a).size or not step.get_shingles(b).size:
                return False
            sa, sb = sig(a), sig(b)
            return any(x == y for x, y in zip(sa, sb))

        origs = pairs["originals"]
        found = {o: hit(t, pairs["near"][f"near-{o}"]) for o, t in origs.items()}
        far = {o: hit(t, pairs["far"][f"far-{o}"]) for o, t in origs.items()}
    zh = pairs["zh"]
    return {
        "recall": sum(found.values()) / len(found),
        "recall_zh": sum(found[o] for o in zh) / max(1, len(zh)),
        "recall_latin": sum(found[o] for o in origs if o not in zh) / max(1, len(origs) - len(zh)),
        "far_merged": sum(far.values()) / len(far),
    }


def _load() -> str:
    """The 1-minute load average (the README says how busy the machine was), or "?"."""
    import os

    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--realmix", type=Path, default=REALMIX)
    ap.add_argument("--n", type=int, default=2000, help="originals (default 2000)")
    ap.add_argument("--edit", type=float, default=0.03)
    ap.add_argument("--far", type=float, default=0.12)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--write-readme", action="store_true")
    args = ap.parse_args()
    rows = load(args.realmix)
    pairs = make_pairs(rows, n=args.n, edit=args.edit, far=args.far, seed=args.seed)
    texts = {r[0]: r[2] for r in rows} | pairs["near"] | pairs["far"]
    blobs, (sig_s, sig_cpu) = signatures_of(texts)
    print(f"signatures: {len(texts):,} texts in {sig_s:.1f} s, CPU {sig_cpu:.1f} s", flush=True)
    res = {}
    for t in THRESHOLDS:
        res[f"winnow t={t:g}"] = measure_ours(texts, pairs, t, blobs)
        print(f"t={t:g}", json.dumps(res[f"winnow t={t:g}"]), flush=True)
    dt = measure_datatrove(pairs)
    if dt:
        res["DataTrove 14x8 (no verification)"] = dt
    print(json.dumps(res, indent=1))
    if args.write_readme:
        from app.signals import _lsh
        from app.signals.dedup_near import NUM_PERM

        table = []
        for name, r in res.items():
            t = name.split("=")[1] if "=" in name else None
            band = "{bands} x {rows}".format(**_lsh.s_curve(float(t), NUM_PERM)) if t else "14 x 8"
            table.append(
                [
                    name,
                    band,
                    f"{r['recall']:.3f}",
                    f"{r['recall_latin']:.3f}",
                    f"{r['recall_zh']:.3f}",
                    f"{r['far_merged']:.3f}",
                    r.get("merged_below_05", "-"),
                    f"{r['verified_pairs']:,} / {r['candidate_pairs']:,} ({r['texts_read']:,})"
                    if "cluster_s" in r
                    else "-",
                    f"{r['cluster_s']:.1f} / {r['cluster_cpu_s']:.1f}" if "cluster_s" in r else "-",
                ]
            )
        n = len(pairs["originals"])
        body = (
            f"Near duplicates (`bench/bench_dedup.py --n {args.n}`; {machine()}): {n} realmix originals "
            f"({len(pairs['zh'])} Chinese reviews), each with a copy where {args.edit:.0%} of the words (characters "
            f"for Chinese) were replaced at random and a copy with {args.far:.0%} replaced, clustered together "
            f"with all {len(rows):,} realmix documents. Recall: near copies in their original's cluster; far merged: "
            "12% copies in their original's cluster; < 0.5: merged documents whose exact shingle Jaccard with their "
            "representative is below 0.5. Verified: candidate pairs (and member-representative pairs) whose "
            "estimate was within 3 standard deviations of the threshold, decided by their exact shingle Jaccard "
            "(texts read by id). DataTrove: its own MinhashDedupSignature on the same pairs. "
            f"MinHash signatures of all {len(texts):,} texts in one process: {sig_s:.1f} s wall, {sig_cpu:.1f} s CPU "
            f"({len(texts) / sig_cpu:,.0f} docs per CPU second); cluster s: banding, verification and clustering, wall "
            f"/ CPU of all threads (load average {_load()} at the end of the run: wall times grow with other jobs on "
            "the machine, CPU times much less).\n\n"
            + md_table(
                [
                    "configuration",
                    "bands x rows",
                    "recall",
                    "recall (latin)",
                    "recall (zh)",
                    "far merged",
                    "< 0.5",
                    "verified / candidate pairs (texts read)",
                    "cluster s (wall / CPU)",
                ],
                table,
            )
        )
        write_section("dedup", body)


if __name__ == "__main__":
    main()
