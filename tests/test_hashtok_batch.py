"""The hashing tokeniser lowercases a whole batch at once: the same tokens as lowering each text alone."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.learn._hashtok import _lower_joined, tokenize_kinds

# letters whose lowercase depends on context or expands, spaces, marks, CJK, digits, an astral character
_ALPHABET = st.sampled_from([*"aZ Σσς\u0130İı\u0345\u0301ΑΒ.'-\n\t0٣中あ🙂Ǆǅ\u00adẞ", "\U00020000"])
_TEXTS = st.lists(st.one_of(st.text(_ALPHABET, max_size=12), st.none()), max_size=8)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_lower_joined_is_join_of_lowered(texts: list[str | None]) -> None:
    parts = [t.lower() if isinstance(t, str) else "" for t in texts]
    joined, lens = _lower_joined(texts)  # type: ignore[arg-type]
    assert joined == " ".join(parts)
    assert lens.tolist() == [len(p) for p in parts]


@settings(max_examples=200, deadline=None)
@given(_TEXTS)
def test_batch_tokens_are_each_texts_tokens(texts: list[str | None]) -> None:
    h, counts, kinds = tokenize_kinds(texts)  # type: ignore[arg-type]
    alone = [tokenize_kinds([t]) for t in texts]  # type: ignore[list-item]
    assert counts.tolist() == [int(a[1][0]) for a in alone]
    if texts:
        assert np.array_equal(h, np.concatenate([a[0] for a in alone]))
        assert np.array_equal(kinds, np.concatenate([a[2] for a in alone]))


def test_final_sigma_and_dotted_i_at_document_edges() -> None:
    texts = ["ΟΔΟΣ", "ΣΑ", "İstanbul", "ΑΣ", None, "x"]
    joined, lens = _lower_joined(texts)  # type: ignore[arg-type]
    assert joined == " ".join(t.lower() if t else "" for t in texts)
    assert joined.startswith("οδος σα")
    assert lens.tolist() == [4, 2, 9, 2, 0, 1]
