"""The fast paths of the signal engine give exactly the outputs of the slow ones.

- Language ID: the batch classifier (:mod:`app.signals._langid_batch`) against py3langid's own ``classify`` and
  ``rank`` one text at a time.
- Token counts: :class:`app.signals.size.TokenCounter` against the tokenizer's ``encode_batch``.
- Every column of every document family (both segmentation modes) on 2,000 realmix documents against digests
  frozen from the outputs before the speed work (``tests/golden/signals_columns.json``).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals import _text, engine
from app.signals.lang import _Py3Langid, prepare
from app.signals.size import count_tokens, encode_counts

GOLDEN = Path(__file__).parent / "golden" / "signals_columns.json"
#: Every STEP-th realmix document (by id) is in the frozen sample.
STEP = 27
SEGMENTED = ("c4", "fineweb", "gopher_quality", "gopher_repetition", "quality")

EDGE_TEXTS = [
    "",
    "a",
    "ab",
    "x y",
    "é",
    "中",
    "HELLO WORLD, THIS IS ALL CAPS",
    "ΟΔΟΣ ΣΟΦΟΣ",
    "hello [CLS] world [cls] [MASK]",
    "x\x0by\x0cz\x1cw",
    "lone \ud800 surrogate",
    "①② ﬁne İstanbul a\u0301b Ạ̈ a\u00adb",
    "粤语嘅字，佢哋喺度。",
    "wetin dey happen abeg",
    "u r so funny lol gonna cry",
    "中文，测试。日本語のテキストです。",
    "a" * 300 + " " + "b" * 5,
    "tab\tand\r\nCRLF\u2028line\u3000ideographic space",
]


def column_digest(column: str, values: list) -> str:
    """sha256 of a column's values; language confidences rounded to 6 places (float32 arithmetic may round
    differently on another CPU)."""
    if column == "lang_score":
        values = [None if v is None else round(v, 6) for v in values]
    canon = [v if not isinstance(v, float) or not math.isnan(v) else "nan" for v in values]
    return hashlib.sha256(json.dumps(canon).encode()).hexdigest()


def _realmix_texts(realmix: Path, step: int = 1) -> list[str]:
    import duckdb

    rows = duckdb.execute("SELECT text FROM read_parquet(?) ORDER BY id", [str(realmix / "realmix.parquet")])
    return [r[0] for r in rows.fetchall()][::step]


def _check_lang(texts: list[str]) -> None:
    be = _Py3Langid()
    assert be.fast is not None, "the shipped py3langid model is not the measured one"
    prepared = [p for p in map(prepare, texts) if p is not None]
    assert be.batch(prepared) == [be(t) for t in prepared]


# Pieces that exercise the tokenizers' special cases: punctuation at word edges, abbreviations, clitics, URLs,
# numbers with units, CJK, combining marks, odd whitespace and control characters, special tokens.
PIECES = st.sampled_from(
    [
        "word", "Word", "WORD", "it's", "can't", "Mr.", "U.S.", "etc.", "e.g.", "a.", "A.", "3.5", "10km", "$5",
        "www.x.org", "http://a.b/c", "@user", "#tag", "&#8230;", "<unk>", "@-@", "(", ")", ",", ".", "...", "…",
        "!", "?", "\"", "'", "’", "-", "–", "—", "中文", "。", "，", "日本語", "ไทย", "é", "e\u0301", "ﬁ", "①",
        "İ", "Σ", "[CLS]", "[cls]", "\u00ad", "\x0b", "\x1c", "\u3000", "\u2028", "\t", "\r\n", "\n", " ",
    ]
)  # fmt: skip
TEXTS = st.lists(PIECES, max_size=30).map("".join)


def _reference_words(text: str) -> list[str]:
    """:func:`_text.words` without its shortcuts and cache: every chunk through ``_split_chunk``."""
    out: list[str] = []
    for chunk in text.split():
        if (chunk.isalpha() or chunk.isdigit()) and chunk not in _text.SPECIAL:
            out.append(chunk)
        else:
            _text._split_chunk(chunk, out)
    return out


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_words_shortcuts_equal_the_full_rules(text):
    assert _text.words(text) == _reference_words(text)
    assert _text.words(text) == _reference_words(text)  # second time from the chunk cache


@settings(max_examples=50, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=5))
def test_line_tokens_join_to_text_tokens(texts):
    for mode in _text.MODES:
        _text.reset_memo()
        per_line = _text.line_words_batch(texts, mode)
        assert [[w for ln in lines for w in ln] for lines in per_line] == [_text.tokenize(t, mode) for t in texts]


@settings(max_examples=50, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=8))
def test_token_counts_equal_encode_batch_on_generated_texts(texts):
    assert count_tokens(texts) == encode_counts(texts)


@settings(max_examples=20, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=8))
def test_lang_batch_equals_py3langid_on_generated_texts(texts):
    _check_lang(texts)


def test_lang_batch_equals_py3langid_on_edge_texts():
    _check_lang(EDGE_TEXTS * 3)


def test_lang_batch_equals_py3langid_on_realmix(realmix):
    _check_lang(_realmix_texts(realmix, 60))


def test_token_counts_equal_encode_batch_on_edge_texts():
    texts = [*EDGE_TEXTS, "x" * 250_000]
    assert count_tokens(texts) == encode_counts(texts)


def test_token_counts_equal_encode_batch_on_realmix(realmix):
    texts = _realmix_texts(realmix, 30)
    assert count_tokens(texts) == encode_counts(texts)


@pytest.mark.slow
def test_every_column_unchanged_on_realmix(realmix):
    """All document families, both segmentation modes, against the outputs frozen before the speed work."""
    gold = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert gold["step"] == STEP
    texts = _realmix_texts(realmix, STEP)
    assert len(texts) == gold["documents"]
    fams = [n for n, c in engine.families().items() if c.scope == "document"]
    got = engine.score_texts(texts, fams)
    dt = engine.score_texts(texts, SEGMENTED, options={f: {"segmentation": "datatrove"} for f in SEGMENTED})
    got.update({f"dt:{k}": v for k, v in dt.items()})
    changed = [k for k, d in gold["digests"].items() if column_digest(k.split(":")[-1], got[k]) != d]
    assert not changed, f"columns changed: {changed}"
