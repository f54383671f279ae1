"""The shortcuts of the tokeniser and of the C4 / Gopher quality families give exactly the results of the plain
rules they replace (issue 15, speed part A): each shortcut against a straightforward reference written here."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals import _text
from app.signals.c4 import _is_punct, count_sentences
from app.signals.gopher_quality import _PUNCT_SET, gopher_quality
from tests.test_signals_speed import _reference_words

# Characters that the infix / suffix patterns look at, letters of several scripts and a combining mark.
CHARS = st.sampled_from([*".…+-*^,–—~:<>=/19AZaz'’s%$€中文。，日本ไทย\u0e31é\u0301", "lbs", "km", "..", "—"])
CHUNKS = st.lists(CHARS, min_size=1, max_size=80).map("".join)


@settings(max_examples=400, deadline=None)
@given(CHUNKS)
def test_suffix_and_infix_shortcuts_equal_the_patterns(chunk):
    full = _text._SUFFIX.search(chunk)
    fast = _text._suffix(chunk)
    assert (full and full.span()) == (fast and fast.span())
    assert _text._infix_split(chunk) == _text._INFIX.split(chunk)


def _reference_aware(text: str) -> list[str]:
    """:func:`_text.words_aware` as first written: every token piece by piece through ``_UNIT``."""
    out: list[str] = []
    for t in _text.words(text):
        if _text.UNSPACED.search(t) is None:
            out.append(t)
            continue
        for piece in _text._UNIT.findall(t):
            out.extend([piece] if _text.UNSPACED.match(piece) else _text.words(piece))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(CHUNKS, st.sampled_from([" ", "\n", "  ", "\t"])), max_size=12).map("".join))
def test_words_and_words_aware_equal_the_plain_rules(text):
    assert _text.words(text) == _reference_words(text)
    assert _text.words_aware(text) == _reference_aware(text)


def test_words_keeps_special_cases_and_long_chinese_runs():
    assert _text.words("I can't go, gonna stay. It's 10km away (e.g. here).") == [
        *["I", "ca", "n't", "go", ",", "gon", "na", "stay", ".", "It", "'s", "10", "km", "away"],
        *["(", "e.g.", "here", ")", "."],
    ]
    run = "这次住的是豪华间，在19楼的，房间只有8-10平方米。" * 5
    assert _text.words_aware(run) == _reference_aware(run)
    assert _text.words(run) == _reference_words(run)
    assert _text.words(run)[-1] == "。" and "-" in _text.words(run)


def _reference_sentences(toks: list[str]) -> int:
    n, seen = (1 if toks else 0), False
    for t in toks:
        if t in _text.TERMINAL_PUNCTUATION:
            seen = True
        elif seen and not _is_punct(t):
            n, seen = n + 1, False
    return n


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from([".", "!", "?", "。", ",", "(", ")", '"', "…", "—", "a", "Bb", "中", "x."]), max_size=20)
)
def test_sentence_count_equals_the_token_walk(toks):
    assert count_sentences("", toks=toks) == _reference_sentences(toks)


def _reference_gopher(text: str, ws: list[str]) -> tuple:
    """The length, ellipsis-line and bullet-line values of :func:`gopher_quality` as first written."""
    nonsym = [w for w in ws if not _PUNCT_SET.issuperset(w)]
    mean = sum(map(len, nonsym)) / len(nonsym) if nonsym else None
    lines = text.splitlines()
    bullet = sum(1 for s in lines if s.lstrip().startswith(("•", "-"))) / len(lines) if lines else None
    ell = sum(1 for s in lines if s.rstrip().endswith(("...", "…"))) / len(lines) if lines else None
    return (len(nonsym), mean, bullet, ell)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["word", "...", "…", "-", "•", " - x", "!!", "#", "\n", " ", "12", "a.b"]), max_size=25)
)
def test_gopher_shortcuts_equal_the_plain_counts(pieces):
    text = "".join(pieces)
    ws = _text.words(text)
    got = gopher_quality(text, ws, aware=False)
    assert (got[0], got[2], got[5], got[6]) == _reference_gopher(text, ws)


PII_PIECES = st.sampled_from(
    [
        "a@b.com", "x.y+z@mail.example.org", "@user", "a@b", "192.168.0.1", "10.0.0.256", "1.2.3", "v1.2",
        "+1 555-123-4567", "(02) 1234 5678", "12 345", "2001:db8:0:0:0:0:2:1", "a:b:c:d:e:f:1:2", "::", "12:30",
        "http://x.org/a", "www.example.com", " ", "\n", "word", "9", ".", "-", "@", ":",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(PII_PIECES, max_size=20).map("".join))
def test_pii_hints_never_skip_a_match(text):
    from app.signals import pii

    got = pii.Pii().score_batch([text])
    ips = len(pii.IPV4.findall(text)) + len(pii.IPV6.findall(text))
    assert got["pii_emails"] == [len(pii.EMAIL.findall(text))]
    assert got["pii_phones"] == [pii._phone_count(text)]
    assert got["pii_ips"] == [ips]
    assert got["pii_urls"] == [len(pii.URL.findall(text))]
