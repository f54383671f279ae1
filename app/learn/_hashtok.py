"""Vectorised tokenisation into 64-bit token hashes, shared by the n-gram LM and DSIR.

Why hashes, why NumPy: scoring must reach >= 10,000 documents per second per core, which a Python loop over
tokens cannot. A batch of texts becomes one array of code points; a class table (built once, 64 k entries)
marks each code point as space, word character, "no-space script" character or other symbol; token
boundaries, per-token polynomial hashes (mod 2^64, stable across processes unlike Python's ``hash``) and the
document each token belongs to are all computed with array operations.

Tokens (the same rule for every language, decided per character by script, so a document in one script gets
one treatment and a mixed one gets the right one per run):

- a run of letters, digits and combining marks is one word token (lowercased, every digit mapped to ``0``
  as CCNet does, so numbers do not explode the vocabulary);
- each character of a script written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar,
  Tibetan, and the supplementary Han planes) is a token of its own: character n-grams for Chinese/Japanese;
- every other visible character (punctuation, symbols, emoji) is a token of its own; whitespace and control
  characters separate tokens.

Word tokens longer than :data:`MAX_HASH_CHARS` hash their first characters only (and their length).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np

SPACE, WORD, CHAR, SYMBOL = 0, 1, 2, 3
#: characters of a word token that enter its hash (longer tokens also hash their length)
MAX_HASH_CHARS = 48
_P = np.uint64(0x100000001B3)  # FNV prime: an odd multiplier, so powers never vanish mod 2^64
_NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
)


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(class of each BMP code point, normalised code point: digits -> '0'). Built once (~30 ms)."""
    cls = np.full(0x10000, SYMBOL, dtype=np.uint8)
    norm = np.arange(0x10000, dtype=np.uint32)
    for cp in range(0x10000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if ch.isspace() or cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"):
            cls[cp] = SPACE
        elif cat[0] in "LMN" or ch == "_":
            cls[cp] = WORD
            if cat == "Nd":
                norm[cp] = ord("0")
    for lo, hi in _NO_SPACE_RANGES:
        seg = cls[lo : hi + 1]
        seg[seg == WORD] = CHAR
    return cls, norm


@lru_cache(maxsize=1)
def _powers() -> np.ndarray:
    out = np.empty(MAX_HASH_CHARS, dtype=np.uint64)
    out[0] = 1
    with np.errstate(over="ignore"):
        for i in range(1, MAX_HASH_CHARS):
            out[i] = out[i - 1] * _P
    return out


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: spreads every input bit over the 64 output bits (bucket and tag bits)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def special(name: str) -> np.uint64:
    """The hash of a sentinel token (``<s>``, ``</s>``): never equal to a text token's in practice."""
    v = np.frombuffer(name.encode().ljust(8, b"\0")[:8], dtype=np.uint64)
    return mix64(v ^ np.uint64(0x5DEECE66D))[0]


def _lower_joined(texts: list[str]) -> tuple[str, np.ndarray]:
    """The lowercased texts joined by a space (a missing text is ""), and each lowercased text's length.

    Lowercasing the joined batch once gives the same string as joining the lowercased texts: the space is
    neither cased nor case-ignorable, so it bounds the context of the one context-dependent rule (Greek final
    sigma) exactly as a text's ends do. When the batch's length is unchanged no character expanded (``İ`` is the
    one that does), so each lowercased text is as long as the original; otherwise the texts are lowered one by
    one. One C call instead of a Python call per text (short documents: the per-text calls dominated)."""
    try:
        raw = " ".join(texts)
    except TypeError:  # a missing text (None...): the per-text path maps it to ""
        raw = None
    if raw is not None:
        low = raw.lower()
        if len(low) == len(raw):
            return low, np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    parts = [t.lower() if isinstance(t, str) else "" for t in texts]
    return " ".join(parts), np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))


def tokenize(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token hashes of every text of the batch, concatenated, and the number of tokens of each text.

    Returns ``(hashes uint64[T], counts int64[len(texts)])``: the tokens of text ``i`` are
    ``hashes[sum(counts[:i]) : sum(counts[:i+1])]``, in order."""
    h, counts, _ = tokenize_kinds(texts)
    return h, counts


def tokenize_kinds(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`tokenize` plus the class of each token (``WORD``, ``CHAR`` or ``SYMBOL``, uint8[T])."""
    n = len(texts)
    if not n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.uint8)
    joined, lens = _lower_joined(texts)
    cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    doc_start = np.zeros(n, np.int64)
    np.cumsum(lens[:-1] + 1, out=doc_start[1:])
    cls_t, norm_t = _tables()
    if not len(cp) or int(cp.max()) < 0x10000:  # the common case: no character beyond the BMP
        cls = cls_t[cp]
        val = norm_t[cp]
    else:
        bmp = cp < 0x10000
        cpi = np.where(bmp, cp, 0)
        cls = cls_t[cpi]
        # beyond the BMP: the supplementary ideographic planes are Han characters; the rest (emoji...) symbols
        astral = ~bmp
        cls[astral] = np.where((cp[astral] >= 0x20000) & (cp[astral] < 0x40000), CHAR, SYMBOL)
        val = np.where(bmp, norm_t[cpi], cp)
    word = cls == WORD
    prev = np.zeros_like(word)
    prev[1:] = word[:-1]
    start = (cls >= CHAR) | (word & ~prev)
    # every token start is a token character: the tokens are found among the token characters only
    tok_chars = np.flatnonzero(cls != SPACE)
    start_t = start[tok_chars]
    first = np.flatnonzero(start_t)  # index (among the token characters) of each token's first character
    if not len(first):
        return np.zeros(0, np.uint64), np.zeros(n, np.int64), np.zeros(0, np.uint8)
    starts = tok_chars[first]
    tok_of_char = np.cumsum(start_t, dtype=np.int64) - 1
    rel = np.arange(len(tok_chars), dtype=np.int64) - first[tok_of_char]
    with np.errstate(over="ignore"):
        if rel.max() < MAX_HASH_CHARS:  # no token longer than MAX_HASH_CHARS (the usual case): no masks
            contrib = val[tok_chars].astype(np.uint64) * _powers()[rel]
        else:
            keep = rel < MAX_HASH_CHARS
            contrib = np.zeros(len(tok_chars), np.uint64)
            contrib[keep] = val[tok_chars[keep]].astype(np.uint64) * _powers()[rel[keep]]
        h = np.add.reduceat(contrib, first)
        length = np.diff(np.r_[first, len(tok_chars)]).astype(np.uint64)
        h = mix64(h ^ (length << np.uint64(56)))
    doc_of_tok = np.searchsorted(doc_start, starts, side="right") - 1
    counts = np.bincount(doc_of_tok, minlength=n).astype(np.int64)
    return h, counts, cls[starts]
