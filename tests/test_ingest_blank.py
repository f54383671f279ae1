"""The blank-text test of ingest (:func:`app.ingest.normalize.blank_sql`: a byte-comparison shortcut before the
regex) gives exactly the regex's answer for every text: whitespace of every kind the regex knows, any lead
character, empty and NULL."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ingest.normalize import _BLANK_RE, blank_sql

# the blank characters themselves, their neighbours in byte order, and any other code point
EDGE = "\t\n\x0b\x0c\r \x1f!\x7f\x80\xa0\xa1\u3000\u2000\u200b\u200c\ufeff\u00c1\u00c2~"
CHARS = st.one_of(st.sampled_from(EDGE), st.characters(exclude_categories=("Cs",)))
TEXT = st.one_of(st.none(), st.text(CHARS, max_size=6))

_CON = duckdb.connect()


def _both(texts: list[str | None]) -> list[tuple[bool | None, bool | None]]:
    sql = (
        f"SELECT {blank_sql('t')}, regexp_full_match(t, {_BLANK_RE}) "
        "FROM unnest(?::VARCHAR[]) WITH ORDINALITY u(t, i) ORDER BY i"
    )
    return _CON.cursor().execute(sql, [texts]).fetchall()


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=30))
def test_blank_sql_equals_the_regex(texts):
    for (fast, regex), t in zip(_both(texts), texts, strict=True):
        assert fast == regex, repr(t)


def test_blank_sql_cases():
    texts = ["", " ", "\u3000\t", "\xa0", "a", " a", "!", "\x7f", "\u00c2", "\ufeff", "\ufeffx", None]
    got = [fast for fast, _regex in _both(texts)]
    assert got == [True, True, True, True, False, False, False, False, False, True, False, None]
