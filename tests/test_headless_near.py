"""Headless near dedup: MinHash clusters computed while streaming raw input, equal to a scored workspace's.

Headless apply computes the ``dedup_near`` scorer's band keys per batch and clusters them with the scorer's
own function, so a recipe with near dedup keeps the same documents headless as from a workspace, and a
cluster whose smallest id fails a rule keeps another copy (issue 21) there too.
"""

from __future__ import annotations

import json
import random

import pytest

from app.export import apply
from app.export.headless import apply_headless
from tests.test_dedup_survivors import BODY, RULE

pytest.importorskip("scipy")
pytest.importorskip("xxhash")


def _jsonl(path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _out_ids(out) -> list[str]:
    return sorted(json.loads(line)["id"] for f in sorted(out.glob("*.jsonl")) for line in f.open())


def test_headless_near_dedup_keeps_a_surviving_copy(tmp_path):
    """n1 < n2 < n3 are near copies; n1 fails the rule, so n2 is kept (not the whole cluster dropped)."""
    rows = [
        {"id": "n1", "text": BODY, "score": 0},
        {"id": "n2", "text": BODY.replace("weather", "climate", 1), "score": 5},
        {"id": "n3", "text": BODY.replace("town", "city", 1), "score": 5},
        {"id": "x1", "text": "a short unrelated note about cooking pasta", "score": 5},
    ]
    src = _jsonl(tmp_path / "in.jsonl", rows)
    m = apply_headless(RULE + "dedup: {near: true}\n", [src], tmp_path / "o", fmt="jsonl", id_field="id")
    assert _out_ids(tmp_path / "o") == ["n2", "x1"]
    assert m["counts"]["kept_docs"] == 2 and m["source"]["passes"] == 2
    # the older whole-corpus choice: the cluster's representative n1 fails, so no copy survives
    old = RULE + "dedup: {near: true, over: corpus}\n"
    apply_headless(old, [src], tmp_path / "o2", fmt="jsonl", id_field="id")
    assert _out_ids(tmp_path / "o2") == ["x1"]


def _crawl(n_base: int, seed: int) -> list[dict]:
    """Random-word documents, each with 0-3 near variants (a few words changed) and sometimes an exact copy
    (differing only in case and spacing), shuffled ids, a score to filter on and one empty text."""
    rnd = random.Random(seed)
    vocab = [f"w{i}" for i in range(400)]
    rows: list[dict] = []
    for b in range(n_base):
        words = [rnd.choice(vocab) for _ in range(rnd.randint(30, 80))]
        texts = [" ".join(words)]
        for _ in range(rnd.randint(0, 3)):
            v = list(words)
            v[rnd.randrange(len(v))] = rnd.choice(vocab)
            texts.append(" ".join(v))
        if b % 5 == 0:
            texts.append("  " + texts[0].upper().replace(" ", "  "))
        rows.extend({"text": t, "score": rnd.randint(0, 9)} for t in texts)
    rows.append({"text": "", "score": 9})
    order = list(range(len(rows)))
    rnd.shuffle(order)
    return [{"id": f"d{order[i]:04d}", **r} for i, r in enumerate(rows)]


def test_headless_near_equals_workspace(tmp_path):
    """Rules (one a quantile) + exact + near dedup: headless keeps exactly the workspace path's documents."""
    from app.ingest import ingest
    from app.signals import engine
    from app.workspace import Workspace

    rows = _crawl(60, seed=7)
    src = _jsonl(tmp_path / "in.jsonl", rows)
    recipe = (
        "version: 1\nrules:\n  - {signal: score, min: 2}\n  - {signal: score, max_quantile: 0.9}\n"
        "dedup: {exact: true, near: true}\n"
    )
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, [src], source="in", id_field="id")
        engine.score(w, signals="dedup_near")
        sizes = [r[0] for r in w.con.execute("SELECT dup_near_size FROM corpus").fetchall()]
        apply(w, recipe, tmp_path / "ws_out", fmt="jsonl")
    assert max(sizes) >= 3  # the crawl really has near-duplicate clusters
    m = apply_headless(recipe, [src], tmp_path / "hl_out", fmt="jsonl", source="in", id_field="id", tokens="estimate")
    ws_ids, hl_ids = _out_ids(tmp_path / "ws_out"), _out_ids(tmp_path / "hl_out")
    assert hl_ids == ws_ids and m["counts"]["kept_docs"] == len(ws_ids)
    # and near dedup removed something beyond exact dedup and the rules
    no_near = recipe.replace("near: true", "near: false")
    apply_headless(no_near, [src], tmp_path / "hl_exact", fmt="jsonl", source="in", id_field="id", tokens="estimate")
    assert len(_out_ids(tmp_path / "hl_exact")) > len(hl_ids)


def test_headless_near_empty_input(tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", [])
    m = apply_headless("version: 1\ndedup: {near: true}\n", [src], tmp_path / "o", fmt="jsonl")
    assert m["counts"]["kept_docs"] == 0


def test_exact_keys_computed_by_workers_equal_the_workspace_expression():
    """The exact-duplicate key a worker computes for its batch (app.export.headless_pass.exact_keys) is the
    workspace path's expression, in input order, whitespace and case folded as there."""
    import duckdb

    from app.export.headless_pass import exact_keys
    from app.recipes.sqlparts import EXACT_NORM_SQL

    texts = ["A  b", "a b", " a\tb ", "a\u00a0b", "", "Ünïcode  ÉTÉ", "x\r\n\fy", "a b"]
    got = exact_keys(texts).to_pylist()
    con = duckdb.connect()
    want = [con.execute(f"SELECT {EXACT_NORM_SQL} FROM (SELECT ? AS text)", [t]).fetchone()[0] for t in texts]
    assert got == want
    assert got[0] == got[1] == got[2] == got[7] and got[3] != got[1]  # a no-break space is not folded
