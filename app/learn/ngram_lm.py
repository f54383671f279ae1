"""A hashed n-gram language model with interpolated modified Kneser-Ney smoothing, fitted with NumPy.

Why our own: the peers' perplexity filters (CCNet, DataTrove, Data-Juicer) download a pretrained KenLM model at
run time; Winnow fits one offline on the user's own reference set (``--on SEL``) in seconds and scores with
array operations (no per-token Python), so it can run over every document of a workspace or a headless shard.

Model (Chen & Goodman 1998, interpolated modified Kneser-Ney): for an n-gram ``h w`` of order ``k``

    P_k(w | h) = max(c_k(h w) - D_k(c), 0) / c_k(h) + gamma_k(h) * P_{k-1}(w | h'),
    gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / c_k(h),

with raw counts at the highest order, continuation counts N1+(. h w) below it, three discounts per order from
its count-of-counts (``D_j = j - (j + 1) Y n_{j+1} / n_j``, ``Y = n1 / (n1 + 2 n2)``, clamped to ``[0, j]``),
and a uniform distribution over the V seen types under the unigrams. An unseen context has ``c_k(h) = 0`` and
passes ``P_{k-1}`` through unchanged. Each document is ``<s>`` x (order - 1), its tokens, ``</s>``; the
``</s>`` prediction counts as a token (as in KenLM's perplexity). Tokens: :mod:`app.learn._hashtok` (words,
and one token per character for Chinese/Japanese/Thai script runs).

Hashing bounds memory: the exact 64-bit n-gram hashes are counted at fit time; the model keeps, per order, a
4-way set-associative table (a key lives in one of the 4 slots of the set its top hash bits pick) whose slots
hold the interpolation term ``a_k(h w)`` (float32), the context's backoff weight ``gamma_{k+1}`` (float32, not
at the top order) and a 16-bit tag of the key; a lookup that finds no slot with its tag is treated as unseen.
Each order gets the power of two >= 2.5 x its distinct keys slots, at most ``2**bits`` (default 22): memory
is at most ``10 * 2**bits`` bytes per order (``8`` at the top), 40 MiB, so at most 112 MiB at order 3 and
192 MiB at order 5 however large the reference. When more than 4 keys share a set the more frequent stay
(``metrics.collisions`` counts the others, ``metrics.slots`` the table sizes). Fitting reads at most :data:`MAX_TRAIN_TOKENS` tokens (documents
taken in a seeded random order; ``metrics`` says how many were used), so fitting memory is bounded too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from app.errors import LearnError
from app.learn._hashtok import mix64, special, tokenize
from app.learn.store import StoredModel, loader, pack

KIND = "lm"
ORDERS = (3, 4, 5)
DEFAULT_ORDER = 3
DEFAULT_BITS = 22
#: slots per set: a key may sit in any of the 4 slots of its set (fewer keys lost than one slot per bucket)
WAYS = 4
_LANES = np.uint64(0x0001000100010001)
_HIGHS = np.uint64(0x8000800080008000)
BITS_RANGE = (12, 26)
#: tokens read at fit time at most (about 32 bytes x order per distinct n-gram while counting)
MAX_TRAIN_TOKENS = 20_000_000
#: positions counted per chunk before merging into the running distinct n-grams
_CHUNK_POSITIONS = 2_000_000
BOS = special("<s>")
EOS = special("</s>")
_M = np.uint64(0x9E3779B97F4A7C15)


def sequences(texts: list[str], order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(seq, predicted, ntok)``: every text as ``<s>``*(order-1) + tokens + ``</s>``, concatenated; the mask
    of positions that are predicted (tokens and ``</s>``); the number of tokens of each text."""
    h, counts = tokenize(texts)
    n = len(texts)
    seg = counts + order  # (order - 1) BOS + tokens + EOS
    total = int(seg.sum())
    seq = np.full(total, BOS, dtype=np.uint64)
    pred = np.ones(total, dtype=bool)
    seg_start = np.zeros(n, np.int64)
    if n > 1:
        np.cumsum(seg[:-1], out=seg_start[1:])
    doc_of_tok = np.repeat(np.arange(n), counts)
    tok_first = np.zeros(n, np.int64)
    if n > 1:
        np.cumsum(counts[:-1], out=tok_first[1:])
    pos = seg_start[doc_of_tok] + (order - 1) + (np.arange(len(h)) - tok_first[doc_of_tok])
    seq[pos] = h
    seq[seg_start + seg - 1] = EOS
    bos = (seg_start[:, None] + np.arange(order - 1)[None, :]).ravel()
    pred[bos] = False
    return seq, pred, counts


