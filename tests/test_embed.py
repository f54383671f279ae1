"""Embeddings: the model-free hash embedder for most tests, one real embedding with the packaged model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cli import main
from app.embed import embed, load_vectors, vectors_table
from app.embed.choose import get_embedder
from app.embed.models import HashEmbedder, resolve_model
from app.errors import EmbedError, MapError


@pytest.mark.parametrize("dim", [2, 16, 64, 257])
def test_hash_embedder_is_deterministic_and_normalised(dim):
    e = HashEmbedder(dim)
    texts = ["the cat sat", "the cat sat", "dog barks loudly", "", "我们喜欢吃苹果"]
    a, b = e.encode(texts), HashEmbedder(dim).encode(texts)
    assert a.shape == (5, dim) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    norms = np.linalg.norm(a, axis=1)
    np.testing.assert_allclose(norms[[0, 1, 2, 4]], 1.0, rtol=1e-5)
    assert norms[3] == 0.0  # empty text: zero vector, not NaN


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=8))
def test_hash_embedder_any_text(texts):
    v = HashEmbedder(32).encode(texts)
    assert np.isfinite(v).all()
    n = np.linalg.norm(v, axis=1)
    assert np.all((np.abs(n - 1) < 1e-4) | (n == 0))


@pytest.mark.parametrize("spec", ["hash:0", "hash:x", "hash:1"])
def test_bad_hash_spec(spec):
    with pytest.raises(EmbedError):
        get_embedder(spec)


def test_embed_caches_by_text_hash(tiny_ws):
    first = embed(tiny_ws, model="hash:16")
    # six documents, a1 and a5 share their text: five distinct texts embedded once each
    assert (first["documents"], first["distinct_texts"], first["embedded"], first["cached"]) == (6, 5, 5, 0)
    again = embed(tiny_ws, model="hash:16")
    assert (again["embedded"], again["cached"]) == (0, 5)
    ids, vecs, key = load_vectors(tiny_ws)
    assert key == "hash:16" and list(ids) == sorted(ids) and vecs.shape == (6, 16)
    pos = {i: n for n, i in enumerate(ids)}
    np.testing.assert_array_equal(vecs[pos["a1"]], vecs[pos["a5"]])


def test_changed_text_is_the_only_one_reembedded(tiny_ws):
    from tests.conftest import TINY_DOCS

    embed(tiny_ws, model="hash:16")
    docs = [dict(d) for d in TINY_DOCS[:4]]
    docs[1]["text"] = "A completely new text about spreadsheets."
    tiny_ws.write_source("web", pd.DataFrame(docs))
    out = embed(tiny_ws, model="hash:16")
    assert (out["embedded"], out["cached"], out["distinct_texts"]) == (1, 4, 5)


def test_embed_resumes_after_interruption(tiny_ws):
    part = embed(tiny_ws, model="hash:8", chunk=2, limit_chunks=1)
    assert part["embedded"] == 2 and part["remaining"] == 3
    rest = embed(tiny_ws, model="hash:8", chunk=2)
    assert (rest["cached"], rest["embedded"], rest["remaining"]) == (2, 3, 0)
    n = tiny_ws.con.execute(f'SELECT count(*), count(DISTINCT text_hash) FROM "{vectors_table("hash:8")}"').fetchone()
    assert n == (5, 5)


def test_models_are_cached_separately(tiny_ws):
    embed(tiny_ws, model="hash:8")
    out = embed(tiny_ws, model="hash:12")
    assert out["embedded"] == 5 and out["dim"] == 12
    assert load_vectors(tiny_ws)[1].shape[1] == 12  # the last model embedded is the active one
    assert load_vectors(tiny_ws, model="hash:8")[1].shape[1] == 8


def test_load_vectors_before_embed_is_a_clear_error(tiny_ws):
    with pytest.raises(MapError, match="winnow embed"):
        load_vectors(tiny_ws)


@pytest.mark.parametrize("bad", ["missing-dir", "empty-dir"])
def test_bad_model_path_is_one_line_error(tiny_ws, tmp_path, capsys, bad):
    path = tmp_path / bad
    if bad == "empty-dir":
        path.mkdir()
    ws = str(tiny_ws.path)
    tiny_ws.close()
    rc = main(["embed", "-w", ws, "--model", str(path)])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert err.startswith("winnow: error:") and "\n" not in err and "Traceback" not in err


def test_cli_embed_json_last_line(tiny_ws, capsys):
    ws = str(tiny_ws.path)
    tiny_ws.close()
    assert main(["embed", "-w", ws, "--model", "hash:16", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["embedded"] == 5 and out["model"] == "hash:16"


def test_resolve_default_model_is_packaged():
    name, path = resolve_model(None)
    assert name == "all-MiniLM-L6-v2"
    assert path.endswith("model")


def test_real_model_embeds_a_few_documents(tiny_ws):
    """One real embedding with the packaged all-MiniLM-L6-v2, offline, then search with the same model."""
    from app.search.semantic import search

    out = embed(tiny_ws, device="cpu", batch_size=4)
    assert out["model"] == "all-MiniLM-L6-v2@256" and out["dim"] == 384 and out["embedded"] == 5
    ids, vecs, _ = load_vectors(tiny_ws)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    pos = {i: n for n, i in enumerate(ids)}
    cat, fox, spam = vecs[pos["a1"]], vecs[pos["a4"]], vecs[pos["a2"]]
    assert float(cat @ vecs[pos["a5"]]) > 0.999
    hits = search(tiny_ws, "a happy cat sitting on a mat in the sun", k=3)
    assert {hits[0]["id"], hits[1]["id"]} == {"a1", "a5"}
    assert hits[0]["score"] > 0.6 > float(cat @ spam) and float(cat @ fox) < 0.6
    # the same model again: everything cached
    assert embed(tiny_ws, device="cpu")["embedded"] == 0


def test_zipf_weights_follow_vocabulary_order():
    from app.embed.static import zipf_weights

    vocab = ["[PAD]", "[CLS]", "a", "b", "the", "of", "and"] + [f"w{i}" for i in range(20000)]
    w = zipf_weights(vocab)
    assert w.dtype == np.float32 and w.shape == (len(vocab),)
    assert w[4] < w[5] < w[6] < w[-1] <= 1.0  # frequent words weigh least
    assert w[0] == w[1] == w[2] and w[4] < w[0] < w[-1]  # specials/characters: a middling weight


@pytest.mark.slow
def test_fast_mode_distils_once_and_embeds(tiny_ws, tmp_path, monkeypatch):
    """Distil the static model from the packaged model (~1 min on 2 cores), then embed offline with it."""
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    out = embed(tiny_ws, fast=True)
    assert out["model"].startswith("static:all-MiniLM-L6-v2-") and out["dim"] == 256 and out["embedded"] == 5
    ids, vecs, _ = load_vectors(tiny_ws)
    pos = {i: n for n, i in enumerate(ids)}
    assert float(vecs[pos["a1"]] @ vecs[pos["a5"]]) > 0.999
    assert len(list((tmp_path / "cache" / "static").iterdir())) == 1
    from app.search.semantic import search

    assert search(tiny_ws, "cat on a mat", k=1)[0]["id"] in {"a1", "a5"}
