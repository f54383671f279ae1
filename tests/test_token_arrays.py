"""A batch's tokens as flat arrays (app/signals/_token_arrays.py) give back the tokens exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals import _token_arrays as tam

TOKEN = st.sampled_from(["a", "b", "the", "中", "é", "e\u0301", "", "\ud800", ".", "İ", "x" * 40])


def _check(docs: list[list[str]]) -> None:
    ta = tam.build(docs)
    assert [ta.vocab[i] for i in ta.ids.tolist()] == [w for d in docs for w in d]
    assert ta.counts.tolist() == [len(d) for d in docs]
    assert ta.vlens.tolist() == [len(w) for w in ta.vocab]
    assert len(set(ta.vocab)) == len(ta.vocab)
    # numbered by first appearance
    firsts = list(dict.fromkeys(w for d in docs for w in d))
    assert ta.vocab == firsts
    is_a = ta.flag("a", lambda w: w == "a")
    assert ta.per_doc(is_a[ta.ids]).tolist() == [d.count("a") for d in docs]
    assert ta.sum_per_doc(ta.vlens[ta.ids]).tolist() == [sum(map(len, d)) for d in docs]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(TOKEN, max_size=20), max_size=6))
def test_arrays_give_back_the_tokens(docs):
    _check(docs)


def test_surrogates_take_the_dict_path_with_the_same_numbering():
    docs = [["b", "\ud800", "a"], [], ["a", "b", "\ud800"]]
    _check(docs)
    assert tam.build(docs).vocab == ["b", "\ud800", "a"]


def test_memo_is_per_batch_object():
    docs = [["a", "b"]]
    assert tam.token_arrays(docs) is tam.token_arrays(docs)
    assert tam.token_arrays([["a", "b"]]) is not tam.token_arrays(docs)