def gram_hashes(seq: np.ndarray, order: int) -> list[np.ndarray]:
    """``g[k-1][i]``: hash of the k-gram ending at position ``i`` (k = 1..order). Positions before the
    ``order - 1`` BOS padding of a document are never predicted, so no n-gram reaches into another text."""
    out = [seq]
    with np.errstate(over="ignore"):
        for k in range(2, order + 1):
            prev = out[-1]
            g = np.empty_like(seq)
            g[0] = seq[0]
            g[1:] = mix64(prev[:-1] * _M + seq[1:] + np.uint64(k))
            out.append(g)
    return out


def _lookup(tables: dict[str, np.ndarray], name: str, k: int, keys: np.ndarray, default: float) -> np.ndarray:
    """Values of ``keys`` in the order-``k`` table (``default`` where no slot of the key's set has its tag).

    The 4 16-bit tags of a set are read as one uint64 and compared lane-wise at once (SWAR: a lane of
    ``row ^ tag * 0x0001000100010001`` is zero where the tag matches; the lowest zero lane is exact)."""
    tags = tables[f"t{k}"].view(np.uint64)
    set_bits = len(tags).bit_length() - 1  # 2^set_bits sets of WAYS slots
    b = (keys >> np.uint64(64 - set_bits)).astype(np.int64)
    with np.errstate(over="ignore"):
        x = tags[b] ^ ((keys & np.uint64(0xFFFF)) * _LANES)
        m = (x - _LANES) & ~x & _HIGHS
        low = m & (~m + np.uint64(1))
    hit = m != 0
    lane = (low >> np.uint64(31) != 0).astype(np.int64) + (low >> np.uint64(47) != 0) + (low >> np.uint64(63) != 0)
    return np.where(hit, tables[f"{name}{k}"][b * WAYS + lane], np.float32(default))


