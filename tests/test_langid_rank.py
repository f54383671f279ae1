"""py3langid's ranking from batch scores (app/signals/_langid_batch.py ``rank``) against the rule it replaces:
each label's first class score, sorted best first by a stable descending sort (ties in class order)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def fast():
    from app.signals.lang import _py3langid_batch

    model = _py3langid_batch()
    if model is None:
        pytest.skip("the installed py3langid model is not the measured one")
    return model


def _reference(classes: list[str], scores: np.ndarray) -> list[tuple[str, float]]:
    merged: dict[str, float] = {}
    for lang, s in zip(classes, scores.tolist(), strict=True):
        merged.setdefault(lang, s)
    return sorted(merged.items(), key=lambda kv: kv[1], reverse=True)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_rank_equals_the_stable_descending_sort(fast, data):
    n = len(fast.classes)
    # few distinct values, so ties (and zeros from folded aliases) are common
    levels = data.draw(st.lists(st.sampled_from([0.0, -0.0, 1e-9, 0.25, 0.5, 0.7]), min_size=n, max_size=n))
    scores = np.array(levels, dtype=np.float32)
    assert fast.rank(scores) == _reference(fast.classes, scores)


def test_rank_on_softmax_scores(fast):
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.normal(size=len(fast.classes)).astype(np.float32)
        scores = np.exp(x) / np.exp(x).sum()
        assert fast.rank(scores) == _reference(fast.classes, scores)
