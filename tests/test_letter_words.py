"""The quality score's words found with numpy (app/signals/_letter_words.py) are exactly its patterns' findall."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals import _quality_batch as qb
from app.signals import _quality_words as q
from app.signals._letter_words import utf8_offsets, word_spans, word_strings

# letters, apostrophes in every position, digits, underscore, CJK/Thai letters and marks, far-plane letters (and an
# unassigned code point of the CJK extension range), a lone surrogate, numbers that are letters to \w (① ½)
CHARS = st.sampled_from(
    [*"ab'’ _1.-\n", "é", "e\u0301", "中", "文", "の", "ไ", "\u0e31", "\u0e48", "\u102c", "\U00020000",
     "\U0003134a", "\U0002a6e0", "\ud800", "①", "½", "ǅ", "ß", "İ", "\u3000", "\u200b"]
)  # fmt: skip
TEXT = st.lists(CHARS, max_size=40).map("".join)


def _words(text: str, aware: bool) -> list[str]:
    cp, kind = qb._codes_kinds(text)
    letter = (kind & qb._LETTER) != 0
    if aware:
        s, e = word_spans(cp, letter, (kind & qb._BASE_BIT) != 0, (kind & qb._MARK_BIT) != 0)
    else:
        s, e = word_spans(cp, letter)
    data = text.encode("utf-8", "surrogatepass")
    got = word_strings(data, utf8_offsets(cp, s), utf8_offsets(cp, e)).to_pylist()
    assert got == [text[a:b] for a, b in zip(s.tolist(), e.tolist(), strict=True)]
    return got


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_words_equal_the_patterns_findall(text):
    assert _words(text, False) == q._WORD.findall(text)
    assert _words(text, True) == q._WORD_AWARE.findall(text)


def test_apostrophe_chains_pair_from_the_left():
    for text in ("a'b'c", "a'b'c'd", "'a'", "a''b", "a'", "中'a'b", "a'中", "x’y’z w"):
        assert _words(text, False) == q._WORD.findall(text)
        assert _words(text, True) == q._WORD_AWARE.findall(text)
