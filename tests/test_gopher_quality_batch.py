"""Gopher quality for a whole batch (token arrays) gives exactly the one-document reference's values."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals._text import words_batch
from app.signals.gopher_quality import gopher_quality, gopher_quality_rows

PIECE = st.sampled_from(
    ["the", "of", "and", "Word", "...", "…", "#", "#tag", "-", "•", "中", "文", "的", "の", "ไทย", "e\u0301",
     ",", ".", "!", "(", ")", "12", "a1", "\u3002", "\ud800", " ", "\n", "\n\n", "- x", "• y", "x..."]
)  # fmt: skip
TEXT = st.lists(PIECE, max_size=40).map(" ".join)


def _check(texts: list[str]) -> None:
    for mode in ("aware", "datatrove"):
        toks = words_batch(texts, mode)
        got = gopher_quality_rows(texts, toks, aware=mode == "aware")
        want = [gopher_quality(t, w, aware=mode == "aware") for t, w in zip(texts, toks, strict=True)]
        assert [tuple(map(repr, r)) for r in got] == [tuple(map(repr, r)) for r in want]


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_batch_equals_reference_on_generated_texts(texts):
    _check(texts)


def test_batch_equals_reference_on_edge_cases():
    _check(["", " ", "#", "...", "中文" * 30, "the of and " * 20, "\n\n", "- a\n• b\nc…", "lone \ud800"])


def test_batch_equals_reference_on_realmix(realmix):
    import duckdb

    rows = duckdb.execute(
        "SELECT text FROM read_parquet(?) USING SAMPLE 600 ROWS (reservoir, 7)", [str(realmix / "realmix.parquet")]
    )
    _check([r[0] for r in rows.fetchall()])
