"""Hashed word uni+bigram features (fastText-style), for any language, as a sparse CSR matrix.

Tokens: text is lowercased and cut at :data:`MAX_CHARS` characters (bounded work per document); a run of
letters and digits is one word, and every character of a script written without spaces (Han, Kana, Thai, Lao,
Khmer, Myanmar, Tibetan) is a token of its own, so word bigrams there are *character* bigrams. Features are
every token and every pair of neighbouring tokens, hashed into ``2**bits`` buckets (default :data:`BITS` = 20,
1,048,576 buckets: 4 MB of float32 weights). A document's row holds ``log1p(count)`` per bucket, L2-normalised,
so long and short documents weigh alike.

Why vectorised: scoring must reach tens of thousands of documents per second per core, which hashing token by
token in Python cannot. Per batch, the tokens of every document are joined into one UTF-8 byte string and a
polynomial hash (mod 2^64) of every token is computed at once with NumPy prefix sums; only the regular
expression runs per document. The hash is stable across processes and machines (Python's ``hash`` is not),
so a stored model scores the same everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: default hash size: 2**BITS buckets
BITS = 20
#: characters of a document that are featurised
MAX_CHARS = 20_000
#: scripts written without spaces: each character is a token (ranges of code points, inclusive)
NOSPACE_RANGES = (
    (0x0E00, 0x0EFF), (0x0F00, 0x0FFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x2E80, 0x2FDF), (0x3005, 0x3007),
    (0x3040, 0x30FF), (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF66, 0xFF9F),
)  # fmt: skip
#: characters per internal chunk of a batch (bounds the NumPy arrays whatever the batch holds)
CHUNK_CHARS = 2_000_000
SEP, WORD, CHAR = 0, 1, 2
_P = np.uint64(0x100000001B3)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_BIGRAM = np.uint64(0x9E3779B97F4A7C15)
_cache: dict[str, np.ndarray] = {}


def _classes() -> np.ndarray:
    """Class of every BMP code point: letters, digits and marks are WORD, no-space scripts CHAR, the rest SEP."""
    if "cls" not in _cache:
        import unicodedata

        cls = np.zeros(0x10000, dtype=np.uint8)
        for cp in range(0x10000):
            if unicodedata.category(chr(cp))[0] in "LNM":
                cls[cp] = WORD
        for lo, hi in NOSPACE_RANGES:
            cls[lo : hi + 1] = np.where(cls[lo : hi + 1] == WORD, CHAR, cls[lo : hi + 1])
        _cache["cls"] = cls
    return _cache["cls"]


def _class_of(cp: np.ndarray) -> np.ndarray:
    """Classes of code points; beyond the BMP the Han planes (2, 3) are CHAR and the rest (emoji...) SEP."""
    out = _classes()[np.minimum(cp, 0xFFFF)]
    big = cp > 0xFFFF
    if big.any():
        out = out.copy()
        out[big] = np.where((cp[big] >= 0x20000) & (cp[big] < 0x40000), CHAR, SEP)
    return out


def tokens(text: str) -> list[str]:
    """The tokens of one text (see the module docstring), as strings: for tests and explanations."""
    low = text[:MAX_CHARS].lower()
    cp = np.frombuffer(low.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends = _bounds(_class_of(cp))
    return [low[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def _bounds(cls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of every token: a run of WORD, or one CHAR."""
    word = cls == WORD
    prev = np.concatenate([[False], word[:-1]])
    nxt = np.concatenate([word[1:], [False]])
    char = cls == CHAR
    return np.flatnonzero((word & ~prev) | char), np.flatnonzero((word & ~nxt) | char) + 1


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``P**i`` and ``P**-i`` (mod 2^64) for ``i < n``, grown and cached."""
    have = _cache.get("p")
    if have is None or len(have) < n:
        size = max(n, 1 << 16, 2 * (len(have) if have is not None else 0))
        inv = np.uint64(pow(int(_P), -1, 1 << 64))
        with np.errstate(over="ignore"):
            p = np.cumprod(np.full(size, _P, dtype=np.uint64))
            ip = np.cumprod(np.full(size, inv, dtype=np.uint64))
        _cache["p"] = np.concatenate([[np.uint64(1)], p[:-1]])
        _cache["ip"] = np.concatenate([[np.uint64(1)], ip[:-1]])
    return _cache["p"][:n], _cache["ip"][:n]


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads polynomial hashes over all 64 bits before bucketing."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * _M1
        h = (h ^ (h >> np.uint64(27))) * _M2
        return h ^ (h >> np.uint64(31))


def _chunk_hashes(lows: list[str], first: int) -> tuple[np.ndarray, np.ndarray]:
    joined = "\x00".join(lows) + "\x00"  # NUL is SEP: tokens never cross documents
    cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends = _bounds(_class_of(cp))
    if not len(starts):
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    v = cp.astype(np.uint64) + np.uint64(1)
    pw, ipw = _powers(len(v) + 1)
    with np.errstate(over="ignore"):
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(v * ipw[: len(v)], dtype=np.uint64)])
        # sum_{j in [s, e)} v_j * P^(e-1-j) = (S[e] - S[s]) * P^(e-1)
        h = (prefix[ends] - prefix[starts]) * pw[ends - 1]
    doc_end = np.cumsum(np.fromiter(map(len, lows), dtype=np.int64, count=len(lows)) + 1)
    doc = np.searchsorted(doc_end, starts, side="right") + first
    return _mix(h), doc.astype(np.int64)


def token_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(hashes uint64, document index int64)`` of every token of ``texts``, in reading order."""
    hs, docs = [], []
    lows: list[str] = []
    size = first = 0
    for i, t in enumerate(texts):
        low = (t or "")[:MAX_CHARS].lower()
        if size + len(low) > CHUNK_CHARS and lows:
            h, d = _chunk_hashes(lows, first)
            hs.append(h)
            docs.append(d)
            lows, size, first = [], 0, i
        lows.append(low)
        size += len(low) + 1
    if lows:
        h, d = _chunk_hashes(lows, first)
        hs.append(h)
        docs.append(d)
    if not hs:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(hs), np.concatenate(docs)


