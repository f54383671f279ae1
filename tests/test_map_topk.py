"""Top-k lists from score blocks (app/maps/topk.py) and the searches built on them (knn_ivf, probe_search)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.maps.knn import knn_exact, knn_ivf
from app.maps.topk import Candidates, block_top, kept, kth, not_self


def _unit(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 30), blocks=st.integers(1, 5), width=st.integers(1, 25), k=st.integers(1, 12),
       seed=st.integers(0, 10_000))  # fmt: skip
def test_floor_then_kept_equals_the_top_k_of_every_score(m, blocks, width, k, seed):
    rng = np.random.default_rng(seed)
    scores = [rng.permutation(m * width).reshape(m, width).astype(np.float32) + 1000 * b for b in range(blocks)]
    rows = [np.arange(width) + b * width for b in range(blocks)]
    cand = Candidates(m, k)
    top, ts = block_top(scores[0], k)  # the first block gives the floor, as the searches' nearest cell does
    cand.add(np.broadcast_to(np.arange(m)[:, None], top.shape), rows[0][top], ts)
    floor = kth(ts, k)
    for sc, rw in zip(scores[1:], rows[1:]):
        r, c = kept(sc, floor, k)
        assert np.bincount(r, minlength=m).max() <= k
        cand.add(r, rw[c], sc[r, c])
    idx, sim = cand.lists()
    every = np.concatenate(scores, axis=1)
    kk = min(k, every.shape[1])
    want = np.argsort(-every, axis=1, kind="stable")[:, :kk]
    assert np.array_equal(idx[:, :kk], want)  # distinct scores: the exact lists, best first
    assert np.array_equal(sim[:, :kk], np.take_along_axis(every, want, axis=1))
    assert (idx[:, kk:] == -1).all() and np.isneginf(sim[:, kk:]).all()


def test_not_self_masks_only_the_own_row():
    scores = np.zeros((3, 4), dtype=np.float32)
    not_self(scores, np.array([7, 9, 2]), np.array([5, 7, 2, 8]))
    assert np.isneginf(scores[0, 1]) and np.isneginf(scores[2, 2])
    assert np.isfinite(scores[1]).all() and int(np.isneginf(scores).sum()) == 2


def test_knn_ivf_probing_every_cell_is_exact():
    x = _unit(3_000, 16, 1)
    idx, sim = knn_ivf(x, 10, cells=20, nprobe=20, seed=0)
    ex_idx, ex_sim = knn_exact(x, x, 10, exclude_self=True)
    assert np.array_equal(idx, ex_idx)
    assert np.allclose(sim, ex_sim, atol=1e-5)


def test_knn_ivf_never_lists_a_point_as_its_own_neighbour_and_sorts_best_first():
    x = _unit(4_000, 24, 2)
    idx, sim = knn_ivf(x, 10, seed=0)
    assert not (idx == np.arange(len(x))[:, None]).any()
    assert (np.diff(sim, axis=1) <= 0).all()
    ex_idx, _ = knn_exact(x, x, 10, exclude_self=True)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, ex_idx)])
    assert recall > 0.6