def position_probs(tables: dict[str, np.ndarray], seq: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """P(token | its context) at every predicted position of ``seq`` (the one scoring path)."""
    order = int(tables["order"])
    g = gram_hashes(seq, order)
    idx = np.flatnonzero(pred)
    p = float(tables["gamma1"]) / float(tables["vocab"]) + _lookup(tables, "a", 1, g[0][idx], 0.0)
    p = p.astype(np.float64)
    for k in range(2, order + 1):
        gam = _lookup(tables, "g", k - 1, g[k - 2][idx - 1], 1.0)
        a = _lookup(tables, "a", k, g[k - 1][idx], 0.0)
        p = a + gam * p
    return p


# ----------------------------------------------------------------------------------------------- fitting
def _distinct(h: np.ndarray, pre: np.ndarray, suf: np.ndarray, cnt: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sorted distinct keys with summed counts (prefix/suffix of the first occurrence)."""
    o = np.argsort(h, kind="stable")
    h = h[o]
    first = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if len(h) else np.zeros(0, np.int64)
    return h[first], pre[o][first], suf[o][first], np.add.reduceat(cnt[o], first) if len(h) else cnt[:0]


def _discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """Modified KN discounts D1, D2, D3+ from the count-of-counts (clamped so every discount is valid)."""
    n = [int((counts == j).sum()) for j in (1, 2, 3, 4)]
    if n[0] == 0 or n[1] == 0:
        return 0.5, 1.0, 1.5  # too few n-grams to estimate: the classic fixed values
    y = n[0] / (n[0] + 2 * n[1])
    out = []
    for j in (1, 2, 3):
        d = j - (j + 1) * y * n[j] / n[j - 1] if n[j - 1] else float(j) / 2
        out.append(float(min(max(d, 0.0), float(j))))
    return out[0], out[1], out[2]


def _disc(counts: np.ndarray, d: tuple[float, float, float]) -> np.ndarray:
    return np.where(counts == 1, d[0], np.where(counts == 2, d[1], d[2]))


def _bucketize(keys: np.ndarray, weight: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Up to :data:`WAYS` keys per set (the heaviest): ``(kept entry indices, their slots, keys dropped)``."""
    b = (keys >> np.uint64(64 - bits + 2)).astype(np.int64)  # 2^(bits-2) sets of 4 slots
    o = np.lexsort((-weight, b))
    bs = b[o]
    start = np.flatnonzero(np.r_[True, bs[1:] != bs[:-1]]) if len(o) else np.zeros(0, np.int64)
    rank = np.arange(len(o)) - np.repeat(start, np.diff(np.r_[start, len(o)]))
    keep = rank < WAYS
    kept = o[keep]
    return kept, bs[keep] * WAYS + rank[keep], int(len(keys) - len(kept))


def table_bits(n: int, max_bits: int) -> int:
    """Slots for ``n`` keys: the power of two >= 2.5 n (load <= 0.4: ~2% of keys lost), within 12..``max_bits``."""
    return int(min(max(math.ceil(math.log2(max(n, 1) * 2.5)), BITS_RANGE[0]), max_bits))


def count_ngrams(batches: Iterable[list[str]], order: int, *, max_tokens: int = MAX_TRAIN_TOKENS,
                 progress: Any = None, total: int | None = None) -> tuple[list[tuple[np.ndarray, ...]], dict]:  # fmt: skip
    """Distinct n-grams of each order (``hash, prefix hash, suffix hash, count``) over the texts of
    ``batches``, read until ``max_tokens`` tokens; and counts of what was read."""
    stats: list[tuple[np.ndarray, ...] | None] = [None] * order
    pending: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(order)]
    docs = tokens = pend = 0
    stopped = False

    def merge() -> None:
        for k in range(order):
            parts = ([stats[k]] if stats[k] is not None else []) + pending[k]
            if parts:
                stats[k] = _distinct(*(np.concatenate([p[j] for p in parts]) for j in range(4)))
            pending[k] = []

    for texts in batches:
        seq, pred, ntok = sequences(texts, order)
        g = gram_hashes(seq, order)
        idx = np.flatnonzero(pred)
        one = np.ones(len(idx), np.int64)
        for k in range(order):
            pre = g[k - 1][idx - 1] if k else np.zeros(len(idx), np.uint64)
            suf = g[k - 1][idx] if k else np.zeros(len(idx), np.uint64)
            pending[k].append(_distinct(g[k][idx], pre, suf, one))
        docs += len(texts)
        tokens += int(ntok.sum())
        pend += len(idx)
        if pend >= _CHUNK_POSITIONS:
            merge()
            pend = 0
        if progress:
            progress(docs, total, "counting n-grams")
        if tokens >= max_tokens:
            stopped = True
            break
    merge()
    if tokens == 0:
        raise LearnError("the reference texts have no tokens to fit a language model on")
    return [s for s in stats if s is not None], {"docs": docs, "tokens": tokens, "token_cap_reached": stopped}


def build_tables(stats: list[tuple[np.ndarray, ...]], order: int, bits: int) -> tuple[dict[str, np.ndarray], dict]:
    """Interpolated modified KN terms of every order, hashed into at most ``2**bits`` slots per order."""
    counts: list[np.ndarray] = []
    for k in range(order):  # raw counts at the top order, continuation counts below
        h = stats[k][0]
        if k == order - 1:
            counts.append(stats[k][3].astype(np.float64))
        else:
            suf, n = np.unique(stats[k + 1][2], return_counts=True)
            c = np.zeros(len(h), np.float64)
            c[np.searchsorted(h, suf)] = n
            counts.append(c)
    tables: dict[str, np.ndarray] = {}
    metrics: dict[str, Any] = {"discounts": {}, "ngrams": {}, "collisions": {}, "slots": {}}
    a_terms: list[tuple[np.ndarray, np.ndarray]] = []  # (keys, a) per order
    g_terms: list[tuple[np.ndarray, ...]] = []  # (context keys, gamma, context count) per order k >= 2
    for k in range(order):
        h, pre = stats[k][0], stats[k][1]
        c = counts[k]
        d = _discounts(c.astype(np.int64))
        metrics["discounts"][k + 1] = [round(x, 4) for x in d]
        metrics["ngrams"][k + 1] = len(h)
        disc = _disc(c, d)
        if k == 0:
            tot = c.sum()
            a_terms.append((h, (c - disc) / tot))
            tables["gamma1"] = np.array(disc.sum() / tot)
            tables["vocab"] = np.array(len(h))
            g_terms.append((np.zeros(0, np.uint64), np.zeros(0), np.zeros(0)))
            continue
        ctx, inv = np.unique(pre, return_inverse=True)
        tot = np.bincount(inv, weights=c)
        a_terms.append((h, (c - disc) / tot[inv]))
        g_terms.append((ctx, np.bincount(inv, weights=disc) / tot, tot))
    for k in range(order):
        keys, a = a_terms[k]
        ctx, gam, ctot = g_terms[k + 1] if k + 1 < order else (np.zeros(0, np.uint64), np.zeros(0), np.zeros(0))
        allk, inv = np.unique(np.concatenate([keys, ctx]), return_inverse=True)
        av = np.zeros(len(allk))
        gv = np.ones(len(allk))
        av[inv[: len(keys)]] = a
        gv[inv[len(keys) :]] = gam
        weight = np.zeros(len(allk))  # the more frequent key keeps a shared bucket
        weight[inv[: len(keys)]] = counts[k]
        np.maximum.at(weight, inv[len(keys) :], ctot)
        kbits = table_bits(len(allk), bits)
        nb = 1 << kbits
        kept, b, dropped = _bucketize(allk, weight, kbits)
        metrics["collisions"][k + 1] = dropped
        metrics["slots"][k + 1] = nb
        t = np.zeros(nb, np.uint16)
        t[b] = (allk[kept] & np.uint64(0xFFFF)).astype(np.uint16)
        tables[f"t{k + 1}"] = t
        ta = np.zeros(nb, np.float32)
        ta[b] = av[kept]
        tables[f"a{k + 1}"] = ta
        if k + 1 < order:
            tg = np.ones(nb, np.float32)
            tg[b] = gv[kept]
            tables[f"g{k + 1}"] = tg
    tables["order"] = np.array(order)
    return tables, metrics


def fit_tables(batches: Iterable[list[str]], *, order: int = DEFAULT_ORDER, bits: int = DEFAULT_BITS,
               max_tokens: int = MAX_TRAIN_TOKENS, progress: Any = None,
               total: int | None = None) -> tuple[dict[str, np.ndarray], dict]:  # fmt: skip
    """Fit a model on texts (an iterable of batches): ``(tables, metrics)``; see the module docstring."""
    check_settings(order, bits)
    stats, read = count_ngrams(batches, order, max_tokens=max_tokens, progress=progress, total=total)
    tables, metrics = build_tables(stats, order, bits)
    metrics.update(read)
    metrics["memory_bytes"] = int(sum(v.nbytes for v in tables.values()))
    return tables, metrics


def check_settings(order: int, bits: int) -> None:
    if order not in ORDERS:
        raise LearnError(f"--order must be one of {', '.join(map(str, ORDERS))}, not {order}")
    if not BITS_RANGE[0] <= bits <= BITS_RANGE[1]:
        raise LearnError(
            f"--bits must be within {BITS_RANGE[0]}..{BITS_RANGE[1]} (at most 2^bits slots per order), not {bits}"
        )


# ----------------------------------------------------------------------------------------------- scoring
def doc_logprobs(tables: dict[str, np.ndarray], texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(sum of natural-log probabilities, tokens)`` per text; the sum covers the tokens and ``</s>``."""
    seq, pred, ntok = sequences(texts, int(tables["order"]))
    lp = np.log(position_probs(tables, seq, pred))
    doc = np.repeat(np.arange(len(texts)), ntok + 1)
    return np.bincount(doc, weights=lp, minlength=len(texts)), ntok


class NgramScorer:
    """Columns ``ppl_NAME`` (perplexity, e^-mean log-prob), ``lp_NAME`` (mean natural-log probability per
    token, ``</s>`` included) and, once fitted over a workspace, ``ccnet_bucket_NAME`` (head/middle/tail)."""

    def __init__(self, m: StoredModel):
        self.name = m.name
        self.tables = m.arrays()
        self.ppl, self.lp = f"ppl_{m.name}", f"lp_{m.name}"
        self.columns = {self.ppl: "DOUBLE", self.lp: "DOUBLE"}
        self.buckets = None
        if m.settings.get("ccnet_thresholds"):
            from app.learn.ccnet import Buckets

            self.buckets = Buckets(m.settings["ccnet_thresholds"])
            self.columns[f"ccnet_bucket_{m.name}"] = "VARCHAR"

    def score(self, texts: list[str]) -> dict[str, list[Any]]:
        lp = mean_logprob(self.tables, texts)
        ok = ~np.isnan(lp)
        ppl = np.where(ok, np.exp(-np.where(ok, lp, 0.0)), np.nan)
        out: dict[str, list[Any]] = {self.lp: nulls(lp), self.ppl: nulls(ppl)}
        if self.buckets is not None:
            out[f"ccnet_bucket_{self.name}"] = self.buckets.assign(texts, ppl)
        return out


def mean_logprob(tables: dict[str, np.ndarray], texts: list[str]) -> np.ndarray:
    """Mean natural-log probability per token of each text (NaN for a text without tokens)."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    s, ntok = doc_logprobs(tables, texts)
    out = s / (ntok + 1)
    out[ntok == 0] = np.nan
    return out


def nulls(a: np.ndarray) -> list[float | None]:
    return [None if math.isnan(x) else float(x) for x in a.tolist()]


@loader(KIND)
def load(m: StoredModel) -> NgramScorer:
    return NgramScorer(m)


def batches_of(texts: list[str], size: int = 2048) -> Iterator[list[str]]:
    for i in range(0, len(texts), size):
        yield texts[i : i + size]


def model_row(name: str, tables: dict[str, np.ndarray], metrics: dict, settings: dict, digest: str) -> StoredModel:
    """The ``_models`` row of a fitted n-gram model."""
    return StoredModel(name=name, kind=KIND, digest=digest, settings=settings, metrics=metrics,
                       columns={f"ppl_{name}": "DOUBLE", f"lp_{name}": "DOUBLE"}, blob=pack(tables))  # fmt: skip
