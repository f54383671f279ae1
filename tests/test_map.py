"""Map, clusters and labels, neighbours, search, SemDeDup, density and target similarity (hash embedder)."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from app.cli import main
from app.embed import embed, load_vectors
from app.errors import MapError
from app.maps import build_map, target_similarity
from app.maps.knn import knn_all, knn_ann, knn_exact
from app.maps.labels import ctfidf_labels, terms
from app.maps.signals import density, semdedup
from app.search.semantic import neighbours, search
from app.workspace import Workspace

TOPICS = {
    "cat": "cat kitten purr whiskers meow fur paws",
    "car": "car engine wheel drive road fuel brakes",
    "zh": "苹果 香蕉 水果 好吃 新鲜 甜美 葡萄",
}


def topic_docs(per: int = 15, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = []
    for t, words in TOPICS.items():
        w = words.split()
        for i in range(per):
            sep = "" if t == "zh" else " "
            rows.append({"id": f"{t}{i:03d}", "text": sep.join(rng.choice(w) for _ in range(12))})
    return pd.DataFrame(rows)


@pytest.fixture
def topic_ws(tmp_path):
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("web", topic_docs())
    embed(ws, model="hash:64")
    yield ws
    ws.close()


# ------------------------------------------------------------------------------------------- k-NN
@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(2, 40), st.integers(2, 8)), elements=st.floats(-1, 1, width=32)))
def test_knn_exact_matches_brute_force(x):
    n = len(x)
    k = min(5, n - 1)
    idx, sim = knn_exact(x, x, k, exclude_self=True, block_bytes=64)  # tiny blocks exercise the blocking
    full = x @ x.T
    np.fill_diagonal(full, -np.inf)
    for i in range(n):
        assert i not in idx[i]
        np.testing.assert_allclose(sim[i], np.sort(full[i])[::-1][:k], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(full[i, idx[i]], sim[i], rtol=1e-5, atol=1e-5)


def test_knn_ann_agrees_with_exact_on_clustered_points():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 16)).astype(np.float32)[rng.integers(0, 20, 600)]
    x += 0.3 * rng.standard_normal(x.shape).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ex, _, m1 = knn_all(x, 10)
    ivf, _, m2 = knn_all(x, 10, exact_limit=100)
    assert (m1, m2) == ("exact", "ivf")
    hnsw, _ = knn_ann(x, 10)  # still used to place points beyond the map's fitted sample
    for approx in (ivf, hnsw):
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ex, approx)])
        assert recall > 0.9
        assert not any(i in row for i, row in enumerate(approx))


# ------------------------------------------------------------------------------------------- map
def test_map_adds_columns_to_corpus(topic_ws):
    out = build_map(topic_ws, clusters=3)
    cols = topic_ws.columns("corpus")
    want = {"map_x": "FLOAT", "map_y": "FLOAT", "map_cluster": "INTEGER", "map_cluster_label": "VARCHAR",
            "map_cluster_size": "INTEGER", "density_knn_dist": "FLOAT", "semdup_dup_of": "VARCHAR",
            "semdup_is_dup": "BOOLEAN"}  # fmt: skip
    assert {c: cols.get(c) for c in want} == want
    n, nulls = topic_ws.con.execute("SELECT count(*), count(*) - count(map_x) FROM corpus").fetchone()
    assert (n, nulls) == (45, 0) and out["documents"] == 45 and out["clusters"] == 3
    # each topic is one cluster, and its label names the topic
    rows = topic_ws.con.execute(
        "SELECT regexp_extract(id, '^[a-z]+') AS t, count(DISTINCT map_cluster), any_value(map_cluster_label) FROM corpus GROUP BY t"
    ).fetchall()
    assert all(r[1] == 1 for r in rows)
    labels = {r[0]: r[2] for r in rows}
    assert set(labels["cat"].split(" · ")) <= set(TOPICS["cat"].split())
    assert set(labels["car"].split(" · ")) <= set(TOPICS["car"].split())
    assert any(ch in TOPICS["zh"] for ch in labels["zh"])  # CJK bigrams, no segmenter
    sizes = topic_ws.con.execute("SELECT DISTINCT map_cluster_size FROM corpus").fetchall()
    assert sizes == [(15,)]


def test_map_is_deterministic_and_seed_matters(topic_ws):
    def snapshot():
        return topic_ws.con.execute("SELECT id, map_x, map_y, map_cluster FROM map_points ORDER BY id").fetchall()

    build_map(topic_ws, seed=3)
    a = snapshot()
    build_map(topic_ws, seed=3)
    assert snapshot() == a


@pytest.mark.slow
def test_umap_map_with_sample_is_deterministic(tmp_path):
    """UMAP path (>= 64 points) fitted on a sample, the rest placed by nearest sample points."""
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("web", topic_docs(per=40))
    embed(ws, model="hash:64")
    first = build_map(ws, sample=80, seed=1)
    assert first["fitted"] == 80
    a = ws.con.execute("SELECT id, map_x, map_y FROM map_points ORDER BY id").fetchall()
    build_map(ws, sample=80, seed=1)
    assert ws.con.execute("SELECT id, map_x, map_y FROM map_points ORDER BY id").fetchall() == a
    assert all(np.isfinite([r[1], r[2]]).all() for r in a)
    ws.close()


def test_map_needs_embeddings(tiny_ws):
    with pytest.raises(MapError, match="winnow embed"):
        build_map(tiny_ws)


# ------------------------------------------------------------------------------------ neighbours
def test_stored_neighbours_are_exact(topic_ws):
    build_map(topic_ws)
    ids, vecs, _ = load_vectors(topic_ws)
    full = vecs @ vecs.T
    np.fill_diagonal(full, -np.inf)
    for i in (0, 17, 44):
        got = neighbours(topic_ws, ids[i], k=10)
        assert len(got) == 10
        np.testing.assert_allclose([g["score"] for g in got], np.sort(full[i])[::-1][:10], atol=1e-5)
        assert all(g["id"] != ids[i] and g["source"] == "web" and g["text"] for g in got)
    # more than stored: computed on the fly, same first ten
    more = neighbours(topic_ws, ids[0], k=12)
    assert [m["id"] for m in more[:10]] == [g["id"] for g in neighbours(topic_ws, ids[0], k=10)]
    with pytest.raises(MapError, match="not found"):
        neighbours(topic_ws, "no-such-id")


def test_search_finds_topic(topic_ws):
    hits = search(topic_ws, "kitten whiskers purr", k=5)
    assert len(hits) == 5 and all(h["id"].startswith("cat") for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert len(search(topic_ws, "engine", k=1000)) == 45
    with pytest.raises(MapError):
        search(topic_ws, "   ")


# ------------------------------------------------------------------------------------- signals
@pytest.mark.parametrize(("eps", "expect"), [(0.001, [-1, -1, -1, -1]), (0.05, [-1, 0, -1, -1]), (0.5, [-1, 0, 1, 2])])
def test_semdedup_flags_later_near_duplicates(eps, expect):
    v = np.array([[1, 0], [0.999, 0.045], [0.8, 0.6], [0, 1]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    dup, _ = semdedup(v, np.zeros(4, dtype=np.int32), eps=eps)
    assert dup.tolist() == expect


def test_semdedup_stays_within_clusters():
    v = np.array([[1, 0], [1, 0], [1, 0]], dtype=np.float32)
    dup, _ = semdedup(v, np.array([0, 1, 0]), eps=0.01)
    assert dup.tolist() == [-1, -1, 0]


def test_density_is_mean_distance():
    np.testing.assert_allclose(density(np.array([[1.0, 0.5], [0.0, 0.0]], dtype=np.float32)), [0.25, 1.0])


def test_exact_duplicates_are_semantic_duplicates(tiny_ws):
    embed(tiny_ws, model="hash:32")
    build_map(tiny_ws)
    rows = dict(tiny_ws.con.execute("SELECT id, semdup_dup_of FROM corpus WHERE semdup_is_dup").fetchall())
    assert rows == {"a5": "a1"}


def test_target_similarity_from_texts_and_labels(topic_ws):
    out = target_similarity(topic_ws, texts=["engine fuel brakes", ""])
    assert out["targets"] == 1
    top = topic_ws.con.execute("SELECT id FROM corpus ORDER BY sim_target_max DESC LIMIT 10").fetchall()
    assert all(r[0].startswith("car") for r in top)
    topic_ws.con.execute(
        "INSERT INTO labels (id, label, note, created_at) VALUES ('cat001', 'good', NULL, now()::TIMESTAMP)"
    )
    out = target_similarity(topic_ws, label="good")
    assert out["from_label"] == 1
    best = topic_ws.con.execute("SELECT id, sim_target_max FROM corpus ORDER BY sim_target_max DESC LIMIT 1").fetchone()
    assert best[0] == "cat001" and best[1] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(MapError, match="label"):
        target_similarity(topic_ws, label="missing")


# --------------------------------------------------------------------------------------- labels
def test_terms_handle_cjk_and_stopwords():
    assert terms("The cats and the dogs") == ["cats", "dogs"]
    assert terms("我们喜欢") == ["我们", "们喜", "喜欢"]


def test_ctfidf_prefers_distinctive_terms():
    labels = ctfidf_labels(
        {0: ["python code python function", "python function code"], 1: ["soup recipe onion", "onion soup salt"]},
        top=2,
    )
    assert set(labels[0][1]) <= {"python", "function", "code"} and "soup" in labels[1][1]
    assert ctfidf_labels({5: ["a"]})[5][0] == "cluster 5"  # nothing to say: a neutral label


# ------------------------------------------------------------------------------------------ CLI
def test_cli_map_search_similarity(topic_ws, tmp_path, capsys):
    ws = str(topic_ws.path)
    topic_ws.close()
    assert main(["map", "-w", ws, "--seed", "1", "--clusters", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["clusters"] == 3 and out["documents"] == 45
    assert main(["search", "fuel road", "-w", ws, "--k", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.split()[2].startswith("car") for line in lines)  # one line a result
    assert main(["search", "fuel road", "-w", ws, "--k", "3", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    res = json.loads(lines[-1])["results"]
    assert len(res) == 3 and all(r["id"].startswith("car") for r in res) and len(lines) == 1
    assert main(["search", "-w", ws, "--like", "cat000", "--k", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["results"]) == 2
    targets = tmp_path / "t.jsonl"
    targets.write_text('{"text": "kitten purr"}\n')
    assert main(["similarity", "-w", ws, "--targets", str(targets), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["targets"] == 1
    targets.write_text("not json\n")
    assert main(["similarity", "-w", ws, "--targets", str(targets)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("winnow: error:") and "not a JSON line" in err


def test_ivf_neighbours_match_exact_on_clustered_points():
    import numpy as np

    from app.maps.knn import knn_exact, knn_ivf

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(40, 32)).astype(np.float32)
    v = centres[rng.integers(0, 40, 4000)] + rng.normal(0, 0.5, (4000, 32)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ex, _ = knn_exact(v, v, 10, exclude_self=True)
    idx, sim = knn_ivf(v, 10, nprobe=8, seed=0, block_elems=50_000)  # small blocks: the blocked path runs too
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, ex, strict=True)])
    assert recall > 0.9
    assert not (idx == np.arange(len(v))[:, None]).any()  # never its own neighbour
    assert (np.diff(sim, axis=1) <= 1e-6).all()  # best first
    again, _ = knn_ivf(v, 10, nprobe=8, seed=0)
    assert (again == idx).all()  # deterministic for a seed, whatever the block size


def test_kmeans_above_fit_max_fits_a_sample_and_labels_every_row(monkeypatch):
    """Above FIT_MAX rows the centres come from a seeded sample (scikit-learn's minibatch fit costs ~n^2 at 10M):
    the fit sees FIT_MAX rows, every row is labelled, separated blobs stay whole, and a rerun gives the same ids."""
    from sklearn.cluster import MiniBatchKMeans

    from app.maps import project

    rng = np.random.default_rng(3)
    centres = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], dtype=np.float32)
    blob = rng.integers(0, 4, 40_000)
    x = centres[blob] + rng.normal(size=(40_000, 2)).astype(np.float32)
    seen: list[int] = []
    fit = MiniBatchKMeans.fit

    def spy(self, data, *a, **kw):
        seen.append(len(data))
        return fit(self, data, *a, **kw)

    monkeypatch.setattr(MiniBatchKMeans, "fit", spy)
    monkeypatch.setattr(project, "FIT_MAX", 25_000)
    labels = project.kmeans(x, k=4, seed=0)
    assert seen == [25_000]
    assert len(labels) == len(x)
    # each blob is one cluster and each cluster one blob
    assert {(int(b), int(c)) for b, c in zip(blob, labels, strict=True)} == {
        (b, int(labels[np.flatnonzero(blob == b)[0]])) for b in range(4)
    }
    assert len(set(labels.tolist())) == 4
    assert np.array_equal(project.kmeans(x, k=4, seed=0), labels)
