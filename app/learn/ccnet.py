"""CCNet buckets (Wenzek et al. 2020): head / middle / tail by a reference model's perplexity terciles, per
writing system.

CCNet splits each language's documents into thirds by the perplexity of a Wikipedia-trained model. Winnow
computes the two tercile thresholds when a model is fitted (over the whole workspace, ``winnow lm fit``) and
stores them with the model, so a headless run assigns exactly the same buckets from the same numbers.

Per *script* rather than per language: a bucket must be computable from the text alone, in headless runs too,
at the speed of the model (>= 10,000 documents/s); a language identifier runs at about 1,300 documents/s here.
The dominant script of a document's letters (``latin``, ``cyrillic``, ``greek``, ``arabic``, ``hebrew``,
``indic``, ``thai``, ``hangul``, ``japanese`` when kana are present, ``han``, ``other``) separates what a
perplexity scale separates most (a Wikipedia English model gives every Chinese text a huge perplexity). A
script with fewer than :data:`MIN_DOCS` documents at fit time, or unseen then, uses the workspace-wide
thresholds (key ``*``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from app.learn._hashtok import SPACE, SYMBOL, _tables

MIN_DOCS = 30
NAMES = ("other", "latin", "greek", "cyrillic", "arabic", "hebrew", "indic", "thai", "hangul", "japanese", "han")
_RANGES = {
    "latin": ((0x41, 0x24F), (0x1E00, 0x1EFF)),
    "greek": ((0x370, 0x3FF), (0x1F00, 0x1FFF)),
    "cyrillic": ((0x400, 0x52F),),
    "hebrew": ((0x590, 0x5FF),),
    "arabic": ((0x600, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "indic": ((0x900, 0xDFF),),
    "thai": ((0xE00, 0xEFF),),
    "hangul": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
    "japanese": ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)),
    "han": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)),
}


@lru_cache(maxsize=1)
def _script_table() -> np.ndarray:
    cls, _ = _tables()
    t = np.zeros(0x10000, np.uint8)
    for name, ranges in _RANGES.items():
        for lo, hi in ranges:
            t[lo : hi + 1] = NAMES.index(name)
    t[(cls == SPACE) | (cls == SYMBOL)] = 0  # only letters vote
    return t


def scripts(texts: list[str]) -> list[str]:
    """The dominant script of each text's letters (first 2,000 characters); ``japanese`` as soon as kana
    make up a tenth of the Han + kana letters."""
    n = len(texts)
    if not n:
        return []
    low = [t[:2000] if isinstance(t, str) else "" for t in texts]
    cp = np.frombuffer(" ".join(low).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lens = np.fromiter(map(len, low), dtype=np.int64, count=n)
    doc = np.repeat(np.arange(n), lens + 1)[: len(cp)]
    sc = _script_table()[np.minimum(cp, 0xFFFF)].astype(np.int64)
    sc[(cp >= 0x20000) & (cp < 0x40000)] = NAMES.index("han")
    k = len(NAMES)
    counts = np.bincount(doc * k + sc, minlength=n * k).reshape(n, k)
    counts[:, 0] = 0
    ja, han = NAMES.index("japanese"), NAMES.index("han")
    kana = counts[:, ja] * 10 >= counts[:, ja] + counts[:, han]
    counts[:, ja] = np.where(kana & (counts[:, ja] > 0), counts[:, ja] + counts[:, han], 0)
    best = counts.argmax(axis=1)
    best[counts.max(axis=1) == 0] = 0
    return [NAMES[i] for i in best]


def thresholds(ppl: np.ndarray, groups: list[str]) -> dict[str, list[float]]:
    """Tercile thresholds of ``ppl`` per script (and ``*`` over all), ignoring documents without a value."""
    ppl = np.asarray(ppl, dtype=np.float64)
    g = np.asarray(groups, dtype=object)
    ok = ~np.isnan(ppl)
    out: dict[str, list[float]] = {}
    if ok.sum():
        out["*"] = [float(x) for x in np.quantile(ppl[ok], [1 / 3, 2 / 3])]
    for s in sorted(set(g[ok].tolist())):
        v = ppl[ok & (g == s)]
        if len(v) >= MIN_DOCS:
            out[s] = [float(x) for x in np.quantile(v, [1 / 3, 2 / 3])]
    return out


class Buckets:
    """Assigns ``head`` (perplexity <= first tercile), ``middle``, ``tail`` (> second tercile) per script."""

    def __init__(self, th: dict[str, Any]):
        self.th = {k: (float(v[0]), float(v[1])) for k, v in th.items()}

    def assign(self, texts: list[str], ppl: np.ndarray) -> list[str | None]:
        out: list[str | None] = []
        default = self.th.get("*")
        for s, p in zip(scripts(texts), ppl.tolist(), strict=True):
            t = self.th.get(s, default)
            if t is None or math.isnan(p):
                out.append(None)
            else:
                out.append("head" if p <= t[0] else "middle" if p <= t[1] else "tail")
        return out
