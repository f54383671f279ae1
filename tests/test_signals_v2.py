"""Signals v2 (issue 15): every language treated fairly.

The default ``segmentation: aware`` splits scripts written without spaces into one word per letter, ends
sentences with CJK marks, and leaves out English-only indicators for non-Latin text; ``datatrove`` keeps
DataTrove's English behaviour. Text without such scripts must get the same values in both modes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import SignalError
from app.signals import reference
from app.signals._text import words, words_aware
from app.signals._unspaced import UNSPACED
from app.signals.engine import score_texts

FAMS = list(reference.DATATROVE_DEFAULTS)
# a Chinese paragraph of ordinary prose (written for this test): 5 sentences, ~150 characters
ZH = (
    "这家酒店位于市中心，交通非常方便，步行五分钟就可以到达地铁站。房间虽然不大，但是干净整洁，床也很舒服。"
    "前台的服务员态度热情，办理入住的速度很快，还主动帮我们把行李送到了房间。早餐的种类比较丰富，有中式的粥和包子，"
    "也有西式的面包和咖啡。总的来说，这次住得很满意，价格也合理，下次来这个城市出差的时候还会选择这里。"
)


def _values(texts: list[str], mode: str) -> dict[str, list]:
    return score_texts(texts, [*FAMS, "quality"], options={f: {"segmentation": mode} for f in [*FAMS, "quality"]})


def _row(cols: dict[str, list], i: int = 0) -> dict:
    return {c: v[i] for c, v in cols.items()}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_aware_tokens_equal_datatrove_without_unspaced_scripts(text):
    if UNSPACED.search(text) is None:
        assert words_aware(text) == words(text)
    else:  # every piece of text survives the split (nothing lost, nothing invented)
        assert "".join(words_aware(text)) == "".join(words(text))


def test_chinese_paragraph_passes_language_aware_gopher_and_c4():
    aware, faithful = _row(_values([ZH], "aware")), _row(_values([ZH], "datatrove"))
    assert aware["gopher_word_count"] >= 100 and faithful["gopher_word_count"] < 10
    assert aware["gopher_mean_word_length"] is None  # does not apply to a script without spaces
    assert aware["gopher_stop_words"] >= 2 and aware["c4_sentences"] == 5
    for fam in FAMS:
        assert reference.keep(fam, aware, aware=True), (fam, reference.drop_reason(fam, aware, aware=True))
    # DataTrove's English defaults drop it as one short "word" without sentences
    assert reference.drop_reason("gopher_quality", faithful) == "gopher_short_doc"
    assert reference.drop_reason("c4", faithful) == "too_few_sentences"
    # the Sharma score leaves out the English word lists instead of failing them
    assert aware["quality_score"] > faithful["quality_score"]


def test_japanese_and_thai_are_words_per_letter():
    ja = "今日は天気がとても良いので、公園まで散歩に行きました。"
    th = "วันนี้อากาศดีมาก"
    assert len(words_aware(ja)) == len(ja)  # every kana/kanji and the two marks
    assert len(words_aware(th)) < len(th)  # combining vowels and tone marks stay with their letter
    assert all(UNSPACED.match(w) for w in words_aware(th))


def test_empty_and_not_applicable_differ():
    cols = _row(_values([""], "aware"))
    assert reference.drop_reason("gopher_quality", cols, aware=True) == "empty"
    assert not reference.keep("gopher_quality", cols, aware=True)
    sql = reference.keep_sql("gopher_quality", aware=True)
    assert '"gopher_word_count" > 0' in sql


def test_empty_documents_are_dropped_as_empty():
    """Not as the first rule their NULL values fail (dup_para_frac, line_punct_ratio...)."""
    empty, short = _values(["", "Short text."], "aware"), _values(["Short text."], "datatrove")
    for fam in FAMS:
        assert reference.drop_reason(fam, _row(empty)) == "empty", fam
        assert not reference.keep(fam, _row(empty))
        assert reference.drop_reason(fam, _row(empty, 1)) != "empty", fam
    assert reference.drop_reason("gopher_quality", _row(short)) == "gopher_short_doc"


def test_unknown_segmentation_is_a_clear_error():
    with pytest.raises(SignalError, match="segmentation"):
        score_texts(["x"], ["c4"], options={"c4": {"segmentation": "spacy"}})


@pytest.mark.realdata
def test_realmix_latin_text_is_unchanged_and_chinese_reviews_pass(realmix):
    """English parity: on realmix documents without CJK/Thai letters both modes give identical values; real
    Chinese reviews of a paragraph or more mostly pass the language-aware Gopher and C4 rules."""
    import duckdb

    def texts(where: str, n: int) -> list[str]:
        q = f"SELECT text FROM read_parquet(?) WHERE {where} ORDER BY hash(id) LIMIT {n}"
        return [r[0] for r in duckdb.execute(q, [str(realmix / "realmix.parquet")]).fetchall()]

    rows = [(t, False) for t in texts("source <> 'zh_reviews'", 300)]
    rows += [(t, True) for t in texts("source = 'zh_reviews' AND length(text) >= 150", 150)]
    latin = [t for t, zh in rows if not zh and UNSPACED.search(t) is None]
    zh = [t for t, is_zh in rows if is_zh]
    assert len(latin) > 250 and len(zh) == 150
    a, d = _values(latin, "aware"), _values(latin, "datatrove")
    for c in a:
        assert a[c] == d[c], c
    za, zd = _values(zh, "aware"), _values(zh, "datatrove")
    for fam in ("gopher_quality", "c4"):
        kept_a = sum(reference.keep(fam, _row(za, i), aware=True) for i in range(len(zh)))
        kept_d = sum(reference.keep(fam, _row(zd, i)) for i in range(len(zh)))
        assert kept_d == 0 and kept_a >= 0.5 * len(zh), (fam, kept_a, kept_d, len(zh))


def test_language_id_short_mandarin_and_informal_english():
    """py3langid alone tags short Mandarin as Wu and an English tweet as Nigerian Pidgin; the scorer keeps
    yue/wuu/pcm for text with their own characters or words."""
    pytest.importorskip("py3langid")
    texts = [
        "两个小时才到",
        "蔬菜沙拉没送",
        "佢哋今日唔嚟食飯，我哋自己去啦",
        "i wanna go to the ghetto club tonight.",
        "Abeg wetin dey happen for here? Na wahala o, my pikin no sabi book",
    ]
    got = score_texts(texts, ["lang"])
    assert got["lang_code"] == ["zh", "zh", "yue", "en", "pcm"]
    assert all(0 < p <= 1 for p in got["lang_score"])
