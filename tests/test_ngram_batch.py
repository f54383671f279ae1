"""The batch n-gram kernel of gopher_repetition gives exactly the one-document reference's fractions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals._text import words_batch
from app.signals.gopher_repetition import gopher_repetition, gopher_repetition_columns

# few distinct words, so n-grams repeat (ties, overlapping repeats, skips) in short texts
WORD = st.sampled_from(["a", "b", "c", "the", "cat", "中", "文", "Ab", "x.", "\n", "\n\n", ""])
TEXT = st.lists(WORD, max_size=60).map(" ".join)


def _check(texts: list[str]) -> None:
    for mode in ("aware", "datatrove"):
        toks = words_batch(texts, mode)
        cols = gopher_repetition_columns(texts, toks, aware=mode == "aware")
        got = [tuple(c[i] for c in cols) for i in range(len(texts))]
        want = [gopher_repetition(t, ws, aware=mode == "aware") for t, ws in zip(texts, toks, strict=True)]
        assert got == want


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_batch_equals_reference_on_generated_texts(texts):
    _check(texts)


def test_batch_equals_reference_on_edge_cases():
    rep = "one two three four five six " * 40
    _check(["", " ", "a", "a a", "a b a b a b", rep, "x " * 3000, rep + "\n\n" + rep, "中文" * 50, ""])


def test_batch_equals_reference_on_realmix(realmix):
    import duckdb

    rows = duckdb.execute(
        "SELECT text FROM read_parquet(?) USING SAMPLE 600 ROWS (reservoir, 5)", [str(realmix / "realmix.parquet")]
    )
    _check([r[0] for r in rows.fetchall()])
