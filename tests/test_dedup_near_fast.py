"""The cheaper near-dedup steps give the values of their straightforward versions (issue 18's CPU work)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.signals import _lsh
from app.signals import dedup_near as dn

_TEXT = st.text(alphabet=st.sampled_from(list("ab cd\u00e9\u4e2d\u6587 .\n\u0e44\u0e17\u0e22XY_9")), max_size=60)


def _band_keys_reference(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The band keys as first written: the whole matrix widened to uint64 and summed over each band."""
    with np.errstate(over="ignore"):
        s = sig[:, : bands * rows].astype(np.uint64).reshape(len(sig), bands, rows)
        keys = (s * dn.BAND_MUL[None, None, :rows]).sum(axis=2, dtype=np.uint64)
        keys += np.arange(bands, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
        keys ^= keys >> np.uint64(31)
        keys |= np.uint64(1)
    keys = keys.view(np.int64)
    keys[(sig == dn.EMPTY).all(axis=1)] = 0
    return keys


@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, max_size=12))
def test_signature_array_equals_blobs(texts: list[str]) -> None:
    arr = dn.signature_array(texts)
    assert arr.to_pylist() == dn.signature_blobs(texts)
    assert arr.null_count == sum(b is None for b in dn.signature_blobs(texts))


@settings(max_examples=40, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=10), st.sampled_from([0.3, 0.6, 0.7, 0.8, 0.9, 1.0]))
def test_band_keys_equal_the_reference(texts: list[str], t: float) -> None:
    sig = dn.signatures(texts)
    b, r = _lsh.bands_for(t, dn.NUM_PERM)
    assert (dn.band_keys(sig, b, r) == _band_keys_reference(sig, b, r)).all()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127), max_size=50), max_size=8))
def test_ascii_texts_have_the_unicode_words(texts: list[str]) -> None:
    """ASCII texts take the ASCII regular expression: the same shingles as the Unicode one gives."""
    import re

    got, counts = dn.shingles(texts)
    old = dn._ASCII_WORD
    try:
        dn._ASCII_WORD = re.compile(r"\w+")  # the Unicode words
        want, want_counts = dn.shingles(texts)
    finally:
        dn._ASCII_WORD = old
    assert got.tolist() == want.tolist()
    assert counts.tolist() == want_counts.tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**64 - 1)), max_size=40))
def test_distinct_pairs(pairs: list[tuple[int, int]]) -> None:
    r = np.array([p[0] for p in pairs], dtype=np.int64)
    h = np.array([p[1] for p in pairs], dtype=np.uint64)
    gr, gh = _lsh._distinct_pairs(r, h)
    assert list(zip(gr.tolist(), gh.tolist(), strict=True)) == sorted(set(pairs))
