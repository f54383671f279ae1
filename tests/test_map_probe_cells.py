"""The streamed map's cheaper per-cluster stage (app.maps.probe, app.maps.knn): cells chosen in two levels (a group's
preselected candidates, then each query's nearest among them) and a cluster's fine cells taken from its knn_ivf
search instead of trained and assigned twice."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.maps.knn import knn_ivf
from app.maps.probe import CellStore, _choose_cells, probe_search
from tests.test_map_scale import _clustered


def _stores(tmp_path, x, cl):
    return [CellStore(tmp_path / f"c{c}.f32", x[cl == c], np.flatnonzero(cl == c), seed=0) for c in range(3)]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 1000), st.integers(1, 6), st.integers(1, 40))
def test_each_query_takes_its_nearest_cells_among_its_groups_preselection(seed, t, pre):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((60, 8)).astype(np.float32)
    cents = rng.standard_normal((30, 8)).astype(np.float32)
    bounds = np.array([0, 7, 7, 31, 60])  # four groups, one empty
    gcent = rng.standard_normal((4, 8)).astype(np.float32)
    t = min(t, len(cents))
    probe, best = _choose_cells(q, cents, t, (bounds, gcent), pre)
    p = max(t, pre)
    for g in range(4):
        cand = np.argsort(-(gcent[g] @ cents.T), kind="stable")[:p] if p < len(cents) else np.arange(len(cents))
        for i in range(bounds[g], bounds[g + 1]):
            s = q[i] @ cents[cand].T
            assert set(probe[i]) == set(cand[np.argsort(-s, kind="stable")[:t]])
            assert best[i] == cand[np.argmax(s)]
    full, full_best = _choose_cells(q, cents, t, None, 0)
    wide, wide_best = _choose_cells(q, cents, t, (bounds, gcent), len(cents))  # every candidate preselected
    assert [set(r) for r in wide] == [set(r) for r in full] and (wide_best == full_best).all()


def test_probe_search_with_every_cell_preselected_is_the_search_without_groups(tmp_path):
    x, cl = _clustered(600, 16, seed=3)
    stores = _stores(tmp_path, x, cl)
    own = stores[0]
    q, rows = own.vectors(), np.asarray(own.rows)
    want = probe_search(q, rows, stores, k=10, top_cells=6, preselect=0)
    n_cents = sum(len(s.cent) for s in stores)
    got = probe_search(q, rows, stores, k=10, top_cells=6, groups=(own.bounds, own.cent), preselect=n_cents)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    # a narrow preselection: true similarities still, never the query itself, most lists the same
    idx, sim = probe_search(q, rows, stores, k=10, top_cells=6, groups=(own.bounds, own.cent), preselect=12)
    ok = idx >= 0
    np.testing.assert_allclose(sim[ok], np.einsum("qd,qkd->qk", q, x[np.maximum(idx, 0)])[ok], atol=1e-5)
    assert not (idx == rows[:, None]).any()
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, want[0])]) > 0.8


def test_cell_store_from_knn_ivf_cells_is_the_store_it_would_train(tmp_path):
    x, _ = _clustered(5000, 16, seed=7)
    rows = np.arange(5000) * 3
    got: dict = {}
    knn_ivf(x, 10, seed=0, cells_out=got)
    trained = CellStore(tmp_path / "a.f32", x, rows, seed=0)
    reused = CellStore(tmp_path / "b.f32", x, rows, seed=0, cells=(got["cent"], got["home"]))
    for name in ("cent", "order", "rows", "bounds"):
        np.testing.assert_array_equal(getattr(reused, name), getattr(trained, name))
    assert (tmp_path / "a.f32").read_bytes() == (tmp_path / "b.f32").read_bytes()
    other = CellStore(tmp_path / "c.f32", x, rows, seed=0, cells=(got["cent"][:5], got["home"]))  # another count
    np.testing.assert_array_equal(other.cent, trained.cent)


def test_a_much_probed_cell_is_searched_in_bounded_blocks(tmp_path, monkeypatch):
    """The queries probing one cell go in blocks of at most CELL_ELEMS scores (64 queries at least): the same lists
    as one block, up to ties between equally similar rows."""
    from app.maps import probe

    x, cl = _clustered(600, 16, seed=5)
    stores = _stores(tmp_path, x, cl)
    own = stores[0]
    q, rows = own.vectors(), np.asarray(own.rows)
    every = sum(len(s.cent) for s in stores)  # every query probes every cell: each cell in blocks of 64 queries
    assert len(q) > 2 * 64
    want = probe_search(q, rows, stores, k=10, top_cells=every, preselect=0)
    monkeypatch.setattr(probe, "CELL_ELEMS", 1)
    got = probe_search(q, rows, stores, k=10, top_cells=every, preselect=0)
    np.testing.assert_allclose(got[1], want[1], atol=1e-6)
    assert np.mean(got[0] == want[0]) > 0.99
