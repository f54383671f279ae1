"""Classifiers trained in the workspace: metrics from held-out data only (leak test), retrain no-op, bad input
as one line with nothing written, the same clf_ values headless, and the features/metrics invariants."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cli import main
from app.errors import LearnError
from app.explore.labels import add_labels
from app.learn import classifier, features, metrics, store

KITCHEN = [
    "oven",
    "flour",
    "butter",
    "sugar",
    "knead",
    "dough",
    "bake",
    "simmer",
    "garlic",
    "onion",
    "pepper",
    "sauce",
    "whisk",
    "roast",
]
PITCH = [
    "goal",
    "striker",
    "referee",
    "penalty",
    "midfield",
    "keeper",
    "tackle",
    "offside",
    "corner",
    "league",
    "match",
    "pitch",
]
COMMON = ["the", "a", "and", "of", "to", "in", "it", "was", "with", "for", "on", "at", "by", "very", "today", "some"]


def _doc(rng: np.random.Generator, words: list[str]) -> str:
    toks = list(rng.choice(words, 4)) + list(rng.choice(COMMON, 8)) + list(rng.choice(KITCHEN + PITCH, 2))
    rng.shuffle(toks)
    return " ".join(toks)


@pytest.fixture
def topic_ws(tmp_path):
    """120 documents, 60 about cooking (labelled good) and 60 about football (labelled bad), plus 40 unlabelled."""
    import pandas as pd

    from app.workspace import Workspace

    rng = np.random.default_rng(7)
    rows = [{"id": f"k{i:03d}", "text": _doc(rng, KITCHEN)} for i in range(80)]
    rows += [{"id": f"p{i:03d}", "text": _doc(rng, PITCH)} for i in range(80)]
    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("mix", pd.DataFrame(rows))
    add_labels(ws.cursor(), [f"k{i:03d}" for i in range(60)], "good", by="test")
    add_labels(ws.cursor(), [f"p{i:03d}" for i in range(60)], "bad", by="test")
    yield ws
    ws.close()


def _train(ws, name="cook", pos="label:good", neg="label:bad", **kw):
    kw.setdefault("features", "ngrams")
    return classifier.train(ws, name=name, positive=pos, negative=neg, **kw)


def test_train_scores_every_document_with_held_out_metrics(topic_ws):
    r = _train(topic_ws)
    m = r.metrics
    assert not r.unchanged and r.features == "ngrams" and r.scored == 160
    assert m["n_positive"] == m["n_negative"] == 60 and m["folds"] == 5
    assert m["auc"] > 0.95 and m["auc_ci95"][0] <= m["auc"] <= m["auc_ci95"][1]
    assert "warning" not in m
    assert {"pr_curve", "calibration", "confusion", "false_positives", "false_negatives"} <= set(m)
    assert sum(b["count"] for b in m["calibration"]) == 120
    got = dict(topic_ws.cursor().execute("SELECT id, clf_cook FROM corpus").fetchall())
    assert len(got) == 160 and all(0 <= v <= 1 for v in got.values())
    # unlabelled documents (never trained on) are ranked by topic too
    kitchen = [got[f"k{i:03d}"] for i in range(60, 80)]
    pitch = [got[f"p{i:03d}"] for i in range(60, 80)]
    assert metrics.auc_ap(np.r_[np.ones(20), np.zeros(20)], np.r_[kitchen, pitch])[0] > 0.95


def test_leak_shuffled_labels_give_chance_auc(topic_ws):
    """Labels unrelated to the text: held-out AUC must be near 0.5. The same model scored on its own training
    data memorises them (AUC near 1), which is what a leak would report."""
    con = topic_ws.cursor()
    con.execute("DELETE FROM labels")
    ids = [r[0] for r in con.execute("SELECT id FROM docs ORDER BY id").fetchall()][:120]
    perm = np.random.default_rng(3).permutation(ids)
    add_labels(con, list(perm[:60]), "good")
    add_labels(con, list(perm[60:]), "bad")
    r = _train(topic_ws, seed=1)
    assert 0.3 < r.metrics["auc"] < 0.7
    in_sample = dict(con.execute("SELECT id, clf_cook FROM corpus").fetchall())
    y = np.r_[np.ones(60), np.zeros(60)]
    assert metrics.auc_ap(y, np.array([in_sample[i] for i in perm]))[0] > 0.9


def test_retrain_is_a_noop_until_inputs_change(topic_ws, capsys):
    first = _train(topic_ws)
    again = _train(topic_ws)
    assert again.unchanged and again.digest == first.digest
    path = str(topic_ws.path)
    topic_ws.close()
    argv = ["classify", "train", "cook", "--positive", "label:good", "--negative", "label:bad",
            "--features", "ngrams", "-w", path]  # fmt: skip
    assert main(argv) == 0
    assert "unchanged" in capsys.readouterr().out
    assert main([*argv, "--seed", "2", "--json"]) == 0  # another seed: other folds, a new model
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not out["unchanged"] and out["digest"] != first.digest


def test_few_labels_warn(topic_ws):
    con = topic_ws.cursor()
    con.execute("DELETE FROM labels WHERE label = 'good' AND id > 'k009'")
    r = _train(topic_ws)
    assert "too few to trust" in r.metrics["warning"] and r.metrics["n_positive"] == 10


def _nothing_written(path) -> None:
    from app.workspace import Workspace

    with Workspace.open(path, read_only=True) as ws:
        if ws.has_table(store.TABLE):
            assert ws.cursor().execute(f"SELECT count(*) FROM {store.TABLE}").fetchone()[0] == 0
        assert not [c for c in ws.columns("corpus") if c.startswith("clf_")]


@pytest.mark.parametrize(
    ("pos", "neg", "extra", "msg"),
    [
        ("label:tasty", "label:bad", [], "no document carries the label 'tasty'; labels in this workspace: bad, good"),
        ("label:good", "label:good", [], "are the same"),
        ("expr:text = 'nothing like this'", "label:bad", [], "matches no document"),
        ("label:one", "label:bad", [], "cannot cross-validate with 1 positive"),
        ("label:good", "label:bad", ["--features", "embeddings"], "no embeddings"),
        ("label:good", "nonsense", [], "bad selector"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(topic_ws, capsys, pos, neg, extra, msg):
    add_labels(topic_ws.cursor(), ["k070"], "one")
    path = topic_ws.path
    topic_ws.close()
    assert main(["classify", "train", "cook", "--positive", pos, "--negative", neg, "-w", str(path), *extra]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and msg in err and "Traceback" not in err
    _nothing_written(path)


def test_bad_name_and_missing_model(topic_ws, capsys):
    with pytest.raises(LearnError, match="bad classifier name"):
        _train(topic_ws, name="Cook Book")
    path = str(topic_ws.path)
    topic_ws.close()
    for action in ("show", "suggest", "remove"):
        assert main(["classify", action, "nope", "-w", path]) == 1
        assert "no classifier model named 'nope'" in capsys.readouterr().err


def test_model_from_another_version_is_refused(topic_ws):
    _train(topic_ws)
    con = topic_ws.cursor()
    m = store.get(con, "cook")
    m.settings["format"] = classifier.FORMAT + 1
    store.save(con, m)
    before = dict(con.execute("SELECT id, clf_cook FROM corpus").fetchall())
    with pytest.raises(LearnError, match="another version of Winnow"):
        store.score_workspace(topic_ws, "cook")
    assert dict(con.execute("SELECT id, clf_cook FROM corpus").fetchall()) == before  # scores untouched
    m.settings["format"] = classifier.FORMAT
    m.blob = b"garbage"
    store.save(con, m)
    with pytest.raises(LearnError, match="unreadable"):
        store.scorer(store.get(con, "cook"))


def test_headless_models_give_the_same_values(topic_ws, tmp_path):
    from app.export.headless import apply_headless

    r = _train(topic_ws)
    rows = topic_ws.cursor().execute("SELECT id, text, clf_cook FROM corpus ORDER BY id").fetchall()
    topic_ws.close()
    shard = tmp_path / "in.jsonl"
    shard.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t, _ in rows))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nrules:\n  - {signal: clf_cook, min: 0.5}\n")
    man = apply_headless(str(recipe), [str(shard)], tmp_path / "out", models=str(tmp_path / "ws"),
                         tokens="estimate", id_field="id")  # fmt: skip
    assert r.digest in json.dumps(man)
    cols = store.ModelColumns.from_workspace(str(tmp_path / "ws"), ["clf_cook"])
    got = cols.score([t for _, t, _ in rows])["clf_cook"]
    assert np.allclose(got, [v for *_, v in rows], rtol=0, atol=1e-9)
    import pyarrow.parquet as pq

    kept = sorted(i for f in (tmp_path / "out").glob("*.parquet") for i in pq.read_table(f).column("id").to_pylist())
    assert kept == sorted(i for i, _, v in rows if v >= 0.5)


def test_suggest_prefers_uncertain_unlabelled_documents_across_clusters(topic_ws):
    _train(topic_ws)
    con = topic_ws.cursor()
    labelled = {r[0] for r in con.execute("SELECT id FROM labels").fetchall()}
    out = __import__("app.learn.suggest", fromlist=["suggest"]).suggest(topic_ws, name="cook", n=6)
    assert len(out) == 6 and not {r["id"] for r in out} & labelled
    scores = dict(con.execute("SELECT id, clf_cook FROM corpus").fetchall())
    rest = sorted(abs(v - 0.5) for i, v in scores.items() if i not in labelled)
    assert max(abs(r["p"] - 0.5) for r in out) <= rest[5] + 1e-4  # the 6 most uncertain
    # with a map, the picks alternate between clusters
    con.execute("CREATE TABLE map_points AS SELECT id, CASE WHEN id < 'p' THEN 0 ELSE 1 END AS map_cluster FROM docs")
    topic_ws.register_part("map_points", kind="map")
    out = __import__("app.learn.suggest", fromlist=["suggest"]).suggest(topic_ws, name="cook", n=4)
    assert [r["cluster"] for r in out][:2] in ([0, 1], [1, 0]) and {r["cluster"] for r in out} == {0, 1}


def test_cli_list_show_remove(topic_ws, capsys):
    _train(topic_ws)
    path = str(topic_ws.path)
    topic_ws.close()
    assert main(["classify", "list", "-w", path]) == 0
    assert "cook" in capsys.readouterr().out
    assert main(["classify", "show", "cook", "-w", path, "--errors", "2"]) == 0
    out = capsys.readouterr().out
    assert "held-out (5-fold) ROC AUC" in out and "false positives" in out
    assert main(["classify", "remove", "cook", "-w", path]) == 0
    assert main(["classify", "list", "-w", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"classifiers": []}


@pytest.mark.slow
def test_fit_matches_scikit_learn_objective():
    from sklearn.linear_model import LogisticRegression

    from app.learn._logreg import fit_logreg

    rng = np.random.default_rng(0)
    texts = [_doc(rng, KITCHEN if i % 3 else PITCH) for i in range(90)]
    y = np.array([1 if i % 3 else 0 for i in range(90)], dtype=np.int8)
    y[:5] = 1 - y[:5]  # some noise, so the optimum is finite
    x = features.featurize(texts)
    w, b = fit_logreg(x, y, c=4.0)
    lr = LogisticRegression(C=4.0, class_weight="balanced", solver="liblinear", tol=1e-8, max_iter=1000).fit(x, y)
    assert np.allclose(x @ w + b, x @ lr.coef_.ravel() + lr.intercept_[0], atol=0.05)


_texts = st.lists(st.text(alphabet=st.sampled_from(list("ab c,d\u4e00\u4e8c\n x_éÉ")), max_size=30), max_size=6)


@settings(max_examples=25, deadline=None)
@given(_texts, _texts)
def test_features_of_a_document_do_not_depend_on_its_batch(a, b):
    """Tokens never cross documents, rows are L2-normalised (or empty), hashing is deterministic."""
    x = features.featurize(a + b, bits=12)
    for i, t in enumerate(a + b):
        alone = features.featurize([t], bits=12)
        assert (x[i] != alone).nnz == 0
        norm = float(np.sqrt(x[i].multiply(x[i]).sum()))
        assert norm == pytest.approx(1.0, abs=1e-5) if features.tokens(t) else norm == 0


def test_tokens_split_words_and_no_space_scripts():
    assert features.tokens("Hello, World! don't 中文字 naïve_x 42") == [
        "hello", "world", "don", "t", "中", "文", "字", "naïve", "x", "42"]  # fmt: skip


_pairs = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=60)


@settings(max_examples=80, deadline=None)
@given(_pairs)
def test_auc_is_the_pairwise_ranking_probability(pairs):
    """AUC = P(a positive outscores a negative), ties counting half: checked against the definition."""
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    if y.min() == y.max():
        return
    pos, neg = s[y == 1], s[y == 0]
    want = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    assert metrics.auc_ap(y, s)[0] == pytest.approx(want)


@pytest.mark.slow
@settings(max_examples=80, deadline=None)
@given(_pairs)
def test_auc_and_ap_match_scikit_learn(pairs):
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    if y.min() == y.max():
        return
    auc, ap = metrics.auc_ap(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s)) and ap == pytest.approx(average_precision_score(y, s))


def test_stratified_folds_keep_class_balance():
    y = np.r_[np.ones(13, dtype=int), np.zeros(40, dtype=int)]
    f = metrics.stratified_folds(y, 5, seed=4)
    for k in range(5):
        assert sum(y[f == k]) in (2, 3) and sum(1 - y[f == k]) == 8


def test_embedding_features_use_stored_vectors_and_score_headless_alike(topic_ws):
    from app.embed import embed

    embed(topic_ws, model="hash:64")
    r = _train(topic_ws, name="cook_emb", features="embeddings")
    assert r.features == "embeddings" and r.metrics["auc"] > 0.9 and r.scored == 160
    rows = topic_ws.cursor().execute("SELECT text, clf_cook_emb FROM corpus ORDER BY id").fetchall()
    m = store.get(topic_ws.cursor(), "cook_emb")
    assert m.settings["embedder"]["key"] == "hash:64"
    got = store.scorer(m).score([t for t, _ in rows])["clf_cook_emb"]  # re-embeds, as a headless run does
    assert np.allclose(got, [v for _, v in rows], atol=1e-5)
    auto = _train(topic_ws, name="cook_auto", features="auto")
    assert set(auto.candidates) == {"ngrams", "embeddings"} and auto.features in auto.candidates
    assert auto.candidates[auto.features] == max(auto.candidates.values())
    m.settings["embedder"] = {**m.settings["embedder"], "key": "hash:32"}
    with pytest.raises(LearnError, match="trained on 'hash:32' vectors but the embedder here is 'hash:64'"):
        store.scorer(m).score(["x"])
    m.settings["embedder"] = {**m.settings["embedder"], "key": "hash:32", "dim": 32}
    with pytest.raises(LearnError, match="64 weights for 32-dimensional vectors"):
        store.scorer(m).score(["x"])


def test_interrupted_scoring_keeps_the_previous_model(topic_ws, monkeypatch):
    """A retrain whose scoring fails must not leave the new model stored over the old scores (a rerun would
    then call them unchanged)."""
    first = _train(topic_ws)
    add_labels(topic_ws.cursor(), ["k070", "k071"], "good")

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "score_workspace", boom)
    with pytest.raises(KeyboardInterrupt):
        _train(topic_ws)
    assert store.get(topic_ws.cursor(), "cook").digest == first.digest
    monkeypatch.undo()
    again = _train(topic_ws)
    assert not again.unchanged and again.digest != first.digest
