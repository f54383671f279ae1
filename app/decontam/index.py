"""The benchmark index: every word n-gram of every benchmark text, searchable from a stream of documents.

Benchmarks are small and the corpus is large, so the benchmarks are indexed and the corpus streams past:
the index holds the sorted distinct n-gram hashes (uint64) and, per hash, the benchmark texts ("units")
containing it (CSR: offsets + unit numbers, int64/int32). Memory is about 20 bytes per (n-gram, unit) pair
plus the unit tables -- bounded by the benchmark size, independent of the corpus.

A unit is one rendered text of a benchmark item: each chosen field and their concatenation. A document's
overlap with a unit is the fraction of the unit's distinct n-grams found in the document; with an item,
the largest overlap over its units. A unit shorter than ``n`` words (a one-line answer) has no n-gram and
is matched only when a document's whole normalised text equals it, so a common short phrase inside a
longer document never counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.decontam.near import NearIndex, fold
from app.decontam.text import ngram_hashes_many, whole_hash, words

#: default n-gram length in words (chosen by measurement: see bench/bench_decontam.py and the README)
DEFAULT_N = 8
#: an item counts as matched in a document (``decon_hits``) at this overlap or more
HIT_OVERLAP = 0.5
#: the bit filter reads hash bits from this one up (the low bits are the searched order's)
_FILTER_SHIFT = 20
_BUILD_BATCH = 20_000
_MATCH_CHUNK = 128


@dataclass
class Matches:
    """Per document of a batch: items matched, largest overlap, benchmarks; plus the matched pairs."""

    hits: np.ndarray
    max_overlap: np.ndarray
    benchmarks: list[str]
    #: (document position in the batch, item number, overlap) for every pair at ``hit`` overlap or more
    pairs: list[tuple[int, int, float]] = field(default_factory=list)
    #: with near matching (:mod:`app.decontam.near`): per document the best estimated Jaccard with a candidate
    #: unit, and ``{(document, item): estimate}`` of the pairs at the near threshold; else None / {}
    near_jaccard: np.ndarray | None = None
    near: dict[tuple[int, int], float] = field(default_factory=dict)


class BenchIndex:
    """Word n-gram index of benchmark units. Build with :meth:`build`; match with :meth:`match`."""

    def __init__(self, *, n: int, hit: float, bench_names: list[str], item_bench: np.ndarray,
                 unit_item: np.ndarray, unit_ngrams: np.ndarray, keys: np.ndarray, offsets: np.ndarray,
                 postings: np.ndarray, short: dict[int, list[int]]) -> None:  # fmt: skip
        self.n, self.hit = n, hit
        self.bench_names, self.item_bench = bench_names, item_bench
        self.unit_item, self.unit_ngrams = unit_item, unit_ngrams
        self.keys, self.offsets, self.postings, self.short = keys, offsets, postings, short
        # a one-hash bit filter over the keys, about 16 bits per key (a 1 - e^(-1/16) ~ 6% false-positive rate)
        bits = max(1 << 16, 1 << int(np.ceil(np.log2(max(len(keys), 1) * 16))))
        self.filter_mask = bits - 1
        self.filter = np.zeros(bits // 8, dtype=np.uint8)
        b = (keys >> np.uint64(_FILTER_SHIFT)) & np.uint64(self.filter_mask)
        np.bitwise_or.at(self.filter, (b >> np.uint64(3)).astype(np.int64), (1 << (b & np.uint64(7))).astype(np.uint8))
        #: the MinHash index of near matching, when asked for (``build(near=J)``)
        self.near: NearIndex | None = None

    @classmethod
    def build(cls, units: list[tuple[int, str]], *, item_bench: list[int], bench_names: list[str],
              n: int = DEFAULT_N, hit: float = HIT_OVERLAP, near: float | None = None) -> BenchIndex:  # fmt: skip
        """Index ``units`` (``(item number, text)``); ``item_bench[item]`` is the item's benchmark number.
        With ``near`` (a Jaccard threshold) light rewrites are matched too (:mod:`app.decontam.near`)."""
        unit_item = np.asarray([item for item, _ in units], dtype=np.int32).reshape(-1)
        unit_ngrams = np.zeros(len(units), dtype=np.int64)
        short: dict[int, list[int]] = {}
        long_words: list[list[str]] = []
        long_units: list[int] = []
        for u, (_item, text) in enumerate(units):
            w = words(text)
            if not w:
                continue
            if len(w) < n:
                short.setdefault(whole_hash(w), []).append(u)
                unit_ngrams[u] = 1
                continue
            long_words.append(w)
            long_units.append(u)
        hs: list[np.ndarray] = [np.zeros(0, dtype=np.uint64)]
        os_: list[np.ndarray] = [np.zeros(0, dtype=np.int32)]
        for lo in range(0, len(long_words), _BUILD_BATCH):
            g, pos = ngram_hashes_many(long_words[lo : lo + _BUILD_BATCH], n)
            own = np.asarray(long_units[lo : lo + _BUILD_BATCH], dtype=np.int64)[pos]
            # distinct n-grams per unit: sort by (unit, hash), drop repeats
            order = np.lexsort((g, own))
            g, own = g[order], own[order]
            new = np.r_[True, (g[1:] != g[:-1]) | (own[1:] != own[:-1])]
            g, own = g[new], own[new]
            unit_ngrams += np.bincount(own, minlength=len(units))
            hs.append(g)
            os_.append(own.astype(np.int32))
        h, o = np.concatenate(hs), np.concatenate(os_)
        order = np.argsort(h, kind="stable")
        h, o = h[order], o[order]
        keys, starts = np.unique(h, return_index=True)
        offsets = np.append(starts, len(h)).astype(np.int64)
        index = cls(n=n, hit=hit, bench_names=bench_names, item_bench=np.asarray(item_bench, dtype=np.int32),
                   unit_item=unit_item, unit_ngrams=unit_ngrams, keys=keys, offsets=offsets, postings=o,
                   short=short)  # fmt: skip
        if near is not None:
            index.near = NearIndex(units, threshold=near)
        return index

    def _maybe(self, g: np.ndarray) -> np.ndarray:
        """Which hashes may be keys (no false negative; false positives are resolved by the search)."""
        bit = (g >> np.uint64(_FILTER_SHIFT)) & np.uint64(self.filter_mask)
        return (self.filter[(bit >> np.uint64(3)).astype(np.int64)] >> (bit & np.uint64(7)).astype(np.uint8)) & 1 == 1

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays (bytes; the short-unit table is counted roughly)."""
        arrs = (self.keys, self.offsets, self.postings, self.unit_item, self.unit_ngrams, self.item_bench, self.filter)
        near = self.near.nbytes if self.near is not None else 0
        return int(sum(a.nbytes for a in arrs) + 100 * len(self.short) + near)

    def match(self, texts: list[str]) -> Matches:
        """Match a batch of documents against every indexed unit.

        The n-grams of the whole batch are looked up at once: first in the bit filter (one random byte
        read per n-gram; most n-grams of a document are in no benchmark and stop there), then the few
        survivors by binary search in the sorted keys, de-duplicated per document."""
        nd = len(texts)
        long_words: list[list[str]] = []
        owner: list[int] = []
        short_pairs: list[tuple[int, int]] = []
        for d, t in enumerate(texts):
            w = words(t) if t else []
            if not w:
                continue
            if len(w) < self.n:
                for u in self.short.get(whole_hash(w), ()):
                    short_pairs.append((d, u))
                continue
            long_words.append(w)
            owner.append(d)
        pair_doc: list[np.ndarray] = []
        pair_unit: list[np.ndarray] = []
        pair_ov: list[np.ndarray] = []
        if len(self.keys):
            # sub-batches of a few hundred documents keep the lookup arrays in cache (measured ~20% faster)
            for lo in range(0, len(long_words), _MATCH_CHUNK):
                got = self._pairs(long_words[lo : lo + _MATCH_CHUNK], owner[lo : lo + _MATCH_CHUNK])
                if got is not None:
                    pair_doc.append(got[0])
                    pair_unit.append(got[1])
                    pair_ov.append(got[2])
        if short_pairs:
            sp = np.asarray(short_pairs, dtype=np.int64)
            pair_doc.append(sp[:, 0])
            pair_unit.append(sp[:, 1])
            pair_ov.append(np.ones(len(sp)))
        m = self._per_document(nd, pair_doc, pair_unit, pair_ov)
        if self.near is not None:
            fold(m, self.near.match(texts), unit_item=self.unit_item, item_bench=self.item_bench,
                 bench_names=self.bench_names)  # fmt: skip
        return m

    def _pairs(self, long_words: list[list[str]], owner: list[int]) -> tuple[np.ndarray, ...] | None:
        """(document, unit, overlap) of every pair sharing an n-gram, for documents of ``n`` words or more."""
        if not long_words:
            return None
        g, pos = ngram_hashes_many(long_words, self.n)
        doc_of = np.asarray(owner, dtype=np.int64)[pos]
        maybe = self._maybe(g)
        g, doc_of = g[maybe], doc_of[maybe]
        pos = np.searchsorted(self.keys, g)
        pos[pos == len(self.keys)] = 0
        ok = self.keys[pos] == g
        # one (document, key) per distinct n-gram of a document
        dk = np.unique(doc_of[ok] * len(self.keys) + pos[ok])
        d, p = dk // len(self.keys), dk % len(self.keys)
        lo, hi = self.offsets[p], self.offsets[p + 1]
        lens = hi - lo
        # every posting of every found key: ranges [lo, hi) flattened
        flat = np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        units = self.postings[flat].astype(np.int64)
        key = np.repeat(d, lens) * len(self.unit_item) + units
        uk, counts = np.unique(key, return_counts=True)
        uu = uk % len(self.unit_item)
        return uk // len(self.unit_item), uu, counts / self.unit_ngrams[uu]

    def _per_document(self, nd: int, pd_: list, pu: list, po: list) -> Matches:
        hits = np.zeros(nd, dtype=np.int64)
        best = np.zeros(nd, dtype=np.float64)
        benches = [""] * nd
        if not sum(len(x) for x in pd_):
            return Matches(hits, best, benches)
        d = np.concatenate(pd_)
        item = self.unit_item[np.concatenate(pu)].astype(np.int64)
        ov = np.minimum(np.concatenate(po), 1.0)
        np.maximum.at(best, d, ov)
        # largest overlap per (document, item): sort by key then overlap, keep the last of each key
        n_items = max(len(self.item_bench), 1)
        key = d * n_items + item
        order = np.lexsort((ov, key))
        key, ov = key[order], ov[order]
        last = np.r_[key[1:] != key[:-1], True]
        key, ov = key[last], ov[last]
        keep = ov >= self.hit
        key, ov = key[keep], ov[keep]
        dd, ii = key // n_items, key % n_items
        np.add.at(hits, dd, 1)
        names: dict[int, set[str]] = {}
        for a, b in zip(dd.tolist(), ii.tolist()):
            names.setdefault(a, set()).add(self.bench_names[self.item_bench[b]])
        for a, s in names.items():
            benches[a] = ",".join(sorted(s))
        pairs = list(zip(dd.tolist(), ii.tolist(), ov.round(6).tolist()))
        return Matches(hits, best, benches, pairs)

    def describe(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "units": len(self.unit_item),
            "short_units": sum(len(v) for v in self.short.values()),
            "ngrams": len(self.keys),
            "postings": len(self.postings),
            "bytes": self.nbytes,
            "near": None if self.near is None else {"threshold": self.near.threshold, "units": len(self.near.unit),
                                                    "bands": self.near.bands, "rows": self.near.rows},
        }  # fmt: skip
