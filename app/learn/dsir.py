"""DSIR importance weights (Xie et al. 2023, "Data Selection for Language Models via Importance Resampling").

DSIR estimates how much likelier a document is under the target distribution than under the raw corpus with
two bag-of-n-gram models over the same hashed feature space: every word unigram and bigram of a document
(tokens of :mod:`app.learn._hashtok`, bigrams within the document only) is hashed into ``2**bits`` buckets
(default 2^16 = 65,536; the paper uses 10,000), the target's and the raw corpus's bucket counts give
add-one-smoothed categorical distributions ``p_t`` and ``p_r``, and a document's log importance weight is

    dsir_NAME(x) = sum over its features f of  log p_t(f) - log p_r(f)

(a sum, as in the paper: a longer document has a larger magnitude). Resample with it in a recipe with
``sample: {n: K, log_weight: dsir_NAME, seed: 0}``: K documents drawn with probability proportional to
``exp(dsir_NAME)``, without replacement (Gumbel top-k, :mod:`app.recipes.compile`). The model is the
``float32`` log-ratio vector, ``4 * 2**bits`` bytes (256 KiB by default); scoring is one table lookup and
one ``bincount`` per batch. A text without tokens gets NULL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from app.errors import LearnError
from app.learn._hashtok import mix64, tokenize
from app.learn.store import StoredModel, loader, pack

KIND = "dsir"
DEFAULT_BITS = 16
BITS_RANGE = (8, 24)
_UNI = np.uint64(0xA24BAED4963EE407)
_BI = np.uint64(0x9FB21C651E98DF25)


def features(texts: list[str], bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(bucket of every feature, its text's index, tokens per text)``: unigrams then in-text bigrams."""
    h, counts = tokenize(texts)
    doc = np.repeat(np.arange(len(texts)), counts)
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):
        uni = mix64(h ^ _UNI) >> shift
        same = doc[1:] == doc[:-1]
        bi = mix64(h[:-1] * _BI + h[1:]) >> shift
    return np.concatenate([uni, bi[same]]).astype(np.int64), np.concatenate([doc, doc[1:][same]]), counts


def bucket_counts(batches: Iterable[list[str]], bits: int, *, progress: Any = None, total: int | None = None,
                  stage: str = "counting features") -> tuple[np.ndarray, int]:  # fmt: skip
    """Feature counts per bucket over every text of ``batches``, and the number of texts."""
    out = np.zeros(1 << bits, np.float64)
    n = 0
    for texts in batches:
        b, _, _ = features(texts, bits)
        out += np.bincount(b, minlength=1 << bits)
        n += len(texts)
        if progress:
            progress(n, total, stage)
    return out, n


