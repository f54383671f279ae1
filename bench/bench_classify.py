"""Benchmark: Winnow's n-gram classifier vs scikit-learn's TfidfVectorizer + LogisticRegression, same split.

On realmix (53,941 real documents), two tasks:

- ``wiki``: Wikipedia paragraphs against every other document (the "looks like the reference set" task);
- ``toxicity``: the tweets' hate/offensive labels against ``neither`` (Davidson et al.).

Each task is split once (stratified 80/20, seeded); both methods train on the same 80 % and are scored on the
same 20 %. Reported: held-out ROC AUC, train seconds (features + one fit), Winnow's whole ``train`` with 5-fold
cross-validation and metrics, and scoring docs/s per core (features + probability over every realmix
document, batches of 2,048). Times are CPU seconds of this process (``time.process_time``) with BLAS on one
thread: per core, and robust when other jobs share the machine. A last row trains on realmix cycled to
``--scale`` documents (ids differ, texts repeat) to time the 100k-document case; its AUC is not reported
(duplicates would leak across the split).

    python bench/bench_classify.py              # about 3 minutes on 2 cores
    python bench/bench_classify.py --no-readme  # print only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REALMIX = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared")) / "corpora" / "realmix" / "realmix.parquet"
BATCH = 2048
HEADERS = ["task", "method", "train / test docs", "held-out AUC", "train s", "5-fold train s", "score docs/s"]


def cpu(fn):
    """(result, CPU seconds) of ``fn()``."""
    t0 = time.process_time()
    out = fn()
    return out, time.process_time() - t0


def load() -> tuple[list[str], list[str], list[str | None]]:
    import duckdb

    rows = duckdb.execute("SELECT text, source, toxicity FROM read_parquet(?) ORDER BY id", [str(REALMIX)]).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def split(y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from app.learn.metrics import stratified_folds

    fold = stratified_folds(y, 5, seed=seed)
    return np.flatnonzero(fold != 0), np.flatnonzero(fold == 0)


def ours(texts: list[str], y: np.ndarray, tr: np.ndarray, te: np.ndarray, all_texts: list[str]) -> dict:
    from app.learn import classifier, features
    from app.learn.metrics import auc_ap, cv_predict, evaluate

    def fit():
        x = features.featurize_batches([texts[i] for i in tr])
        return classifier._fit(x, y[tr], "ngrams")

    (w, b), train_s = cpu(fit)
    p = classifier._predict(features.featurize_batches([texts[i] for i in te]), w, b)

    def full_train():  # what `winnow classify train` computes: features, 5-fold CV, metrics, final fit
        x = features.featurize_batches(texts)

        def fp(a, c):
            ww, bb = classifier._fit(x[a], y[a], "ngrams")
            return classifier._predict(x[c], ww, bb)

        held = cv_predict(y, fp, folds=5, seed=0)
        evaluate(y, held, ids=[str(i) for i in range(len(y))])
        classifier._fit(x, y, "ngrams")

    _, cv_s = cpu(full_train)

    def score():
        for s in range(0, len(all_texts), BATCH):
            classifier._predict(features.featurize(all_texts[s : s + BATCH]), w, b)

    _, score_s = cpu(score)
    return {"auc": auc_ap(y[te], p)[0], "train_s": train_s, "cv_s": cv_s, "score_dps": len(all_texts) / score_s}


def sklearn_baseline(texts: list[str], y: np.ndarray, tr: np.ndarray, te: np.ndarray, all_texts: list[str]) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from app.learn.metrics import auc_ap

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    lr = LogisticRegression(class_weight="balanced", max_iter=1000)

    def fit():
        lr.fit(vec.fit_transform([texts[i] for i in tr]), y[tr])

    _, train_s = cpu(fit)
    p = lr.predict_proba(vec.transform([texts[i] for i in te]))[:, 1]

    def score():
        for s in range(0, len(all_texts), BATCH):
            lr.predict_proba(vec.transform(all_texts[s : s + BATCH]))

    _, score_s = cpu(score)
    return {"auc": auc_ap(y[te], p)[0], "train_s": train_s, "cv_s": None, "score_dps": len(all_texts) / score_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=100_000, help="documents of the timing-only row (default 100k)")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    from app.learn.features import featurize

    featurize(["warm up the class table"])
    texts, sources, tox = load()
    tasks = {"wiki vs rest": (texts, np.array([s == "wiki" for s in sources], dtype=np.int8))}
    tw = [(t, x) for t, x in zip(texts, tox, strict=True) if x is not None]
    tasks["toxicity (tweets)"] = ([t for t, _ in tw], np.array([x in ("hate", "offensive") for _, x in tw], np.int8))
    rows = []
    for task, (tt, y) in tasks.items():
        tr, te = split(y)
        for method, fn in (("Winnow n-grams", ours), ("sklearn TF-IDF + LR", sklearn_baseline)):
            r = fn(tt, y, tr, te, texts)
            rows.append([task, method, f"{len(tr):,} / {len(te):,}", f"{r['auc']:.4f}", f"{r['train_s']:.1f}",
                         "" if r["cv_s"] is None else f"{r['cv_s']:.1f}", f"{r['score_dps']:,.0f}"])  # fmt: skip
            print(rows[-1], flush=True)
    big = (texts * (args.scale // len(texts) + 1))[: args.scale]
    yb = np.array(([s == "wiki" for s in sources] * (args.scale // len(texts) + 1))[: args.scale], dtype=np.int8)
    tr, te = split(yb)
    r = ours(big, yb, tr, te, texts)
    rows.append([f"wiki vs rest, cycled to {args.scale:,}", "Winnow n-grams", f"{len(tr):,} / {len(te):,}", "(repeats)",
                 f"{r['train_s']:.1f}", f"{r['cv_s']:.1f}", f"{r['score_dps']:,.0f}"])  # fmt: skip
    print(rows[-1], flush=True)
    from bench._readme import machine, md_table, write_section

    load1 = os.getloadavg()[0]
    body = (
        f"**Classifiers** (`winnow classify train`, n-gram features), measured by `python bench/bench_classify.py` "
        f"({machine()}; CPU seconds of one process, BLAS on one thread, so docs/s are per core; 1-minute load "
        f"average {load1:.1f} at the end). Held-out AUC on the same stratified 80/20 split for both methods; *train s*: "
        "features and one fit on the 80 %; *5-fold train s*: what `classify train` computes (features, 5-fold "
        "cross-validation, metrics with bootstrap CIs, final fit) on all of it; *score docs/s*: features and "
        "probability for all 53,941 realmix documents. scikit-learn: `TfidfVectorizer(ngram_range=(1, 2), "
        "sublinear_tf=True)` + `LogisticRegression(class_weight='balanced')`.\n\n" + md_table(HEADERS, rows)
    )
    print(body)
    if not args.no_readme:
        write_section("classify", body)


if __name__ == "__main__":
    main()
