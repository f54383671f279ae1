"""Gopher quality's count of spaced words (one substitution over the joined words) equals the per-word rule."""

from __future__ import annotations

from itertools import compress
from operator import not_

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals._unspaced import UNSPACED
from app.signals.gopher_quality import _spaced

_WORD = st.text(st.sampled_from([*"ab中文あ\u0e01\u0e31x1.\u0301\n", "\U00020000"]), min_size=0, max_size=6)


def _reference(words: list[str]) -> tuple[int, int]:
    spaced = list(compress(words, map(not_, map(UNSPACED.match, words))))
    return len(spaced), sum(map(len, spaced))


@settings(max_examples=400, deadline=None)
@given(st.lists(_WORD, max_size=12))
def test_spaced_equals_per_word_rule(words: list[str]) -> None:
    assert _spaced(words) == _reference(words)


def test_spaced_examples() -> None:
    assert _spaced(["中", "文", "abc", "中x", "x中", "ก"]) == (2, 5)
    assert _spaced([]) == (0, 0)
    assert _spaced(["a\nb", "中"]) == (1, 3)  # a newline inside a word: the per-word path
