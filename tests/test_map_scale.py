"""The streamed map (app.maps.scale): bounded-memory `winnow map` above STREAM_ABOVE documents, against the
in-memory path on small corpora (forced with stream_above=0)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.embed import embed, iter_vectors, load_vectors, vector_count
from app.maps import build_map
from app.maps.knn import knn_exact
from app.maps.place import ivf_search, place_rest, sample_index
from app.maps.probe import CellStore, probe_search
from app.maps.scale import Spool, cluster_pass, semdedup_knn
from app.maps.signals import semdedup
from app.workspace import Workspace


def _docs(n: int = 900, copies: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    words = {t: [f"{t}w{i}" for i in range(30)] for t in "abcde"}
    rows = [
        {"id": f"d{i:05d}", "text": " ".join(rng.choice(words["abcde"[i % 5]]) for _ in range(12))} for i in range(n)
    ]
    rows += [{"id": f"e{j:05d}", "text": rows[j * 7]["text"]} for j in range(copies)]  # exact copies: duplicates
    return pd.DataFrame(rows)


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    w.write_source("web", _docs())
    embed(w, model="hash:64")
    yield w
    w.close()


def _tables(ws):
    c = ws.cursor()
    return (
        c.execute("SELECT * FROM map_points ORDER BY id").df(),
        c.execute("SELECT * FROM emb_signals ORDER BY id").df(),
        c.execute("SELECT * FROM neighbours ORDER BY id").df(),
    )


def test_iter_vectors_streams_the_loaded_vectors(ws):
    ids, vecs, key = load_vectors(ws)
    n, dim, key2 = vector_count(ws)
    got_ids, got = [], []
    for i, v in iter_vectors(ws, model=key, rows=100):
        assert len(v) <= 100
        got_ids += i.to_pylist()
        got.append(v)
    assert (n, dim, key2) == (len(ids), vecs.shape[1], key)
    assert got_ids == list(ids)
    np.testing.assert_array_equal(np.concatenate(got), vecs)


def test_spool_round_trip(tmp_path):
    x = np.random.default_rng(0).standard_normal((1000, 7)).astype(np.float32)
    sp = Spool(tmp_path / "v.f32", 7)
    for s in range(0, 1000, 333):
        sp.add(x[s : s + 333])
    sp.done()
    np.testing.assert_array_equal(np.concatenate([b for _, b in sp.blocks(128)]), x)
    np.testing.assert_array_equal(sp.read(500, 510), x[500:510])
    sp.remove()
    assert not (tmp_path / "v.f32").exists()


def test_streamed_map_matches_in_memory_where_it_promises(ws):
    a = build_map(ws, sample=300, stream_above=10**9)
    pa_, sa, _ = _tables(ws)
    b = build_map(ws, sample=300, stream_above=0)
    pb, sb, nb = _tables(ws)
    assert b["streamed"] and "streamed" not in a
    assert (b["documents"], b["fitted"], b["clusters"]) == (a["documents"], a["fitted"], a["clusters"])
    # same PCA, k-means and labels: the same clusters with the same names
    assert (pa_.map_cluster == pb.map_cluster).all() and (pa_.map_cluster_label == pb.map_cluster_label).all()
    # the UMAP sample is fitted identically; only the other points are placed differently
    same = np.isclose(pa_.map_x, pb.map_x) & np.isclose(pa_.map_y, pb.map_y)
    assert same.sum() >= a["fitted"]
    # clusters of <= SEMDUP_EXACT members: the exact SemDeDup, so identical duplicates
    assert (sa.semdup_is_dup == sb.semdup_is_dup).all() and b["semantic_duplicates"] == a["semantic_duplicates"] >= 40
    assert (sa.semdup_dup_of.fillna("") == sb.semdup_dup_of.fillna("")).all()
    # neighbours: found across cluster borders (app.maps.probe), with their true similarities, best first
    ids, vecs, _ = load_vectors(ws)
    pos = {d: i for i, d in enumerate(ids)}
    rec = []
    for r in nb.sample(50, random_state=0).itertuples():
        i = pos[r.id]
        got = np.array([pos[j] for j in r.nb_ids])
        assert i not in got and (np.diff(np.asarray(r.nb_sims)) <= 1e-6).all()
        np.testing.assert_allclose(np.asarray(r.nb_sims), vecs[got] @ vecs[i], atol=1e-5)
        sims = vecs @ vecs[i]
        sims[i] = -np.inf
        rec.append(np.isin(got, np.argsort(-sims, kind="stable")[:10]).mean())
    assert np.mean(rec) >= 0.8
    assert len(nb) == len(pb) and not any(p.name.startswith(".map-scratch") for p in ws.path.iterdir())
    assert ws.cursor().execute("SELECT count(*) FROM corpus WHERE map_x IS NOT NULL").fetchone()[0] == len(pb)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 60),
    st.integers(1, 6),
    st.integers(0, 10_000),
    st.floats(0.01, 0.3),
)
def test_semdedup_from_exact_neighbours_is_semdedup(m, k, seed, eps):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((max(1, m // 3), 8)).astype(np.float32)
    x = base[rng.integers(0, len(base), m)] + rng.choice([0.0, 0.05], m)[:, None] * rng.standard_normal((m, 8))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    idx, sim = knn_exact(x, x, k, exclude_self=True)
    want_of, want_sim = semdedup(x, np.zeros(m, dtype=np.int32), eps=eps)
    got_of, got_sim = semdedup_knn(x, idx, sim, eps=eps)
    dup = want_of >= 0
    assert ((got_of >= 0) == dup).all()
    # the duplicated document is an earlier one at least as similar as the threshold (ties may pick another)
    thr = 1 - eps
    assert (got_of[dup] < np.flatnonzero(dup)).all()
    assert (np.einsum("ij,ij->i", x[dup], x[got_of[dup]]) > thr - 1e-6).all()
    np.testing.assert_allclose(got_sim[dup], want_sim[dup], atol=1e-5)


def test_semdedup_checks_in_bounded_blocks_give_the_same_answer(monkeypatch):
    """Rows whose lists hold only later copies are compared with every earlier row, in blocks whose scores stay
    under CHECK_ELEMS (16 rows at least): the same duplicates and similarities as one block of 1,024."""
    from app.maps import scale

    rng = np.random.default_rng(3)
    base = rng.standard_normal((20, 8)).astype(np.float32)
    x = base[rng.integers(0, 20, 400)]
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    idx, sim = knn_exact(x, x, 3, exclude_self=True)
    earlier = ((idx >= 0) & (idx < np.arange(len(x))[:, None])).any(axis=1)
    assert (~earlier[1:] & (sim[1:, -1] > 0.95)).sum() > 50  # the exact comparisons run, in several blocks
    want = semdedup_knn(x, idx, sim, eps=0.05)
    monkeypatch.setattr(scale, "CHECK_ELEMS", 1)
    got = semdedup_knn(x, idx, sim, eps=0.05)
    # the same rows are duplicates, of an earlier row as similar (identical vectors tie: BLAS rounds blocks of
    # other shapes apart in the last bit, so a tie may pick another copy)
    np.testing.assert_array_equal(got[0] >= 0, want[0] >= 0)
    dup = np.flatnonzero(got[0] >= 0)
    assert (got[0][dup] < dup).all()
    np.testing.assert_allclose(np.einsum("ij,ij->i", x[dup], x[got[0][dup]]), want[1][dup], atol=1e-5)
    np.testing.assert_allclose(got[1], want[1], atol=1e-5)


def test_ivf_search_with_every_cell_probed_is_exact():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((500, 16)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    q = base[:50] + 0.1 * rng.standard_normal((50, 16)).astype(np.float32)
    cent, members = sample_index(base, seed=0)
    _, sim = ivf_search(q, base, cent, members, k=10, nprobe=len(cent))
    _, ex_sim = knn_exact(q, base, 10)
    np.testing.assert_allclose(sim, ex_sim, atol=1e-5)
    # with few probes recall stays high on clustered data, and every found row is a real neighbour
    idx8, sim8 = ivf_search(q, base, cent, members, k=10, nprobe=8)
    assert (idx8 >= 0).all()
    np.testing.assert_allclose(sim8, np.einsum("qd,qkd->qk", q, base[idx8]), atol=1e-5)


def test_place_rest_keeps_fitted_points_and_matches_exact_placement_when_every_cell_is_probed():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 12)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    fit = np.sort(rng.choice(400, 250, replace=False))
    fitted = rng.standard_normal((250, 2)).astype(np.float32)
    coords = place_rest(x, fit, fitted, seed=0)
    np.testing.assert_array_equal(coords[fit], fitted)
    rest = np.setdiff1d(np.arange(400), fit)
    nb, sim = knn_exact(x[rest], x[fit], 10)  # the in-memory path's placement (app.maps.project.umap_2d)
    w = np.clip(sim, 1e-3, None) ** 4
    want = (fitted[nb] * w[..., None]).sum(1) / w.sum(1, keepdims=True)
    full = place_rest(x, fit, fitted, seed=0, nprobe=10_000)
    np.testing.assert_allclose(full[rest], want, atol=1e-4)


def _clustered(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((6, dim)).astype(np.float32)
    topic = rng.integers(0, 6, n)
    x = centres[topic] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    cl = rng.integers(0, 3, n).astype(np.int32)  # clusters that cut through the topics: many border neighbours
    x[5::40], cl[5::40] = x[4::40], cl[4::40]  # exact copies in one cluster: SemDeDup duplicates, tied neighbours
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), cl


def test_probe_search_over_every_cell_is_exact_global_search(tmp_path):
    x, cl = _clustered(600, 16, seed=3)
    stores = [CellStore(tmp_path / f"c{c}.f32", x[cl == c], np.flatnonzero(cl == c), seed=0) for c in range(3)]
    qr = np.flatnonzero(cl == 0)  # the queries: cluster 0's documents (stores[0], the default ``own``)
    idx, sim = probe_search(x[qr], qr, stores, k=10, top_cells=10_000)
    ex_idx, ex_sim = knn_exact(x[qr], x, 11)
    keep = ex_idx != qr[:, None]  # drop each query's own row from the exact lists
    ex_sim = np.stack([s[m][:10] for s, m in zip(ex_sim, keep)])
    np.testing.assert_allclose(sim, ex_sim, atol=1e-5)
    assert not (idx == qr[:, None]).any()
    # fewer cells probed: still true similarities, never the query itself
    idx4, sim4 = probe_search(x[qr], qr, stores, k=10, top_cells=4)
    ok = idx4 >= 0
    np.testing.assert_allclose(sim4[ok], np.einsum("qd,qkd->qk", x[qr], x[np.maximum(idx4, 0)])[ok], atol=1e-5)
    assert not (idx4 == qr[:, None]).any()


@pytest.mark.parametrize("semdup_exact", [20_000, 50])
def test_cluster_pass_crosses_borders_and_keeps_semdedup_per_cluster(tmp_path, monkeypatch, semdup_exact):
    from app.maps import scale

    monkeypatch.setattr(scale, "SEMDUP_EXACT", semdup_exact)  # 50: every cluster takes the neighbour-list rule
    x, cl = _clustered(900, 16, seed=4)
    sp = Spool(tmp_path / "v.f32", 16)
    sp.add(x)
    sp.done()
    got: dict[int, tuple] = {}

    def emit(rows, idx, sim):
        for r, i, s in zip(rows, idx, sim):
            got[int(r)] = (i, s)

    dens, dup_of, _, _ = cluster_pass(sp, cl, k=10, eps=0.05, seed=0, scratch=tmp_path, emit=emit,
                                      near=2, top_cells=10_000)  # fmt: skip
    assert sorted(got) == list(range(900)) and list(tmp_path.iterdir()) == []
    _, ex_sim = knn_exact(x, x, 10, exclude_self=True)
    np.testing.assert_allclose(np.stack([got[r][1] for r in range(900)]), ex_sim, atol=1e-5)
    crossed = np.mean([(cl[got[r][0]] != cl[r]).any() for r in range(900)])
    assert crossed > 0.5  # neighbours in other k-means clusters are found
    want_of = np.full(900, -1)
    for c in range(3):
        mem = np.flatnonzero(cl == c)
        d, _ = semdedup(x[mem], np.zeros(len(mem), dtype=np.int32), eps=0.05)
        want_of[mem[d >= 0]] = mem[d[d >= 0]]
    assert ((dup_of >= 0) == (want_of >= 0)).all() and (dup_of >= 0).sum() >= 20
    assert (cl[dup_of[dup_of >= 0]] == cl[dup_of >= 0]).all()  # SemDeDup stays inside the cluster
    np.testing.assert_allclose(dens, 1 - ex_sim.mean(axis=1), atol=1e-5)


@pytest.mark.slow
def test_headless_semantic_equals_streamed_workspace_map(tmp_path, monkeypatch):
    """Above STREAM_ABOVE both paths use app.maps.scale's per-cluster SemDeDup (neighbour lists above SEMDUP_EXACT
    members): the same duplicates and the same kept documents. The limits are lowered so a small crawl takes it."""
    from app.export import apply
    from app.export.headless import apply_headless
    from app.ingest import ingest
    from app.maps import scale
    from tests.test_headless_semantic import RECIPE, _crawl, _jsonl, _out_ids

    monkeypatch.setattr(scale, "STREAM_ABOVE", 0)
    monkeypatch.setattr(scale, "SEMDUP_EXACT", 20)
    monkeypatch.setattr("app.maps.knn.EXACT_LIMIT", 20)  # clusters above 20 members: knn_ivf neighbour lists
    rows = _crawl(110, seed=3)
    src = _jsonl(tmp_path / "in.jsonl", rows)
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, [src], source="in", id_field="id")
        embed(w, model="hash:64")
        assert build_map(w)["streamed"]
        ws_dups = w.con.execute("SELECT id, semdup_dup_of FROM corpus WHERE semdup_is_dup ORDER BY id").fetchall()
        apply(w, RECIPE, tmp_path / "ws_out", fmt="jsonl")
    assert len(ws_dups) >= 20
    m = apply_headless(RECIPE, [src], tmp_path / "hl_out", fmt="jsonl", source="in", id_field="id",
                       tokens="estimate", semantic_model="hash:64")  # fmt: skip
    assert m["source"]["semantic"]["duplicates"] == len(ws_dups)
    assert _out_ids(tmp_path / "hl_out") == _out_ids(tmp_path / "ws_out")
