"""The batch quality scorer gives exactly the one-document reference's scores (word-list POS flags)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals._quality_batch import document_scores
from app.signals._text import line_words_batch
from app.signals.quality_sharma import INDICATORS, document_score, neutral_mask

PIECE = st.sampled_from(
    [
        "The", "the", "a", "cat", "Nation", "happiness", "him", "them", "HELLO", "WORLD", "it's", "don’t", "12",
        "3.5", "!!", "{x}", "javascript", "Lorem ipsum", ".", "?", "”", ")", "中文", "日本語", "Привет", "мир",
        "ΟΔΟΣ", "İstanbul", "ǅ", "\u3000", "\u2028", "\x0b", "\r\n", "\n", "\n\n", " ", "\t", "𝐀", "😀", "١٢",
    ]
)  # fmt: skip
TEXT = st.lists(PIECE, max_size=40).map(" ".join)
WEIGHTS = [1.0] * len(INDICATORS)


def _check(texts: list[str], weights: list[float] = WEIGHTS) -> None:
    for mode in ("aware", "datatrove"):
        aware = mode == "aware"
        per_line = line_words_batch(texts, mode)
        got, lines = document_scores(texts, weights, per_line, aware=aware)
        want = [document_score(t, weights, aware=aware, line_tokens=lt) for t, lt in zip(texts, per_line, strict=True)]
        assert got == want
        assert lines == [sum(1 for ln in t.splitlines() if ln.strip()) for t in texts]


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_batch_equals_reference_on_generated_texts(texts):
    _check(texts)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(TEXT, min_size=1, max_size=4),
    st.lists(st.floats(0, 3, allow_nan=False), min_size=len(INDICATORS), max_size=len(INDICATORS)),
)
def test_batch_equals_reference_with_any_weights(texts, weights):
    _check(texts, weights)


def test_batch_equals_reference_on_edge_cases():
    _check(["", " ", "\n\n", "Привет мир. Это текст.", "中文，测试。", "lone \ud800 surrogate", "x" * 5000, ""])
    assert neutral_mask("Привет мир") is not None  # the language-neutral weights are exercised above


def test_batch_equals_reference_on_realmix(realmix):
    import duckdb

    rows = duckdb.execute(
        "SELECT text FROM read_parquet(?) USING SAMPLE 800 ROWS (reservoir, 3)", [str(realmix / "realmix.parquet")]
    )
    _check([r[0] for r in rows.fetchall()])
