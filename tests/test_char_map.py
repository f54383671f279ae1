"""app/signals/_char_map.py: a batch translated with arrays is the string ``str.translate`` gives, text by text."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals import _char_map
from app.signals._char_map import CharArrays


class _Table(dict):
    """Forms of several lengths, filled on a miss: letters upper-cased, digits doubled, punctuation spaced,
    control characters removed, everything else kept."""

    def __missing__(self, code: int) -> str:
        c = chr(code)
        form = (
            c.upper()
            if c.isalpha()
            else c * 2
            if c.isdigit()
            else ""
            if code < 32
            else f" {c} "
            if not c.isalnum() and not c.isspace()
            else c
        )
        self[code] = form
        return form


TEXTS = st.lists(st.text(alphabet=st.sampled_from("aZ9 ,.\n\x01ßİ中😀\u0301\x00"), max_size=30), max_size=8)


def _translate(arrays: CharArrays, texts: list[str]) -> str:
    joined = "".join(texts)
    cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return arrays.assemble(arrays.lookup(cp))


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_batch_translation_equals_str_translate(texts):
    table = _Table()
    arrays = CharArrays(table, ["<sep>", ""], "\x00")
    assert _translate(arrays, texts) == "".join(t.translate(table) for t in texts)
    # reserved forms keep their ids; marked forms are those holding the marker
    assert arrays.forms[:2] == ["<sep>", ""]
    assert arrays.marked.tolist() == ["\x00" in f for f in arrays.forms]


def test_forms_are_forgotten_past_the_bound(monkeypatch):
    monkeypatch.setattr(_char_map, "_MAX_FORMS", 8)
    table = _Table()
    arrays = CharArrays(table, ["|"], "\x00")
    for text in ["abc", "defgh", "ijklmnop", "a1b2", ""]:
        assert _translate(arrays, [text]) == text.translate(table)
        assert len(arrays.forms) <= 9
