"""FineWeb's line values of a one-line text (computed without the line list) equal the definition's."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals._text import words_aware
from app.signals.fineweb import _STOP, SHORT_LINE, fineweb_stats
from app.signals.gopher_repetition import duplicates


def _by_definition(text: str, ws: list[str]) -> tuple:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return (None, None, None, None)
    n = len(lines)
    return (
        sum(ln.endswith(_STOP) for ln in lines) / n,
        sum(len(ln) <= SHORT_LINE for ln in lines) / n,
        duplicates(lines)[1] / (len(text) - text.count("\n")),
        text.count("\n") / len(ws) if ws else None,
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?。\n\r\t\u2028\x85\u3000x")), max_size=40))
def test_fineweb_stats_match_the_definition(text):
    ws = words_aware(text)
    got, want = fineweb_stats(text, ws), _by_definition(text, ws)
    assert repr(got) == repr(want)
    assert [type(x) for x in got] == [type(x) for x in want]


def test_one_line_values():
    assert fineweb_stats("", []) == (None, None, None, None)
    assert fineweb_stats("  ", []) == (None, None, None, None)
    assert fineweb_stats("Short.", ["Short", "."]) == (1.0, 1.0, 0.0, 0.0)
    assert fineweb_stats("x" * 30, ["x" * 30]) == (0.0, 1.0, 0.0, 0.0)  # <= 30 characters is short
    assert fineweb_stats("x" * 31, ["x" * 31]) == (0.0, 0.0, 0.0, 0.0)
    assert fineweb_stats("日本語。", ["日", "本", "語", "。"]) == (1.0, 1.0, 0.0, 0.0)
