"""Unigram log-probability under a word-frequency table shipped inside the ``wordfreq`` package (offline).

``wordfreq`` (Speer et al., MIT code, CC BY-SA data) carries its frequency tables in the wheel itself
(``wordfreq/data/small_*.msgpack.gz``, ~58 MB installed, no download at run time; checked: the "small" lists
of 42 languages load offline). The language of a document is chosen by its dominant script
(:func:`app.learn.ccnet.scripts`, no language identifier so the signal stays fast):
latin -> English, cyrillic -> Russian, greek -> Greek, arabic -> Arabic, hebrew -> Hebrew, indic -> Hindi,
hangul -> Korean, han -> Chinese, japanese -> Japanese; ``other``/``thai`` -> NULL.

Tokens are those of the reference LM (:mod:`app.learn._hashtok`: lowercased words, digits as ``0``, one token
per Chinese/Japanese character), looked up by hash in the table's entries that are one token under the same
rule. Chinese/Japanese characters are looked up as one-character words, which underestimates characters
used mostly inside longer words. A token absent from the table counts at the floor frequency 1e-9.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from app.errors import MissingDependency
from app.signals._text import without_gc
from app.signals.base import Scorer, register

FLOOR = -9.0
SCRIPT_LANG = {"latin": "en", "cyrillic": "ru", "greek": "el", "arabic": "ar", "hebrew": "he", "indic": "hi",
               "hangul": "ko", "han": "zh", "japanese": "ja"}  # fmt: skip


@lru_cache(maxsize=16)
def table(lang: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted token hashes of the language's one-token words and their log10 frequencies."""
    from app.learn._hashtok import tokenize

    try:
        import wordfreq
    except ImportError as e:
        raise MissingDependency("wordfreq", "the unigram log-probability signal") from e
    freq = wordfreq.get_frequency_dict(lang, wordlist="small")
    words = list(freq)
    h, counts = tokenize(words)
    one = counts == 1
    first = np.r_[0, np.cumsum(counts)[:-1]]
    hashes = h[first[one]]
    # the dict's values in the order of ``words`` (its keys), kept where the word is one token
    logf = np.log10(np.fromiter(freq.values(), dtype=np.float64, count=len(words))[one])
    order = np.argsort(hashes, kind="stable")
    hashes, logf = hashes[order], logf[order]
    keep = np.r_[True, hashes[1:] != hashes[:-1]]  # several spellings may share a token: the first wins
    return hashes[keep], logf[keep]


@lru_cache(maxsize=16)
def _index(lang: str) -> Any:
    """The table's token hashes as a pandas index: a hash look-up per token, about 4x faster than a binary
    search of the sorted hashes (the same positions: the hashes are distinct)."""
    import pandas as pd

    return pd.Index(table(lang)[0])


def unigram_scores(texts: list[str]) -> tuple[list[float | None], list[float | None]]:
    """``(mean log10 frequency per word, share of words absent from the table)`` per text; words are the
    letter/digit tokens and the Chinese/Japanese characters (punctuation and symbols are not counted)."""
    from app.learn._hashtok import SYMBOL, tokenize_kinds
    from app.learn.ccnet import scripts

    texts = [t if isinstance(t, str) else "" for t in texts]
    h, counts, kinds = tokenize_kinds(texts)
    doc = np.repeat(np.arange(len(texts)), counts)
    word = kinds != SYMBOL
    h, doc = h[word], doc[word]
    # each document's language as a small integer (0: none), so a token's language is one integer gather
    names = ["", *sorted(set(SCRIPT_LANG.values()))]
    code = {lang: i for i, lang in enumerate(names)}
    langs = np.array([code[SCRIPT_LANG.get(s, "")] for s in scripts(texts)], dtype=np.int8)
    tok_lang = langs[doc]
    logp = np.full(len(h), np.nan)
    for k in sorted(set(langs.tolist()) - {0}):
        sel = np.flatnonzero(tok_lang == k)
        pos = _index(names[k]).get_indexer(h[sel])  # -1: not in the table
        logp[sel] = np.where(pos >= 0, table(names[k])[1][pos], np.nan)
    known = ~np.isnan(logp)
    scored = tok_lang != 0
    n = np.bincount(doc[scored], minlength=len(texts)).astype(float)
    s = np.bincount(doc[scored], weights=np.where(known, logp, FLOOR)[scored], minlength=len(texts))
    oov = np.bincount(doc[scored], weights=(~known[scored]).astype(float), minlength=len(texts))
    ok = (n > 0) & (langs != 0)
    mean = [float(a / b) if o else None for a, b, o in zip(s.tolist(), n.tolist(), ok.tolist(), strict=True)]
    share = [float(a / b) if o else None for a, b, o in zip(oov.tolist(), n.tolist(), ok.tolist(), strict=True)]
    return mean, share


@register
class Unigram(Scorer):
    name = "unigram"
    version = 1
    description = "unigram log-probability under wordfreq's shipped frequency tables"
    requires = ("wordfreq",)
    columns: ClassVar[dict[str, str]] = {"unigram_logprob": "DOUBLE", "unigram_oov_ratio": "DOUBLE"}
    docs: ClassVar[dict[str, str]] = {
        "unigram_logprob": "mean log10 word frequency per word (wordfreq 'small' table of the language of the "
        "document's script; unknown words at -9; punctuation not counted): low = rare words, noise or another language; NULL without words",
        "unigram_oov_ratio": "share of words absent from that frequency table (0..1); NULL without words",
    }

    def fingerprint(self) -> str:
        try:
            from importlib.metadata import version

            return f"{self.version}:wordfreq{version('wordfreq')}"
        except Exception:
            return str(self.version)

    @classmethod
    def check_available(cls) -> None:
        try:
            import wordfreq  # noqa: F401
        except ImportError as e:
            raise MissingDependency("wordfreq", "the unigram log-probability signal") from e

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        mean, share = unigram_scores(texts)
        return {"unigram_logprob": mean, "unigram_oov_ratio": share}
