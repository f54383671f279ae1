"""Headless semantic dedup: vectors per batch on disk, the workspace's PCA, k-means and SemDeDup in id order.

The model-free ``hash:64`` embedder stands in for the fast static model (same code path; it needs no model
files), on a crawl of random-word documents with one-word variants (cosine ~0.97, over the 0.95 threshold)."""

from __future__ import annotations

import json
import random

import pytest

from app.errors import RecipeError
from app.export import apply
from app.export.headless import apply_headless

pytest.importorskip("sklearn")

RECIPE = "version: 1\nrules:\n  - {signal: score, min: 2}\ndedup: {semantic: true}\n"


def _crawl(n_base: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    vocab = [f"w{i}" for i in range(500)]
    rows: list[dict] = []
    for _ in range(n_base):
        words = [rnd.choice(vocab) for _ in range(rnd.randint(40, 90))]
        rows.append({"text": " ".join(words), "score": rnd.randint(0, 9)})
        for _ in range(rnd.randint(0, 2)):
            v = list(words)
            v[rnd.randrange(len(v))] = rnd.choice(vocab)
            rows.append({"text": " ".join(v), "score": rnd.randint(0, 9)})
    order = list(range(len(rows)))
    rnd.shuffle(order)
    return [{"id": f"d{order[i]:04d}", **r} for i, r in enumerate(rows)]


def _jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _out_ids(out) -> list[str]:
    return sorted(json.loads(line)["id"] for f in sorted(out.glob("*.jsonl")) for line in f.open())


@pytest.mark.slow
def test_headless_semantic_equals_workspace(tmp_path):
    """Same duplicates and same kept documents as ``winnow embed`` + ``winnow map`` + ``winnow apply``."""
    from app.embed import embed
    from app.ingest import ingest
    from app.maps import build_map
    from app.workspace import Workspace

    rows = _crawl(110, seed=3)
    src = _jsonl(tmp_path / "in.jsonl", rows)
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, [src], source="in", id_field="id")
        embed(w, model="hash:64")
        build_map(w)
        ws_dups = w.con.execute("SELECT id, semdup_dup_of FROM corpus WHERE semdup_is_dup ORDER BY id").fetchall()
        apply(w, RECIPE, tmp_path / "ws_out", fmt="jsonl")
    assert len(ws_dups) >= 20  # the crawl really has semantic duplicates
    m = apply_headless(RECIPE, [src], tmp_path / "hl_out", fmt="jsonl", source="in", id_field="id",
                       tokens="estimate", semantic_model="hash:64")  # fmt: skip
    assert _out_ids(tmp_path / "hl_out") == _out_ids(tmp_path / "ws_out")
    sem = m["source"]["semantic"]
    assert sem["duplicates"] == len(ws_dups) and sem["model"] == "hash:64" and sem["documents"] == len(rows)
    # without the rule: every duplicate whose earlier document survives is removed, the same ones
    only = "version: 1\ndedup: {semantic: true}\n"
    with Workspace.open(tmp_path / "ws", read_only=True) as w:
        apply(w, only, tmp_path / "ws_only", fmt="jsonl")
    apply_headless(only, [src], tmp_path / "hl_only", fmt="jsonl", source="in", id_field="id", tokens="estimate",
                   semantic_model="hash:64")  # fmt: skip
    assert _out_ids(tmp_path / "hl_only") == _out_ids(tmp_path / "ws_only") and len(
        _out_ids(tmp_path / "ws_only")
    ) < len(rows)


def test_headless_semantic_bad_eps_and_empty(tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    with pytest.raises(RecipeError, match="--semantic-eps must be between 0 and 1"):
        apply_headless(RECIPE, [src], tmp_path / "o", semantic_model="hash:64", semantic_eps=1.5)
    empty = _jsonl(tmp_path / "e.jsonl", [])
    m = apply_headless("version: 1\ndedup: {semantic: true}\n", [empty], tmp_path / "o2", semantic_model="hash:64")
    assert m["counts"]["kept_docs"] == 0 and m["source"]["semantic"]["duplicates"] == 0


def _digest(d) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(d.rglob("*")) if p.is_file()]


def test_headless_semantic_finds_duplicates_and_pool_is_identical(tmp_path):
    """A local pool embeds the batches in its workers; output files and manifest equal the one-process run."""
    from app.engine import make_engine

    rows = _crawl(40, seed=5)
    src = _jsonl(tmp_path / "in.jsonl", rows)
    kw = {"fmt": "jsonl", "id_field": "id", "tokens": "estimate", "semantic_model": "hash:64"}
    m = apply_headless(RECIPE, [src], tmp_path / "a", **kw)
    assert m["source"]["semantic"]["duplicates"] >= 5 and m["counts"]["kept_docs"] < len(rows)
    with make_engine("local", workers=2) as eng:
        apply_headless(RECIPE, [src], tmp_path / "b", engine=eng, **kw)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_cli_semantic_options(tmp_path, capsys):
    from app.cli import main

    src = _jsonl(tmp_path / "in.jsonl", _crawl(30, seed=1))
    r = tmp_path / "r.yaml"
    r.write_text(RECIPE)
    base = ["apply", "--recipe", str(r), "--input", src, "--id-field", "id", "--tokens", "estimate",
            "--semantic-model", "hash:64"]  # fmt: skip
    assert main([*base, "--semantic-eps", "0", "--out", str(tmp_path / "o")]) != 0
    assert "--semantic-eps must be between 0 and 1" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "o")]) == 0
    m = json.loads((tmp_path / "o" / "__winnow__" / "manifest.json").read_text())
    assert m["source"]["semantic"]["duplicates"] > 0
