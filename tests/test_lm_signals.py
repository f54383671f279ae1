"""Model-free companions of the reference LMs: compression ratio and wordfreq unigram log-probability."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals.compression import Compression, compression_ratio
from app.signals.unigram import Unigram, unigram_scores


def test_compression_ratio_orders_repetition_prose_and_noise():
    import random

    rng = random.Random(0)
    prose = "The committee met on Tuesday to discuss the budget, and several members raised concerns about costs."
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789!@#$%") for _ in range(len(prose)))
    spam = "buy now " * 13
    r = Compression().score_batch([spam, prose, noise, "", None])["compression_ratio"]
    assert r[0] < r[1] < r[2] and r[3] is None and r[4] is None
    assert r[1] == len(zlib.compress(prose.encode(), 6)) / len(prose.encode())


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=300))
def test_compression_ratio_is_positive_and_bounded(t):
    r = compression_ratio(t)
    raw = len(t.encode("utf-8", "surrogatepass"))
    assert (r is None) == (raw == 0)
    if r is not None:
        assert 0 < r <= (raw + 64) / raw  # DEFLATE's stored-block bound plus its header


def test_unigram_logprob_prefers_common_words():
    pytest.importorskip("wordfreq")
    mean, oov = unigram_scores(["The cat sat on the mat.", "qzxv blorft wrrk", "酒店很好", "", "!!! ???", "Привет мир"])
    assert mean[0] > -4 > mean[1] == -9.0 and oov[0] == 0.0 and oov[1] == 1.0
    assert mean[2] is not None and mean[2] > -6  # Chinese characters looked up in the Chinese table
    assert mean[3] is None and mean[4] is None and oov[4] is None  # no words: NULL
    assert mean[5] is not None and mean[5] > -6
    out = Unigram().score_batch(["hello world", None])
    assert out["unigram_logprob"][1] is None and out["unigram_logprob"][0] > -6
    assert Unigram().fingerprint().startswith("1:wordfreq")
