"""Near matches: documents that are a light rewrite of one benchmark text, by MinHash over the normalised text.

The n-gram overlap (:mod:`app.decontam.index`) finds a benchmark item copied into a document, even embedded
in a longer page, but a light rewrite (a few words changed, a clause moved) breaks many 8-grams. The near
option complements it for documents that are *mostly one item*: each benchmark text ("unit") of at least
:data:`MIN_WORDS` normalised words gets a MinHash signature of its word 5-gram shingles, computed with the
near-duplicate machinery (:func:`app.signals.dedup_near.signatures`, banded by
:func:`app.signals._lsh.bands_for` for the threshold), over the normalised words joined by spaces, so the same
folding of case, punctuation and line breaks applies. A document is a candidate for a unit when one LSH
band of their signatures is equal; a candidate counts when the estimated Jaccard of their shingle sets (the
fraction of equal signature values) reaches the threshold. A document with more than ``max unit shingles /
threshold`` shingles cannot reach it against any unit and is skipped before hashing (a long page that
embeds an item is the n-gram overlap's case), so the cost falls on short documents only.

Memory: 512 bytes of signature plus ``bands`` band keys (8 bytes each, with the unit number) per unit --
bounded by the benchmark size, like the n-gram index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.decontam import DecontamError
from app.decontam.text import words

#: default Jaccard threshold of word 5-gram shingle sets (measured on light rewrites: see the README)
DEFAULT_NEAR = 0.3
#: units shorter than this (normalised words) are left to the exact whole-text rule
MIN_WORDS = 10
_BATCH = 4096


def check_near(t: object) -> float:
    """``t`` as a Jaccard threshold in (0, 1], else a one-line DecontamError."""
    from app.signals._lsh import check_threshold

    return check_threshold(t, what="--near-threshold", error=DecontamError)


@dataclass
class NearMatches:
    """Per document of a batch: the best estimated Jaccard with any candidate unit (0 without one), and the
    ``(document, unit, estimate)`` candidates at the threshold or more."""

    best: np.ndarray
    pairs: list[tuple[int, int, float]]


class NearIndex:
    """MinHash signatures and LSH band keys of the benchmark units; :meth:`match` finds light rewrites."""

    def __init__(self, units: list[tuple[int, str]], *, threshold: float = DEFAULT_NEAR) -> None:
        from app.signals import _lsh
        from app.signals.dedup_near import NUM_PERM, SHINGLE, band_keys, signatures

        self.threshold = check_near(threshold)
        self.bands, self.rows = _lsh.bands_for(self.threshold, NUM_PERM)
        self._band_keys, self._signatures, self._shingle = band_keys, signatures, SHINGLE
        keep: list[int] = []
        texts: list[str] = []
        for u, (_item, text) in enumerate(units):
            w = words(text)
            if len(w) >= MIN_WORDS:
                keep.append(u)
                texts.append(" ".join(w))
        self.unit = np.asarray(keep, dtype=np.int64)
        self.sigs = np.zeros((0, NUM_PERM), dtype=np.uint32)
        self.max_shingles = max((len(t.split()) - SHINGLE + 1 for t in texts), default=0)
        if texts:
            self.sigs = np.concatenate([signatures(texts[lo : lo + _BATCH]) for lo in range(0, len(texts), _BATCH)])
        keys = band_keys(self.sigs, self.bands, self.rows).reshape(-1)
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), self.bands)
        order = np.argsort(keys, kind="stable")
        self.keys, self.owner = keys[order], owner[order]

    @property
    def nbytes(self) -> int:
        return int(self.sigs.nbytes + self.keys.nbytes + self.owner.nbytes + self.unit.nbytes)

    def match(self, texts: list[str]) -> NearMatches:
        """Candidates and verified near matches of a batch of documents (see the module docstring)."""
        from app.signals._lsh import agreement

        best = np.zeros(len(texts), dtype=np.float64)
        if not len(self.keys):
            return NearMatches(best, [])
        limit = self.max_shingles / self.threshold + self._shingle - 1
        docs: list[int] = []
        norm: list[str] = []
        for d, t in enumerate(texts):
            w = words(t) if t else []
            if MIN_WORDS * self.threshold <= len(w) <= limit:
                docs.append(d)
                norm.append(" ".join(w))
        if not docs:
            return NearMatches(best, [])
        sig = self._signatures(norm)
        keys = self._band_keys(sig, self.bands, self.rows)
        row = np.repeat(np.arange(len(docs), dtype=np.int64), self.bands)
        flat = keys.reshape(-1)
        lo = np.searchsorted(self.keys, flat, side="left")
        hi = np.searchsorted(self.keys, flat, side="right")
        lens = hi - lo
        hit = (lens > 0) & (flat != 0)
        lo, lens, row = lo[hit], lens[hit], row[hit]
        if not len(lo):
            return NearMatches(best, [])
        pos = np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        pair = np.unique(np.repeat(row, lens) * len(self.sigs) + self.owner[pos])
        r, k = pair // len(self.sigs), pair % len(self.sigs)
        est = agreement(sig[r], self.sigs[k])
        doc = np.asarray(docs, dtype=np.int64)[r]
        np.maximum.at(best, doc, est)
        ok = est >= self.threshold - 1e-9
        pairs = list(zip(doc[ok].tolist(), self.unit[k[ok]].tolist(), est[ok].round(6).tolist()))
        return NearMatches(best, pairs)


def fold(m: Any, nm: NearMatches, *, unit_item: np.ndarray, item_bench: np.ndarray, bench_names: list[str]) -> None:
    """Fold near matches into the n-gram :class:`app.decontam.index.Matches` ``m`` (in place): a (document,
    item) pair at the near threshold counts in ``decon_hits`` and ``decon_benchmarks`` like an overlap hit
    (once, when both find it); a pair found only here is added to ``m.pairs`` with its Jaccard estimate as
    the overlap; ``m.near`` maps every near pair to its estimate and ``m.near_jaccard`` is ``nm.best``."""
    m.near_jaccard = nm.best
    per: dict[tuple[int, int], float] = {}
    for d, u, est in nm.pairs:
        k = (d, int(unit_item[u]))
        per[k] = max(per.get(k, 0.0), est)
    have = {(d, i) for d, i, _ in m.pairs}
    for (d, i), est in sorted(per.items()):
        m.near[(d, i)] = est
        if (d, i) in have:
            continue
        m.pairs.append((d, i, est))
        m.hits[d] += 1
        names = set(filter(None, m.benchmarks[d].split(","))) | {bench_names[item_bench[i]]}
        m.benchmarks[d] = ",".join(sorted(names))


#: the ``_meta`` key holding a workspace's near threshold (absent: near matching off)
NEAR_KEY = "decontam.near"


def workspace_near(con: Any) -> float | None:
    """The workspace's near-match threshold (``winnow decontam add|run --near``), None when off."""
    try:
        row = con.execute("SELECT value FROM _meta WHERE key = ?", [NEAR_KEY]).fetchone()
    except Exception:  # no _meta table (a bare connection): near matching off
        return None
    return check_near(row[0]) if row and row[0] not in (None, "", "off") else None


def set_workspace_near(con: Any, threshold: float | None) -> float | None:
    """Store the workspace's near-match threshold (None turns near matching off); the next scoring uses it."""
    if threshold is None:
        con.execute("DELETE FROM _meta WHERE key = ?", [NEAR_KEY])
        return None
    t = check_near(threshold)
    con.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [NEAR_KEY, repr(t)])
    return t