def featurize(texts: list[str], *, bits: int = BITS) -> Any:
    """The ``[len(texts), 2**bits]`` CSR matrix of hashed uni+bigram features (float32, rows L2-normalised)."""
    from scipy import sparse

    h, doc = token_hashes(texts)
    same = doc[1:] == doc[:-1] if len(doc) > 1 else np.zeros(0, dtype=bool)
    with np.errstate(over="ignore"):
        bi = _mix(h[:-1][same] * _BIGRAM + h[1:][same]) if len(same) else np.zeros(0, dtype=np.uint64)
    cols = np.concatenate([h, bi]) >> np.uint64(64 - bits)
    rows = np.concatenate([doc, doc[:-1][same] if len(same) else doc[:0]])
    n = len(texts)
    x = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols.astype(np.int64))), shape=(n, 1 << bits), dtype=np.float32
    )
    x.sum_duplicates()
    np.log1p(x.data, out=x.data)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    x.data /= np.repeat(norms, np.diff(x.indptr)).astype(np.float32)
    return x


def featurize_batches(texts: list[str], *, bits: int = BITS, batch: int = 8192, progress: Any = None) -> Any:
    """:func:`featurize` over many texts in batches (bounded intermediate memory), stacked into one matrix."""
    from scipy import sparse

    parts = []
    for s in range(0, len(texts), batch):
        parts.append(featurize(texts[s : s + batch], bits=bits))
        if progress:
            progress(min(s + batch, len(texts)), len(texts), "features")
    if not parts:
        return sparse.csr_matrix((0, 1 << bits), dtype=np.float32)
    return sparse.vstack(parts, format="csr")