def log_ratio(target: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """``log p_t - log p_r`` per bucket, both add-one smoothed (no bucket has probability 0)."""
    if target.sum() == 0:
        raise LearnError("the DSIR target texts have no tokens")
    if raw.sum() == 0:
        raise LearnError("the DSIR raw texts have no tokens")
    pt = (target + 1.0) / (target.sum() + len(target))
    pr = (raw + 1.0) / (raw.sum() + len(raw))
    return (np.log(pt) - np.log(pr)).astype(np.float32)


def check_bits(bits: int) -> None:
    if not BITS_RANGE[0] <= bits <= BITS_RANGE[1]:
        raise LearnError(f"--bits must be within {BITS_RANGE[0]}..{BITS_RANGE[1]} (2^bits hash buckets), not {bits}")


def weights(ratio: np.ndarray, texts: list[str]) -> np.ndarray:
    """The log importance weight of each text (NaN for a text without tokens)."""
    bits = int(np.log2(len(ratio)))
    b, doc, counts = features([t if isinstance(t, str) else "" for t in texts], bits)
    w = np.bincount(doc, weights=ratio[b].astype(np.float64), minlength=len(texts)).astype(np.float64)
    w[counts == 0] = np.nan
    return w


def model_row(name: str, ratio: np.ndarray, settings: dict, metrics: dict, digest: str) -> StoredModel:
    col = column(name)
    return StoredModel(name=col, kind=KIND, digest=digest, settings=settings, metrics=metrics,
                       columns={col: "DOUBLE"}, blob=pack({"log_ratio": ratio}))  # fmt: skip


def column(name: str) -> str:
    return f"dsir_{name}"


def digest_of(parts: list[str]) -> str:
    return hashlib.sha256(":".join([KIND, *parts]).encode()).hexdigest()[:16]


class DsirScorer:
    def __init__(self, m: StoredModel):
        self.ratio = m.arrays()["log_ratio"]
        self.col = m.name
        self.columns = {self.col: "DOUBLE"}

    def score(self, texts: list[str]) -> dict[str, list[Any]]:
        w = weights(self.ratio, texts)
        return {self.col: [None if np.isnan(x) else float(x) for x in w.tolist()]}


@loader(KIND)
def load(m: StoredModel) -> DsirScorer:
    return DsirScorer(m)


def fit(ws: Any, *, name: str, target: str, raw: str | None = None, bits: int = DEFAULT_BITS, seed: int = 0,
        progress: Any = None) -> dict[str, Any]:  # fmt: skip
    """Fit DSIR weights toward the selection ``target`` against ``raw`` (default: every document of the
    workspace), store them as the model ``dsir_NAME`` and score the workspace. Same data and settings: no-op."""
    from app.learn import store
    from app.learn.reference import _texts, _workspace_batches, check_name
    from app.learn.selectors import resolve

    check_name(name)
    check_bits(bits)
    if ws.read_only:
        raise LearnError(f"workspace {ws.path} is open read-only")
    con = ws.cursor()
    tsel = resolve(con, target, seed=seed)
    rsel = resolve(con, raw, seed=seed) if raw else None
    if rsel is None:  # the whole corpus: its content hash
        h = con.execute("SELECT count(*), sum(hash(id || ':' || coalesce(text, ''))::HUGEINT) FROM docs").fetchone()
        raw_digest = f"corpus:{h[0]}:{h[1]}"
    else:
        raw_digest = rsel.digest()
    settings = {"target": str(tsel.selector), "raw": str(rsel.selector) if rsel else "corpus", "bits": bits,
                "seed": seed, "features": "word unigrams + bigrams (v1)", "smoothing": "add-one"}  # fmt: skip
    digest = digest_of([tsel.digest(), raw_digest, *(f"{k}={settings[k]}" for k in sorted(settings))])
    col = column(name)
    old = {m.name: m for m in store.list_models(con)}.get(col)
    if old is not None and old.digest == digest and ws.has_table(store.part_table(col), con=con):
        return {"name": col, "digest": digest, "unchanged": True, "metrics": old.metrics}
    total = int(con.execute("SELECT count(*) FROM docs").fetchall()[0][0])
    tc, nt = bucket_counts(_texts(con, tsel, seed), bits, progress=progress, total=len(tsel), stage="target features")
    if rsel is None:
        rc, nr = bucket_counts(_workspace_batches(ws), bits, progress=progress, total=total, stage="raw features")
    else:
        rc, nr = bucket_counts(_texts(con, rsel, seed), bits, progress=progress, total=len(rsel), stage="raw features")
    ratio = log_ratio(tc, rc)
    metrics = {"target_docs": nt, "raw_docs": nr, "target_features": int(tc.sum()), "raw_features": int(rc.sum()),
               "buckets_used": int(((tc > 0) | (rc > 0)).sum()), "memory_bytes": int(ratio.nbytes)}  # fmt: skip
    with ws.transaction() as tx:
        store.save(tx, model_row(name, ratio, settings, metrics, digest))
    n = store.score_workspace(ws, col, progress=progress)
    return {"name": col, "digest": digest, "unchanged": False, "documents": n, "metrics": metrics}
