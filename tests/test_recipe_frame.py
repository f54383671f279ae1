"""The recipe frame built without window functions (:mod:`app.recipes.frame_fast`) equals the SQL one.

Row for row (matched by id rank): the same plain columns, the same id ranks, the same NULL keys and the same
partition of the documents into clusters by each key (the codes may be numbered differently); and in the same
layout: the ordering key's clusters side by side, their rows in id order, NULL keys last.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.recipes import frame_fast, load_recipe, summarize
from app.recipes.cache import RecipeCache
from app.recipes.sqlparts import EXACT_KEY, ID_RANK, NEAR_KEY
from app.workspace import Workspace

KEYS = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "dd", "e\u00e9", ""])), min_size=1, max_size=40)


def _ws(path, exact: list, near: list, order: list[int]) -> Workspace:
    """Documents whose ids are inserted in ``order`` (not id order), with hand-made cluster keys."""
    n = len(exact)
    ids = [f"d{i:03d}" for i in order]
    w = Workspace.open(path, create=True)
    w.write_source("web", pd.DataFrame({"id": ids, "text": [f"text {i}" for i in order]}))
    part = pd.DataFrame(
        {
            "id": ids,
            "score": [(i * 7) % 5 for i in order],
            "dup_exact_cluster": [exact[i] for i in order],
            "dup_near_cluster": [near[i] for i in order],
            "size_tokens": [10 + i for i in range(n)],
        }
    )
    with w.transaction() as cur:
        cur.register("_p", part)
        cur.execute("CREATE OR REPLACE TABLE sig_fr AS SELECT * FROM _p")
        cur.unregister("_p")
        w.register_part("sig_fr", kind="signal", con=cur)
    return w


def _frames(w, recipe, monkeypatch):
    fast = RecipeCache().frame(w.con, recipe)[1]
    with monkeypatch.context() as m:
        m.setattr(frame_fast, "is_table", lambda con, name: False)
        slow = RecipeCache().frame(w.con, recipe)[1]
    return fast, slow


def _same_partition(a, b) -> bool:
    pairs = set(zip(a, b, strict=True))
    return len(pairs) == len(set(a)) == len(set(b))


def _check(fast, slow):
    assert fast.schema == slow.schema and fast.num_rows == slow.num_rows
    if ID_RANK not in fast.column_names:  # no dedup: nothing computed, the same scan
        assert fast.equals(slow)
        return
    by = [(ID_RANK, "ascending")]
    f, s = fast.take(pc.sort_indices(fast, by)), slow.take(pc.sort_indices(slow, by))
    for c in fast.column_names:
        if c in (EXACT_KEY, NEAR_KEY):
            a, b = f.column(c).to_pylist(), s.column(c).to_pylist()
            assert [x is None for x in a] == [x is None for x in b], c
            assert _same_partition(a, b), c
        else:
            assert f.column(c).equals(s.column(c)), c
    key = next((k for k in (EXACT_KEY, NEAR_KEY) if k in fast.column_names), None)
    if key:  # the layout: clusters side by side in code order, id order within, NULL keys last
        codes = fast.column(key).to_pylist()
        ranks = fast.column(ID_RANK).to_pylist()
        nulls = [c is None for c in codes]
        assert nulls == sorted(nulls)
        pairs = [(c, r) for c, r in zip(codes, ranks, strict=True) if c is not None]
        assert pairs == sorted(pairs)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), exact=st.booleans(), near=st.booleans())
def test_fast_frame_equals_sql_frame(tmp_path_factory, monkeypatch, data, exact, near):
    ex = data.draw(KEYS)
    n = len(ex)
    nr = data.draw(st.lists(st.one_of(st.none(), st.sampled_from(["x", "y", "z"])), min_size=n, max_size=n))
    order = data.draw(st.permutations(range(n)))
    w = _ws(tmp_path_factory.mktemp("fr") / "ws", ex, nr, list(order))
    try:
        recipe = load_recipe(
            f"version: 1\nrules: [{{signal: score, min: 1}}]\ndedup: {{exact: {str(exact).lower()}, "
            f"near: {str(near).lower()}}}\n"
        )
        fast, slow = _frames(w, recipe, monkeypatch)
        _check(fast, slow)
        s_fast = summarize(w.con, recipe)
        s_slow = summarize(w.con, recipe, cache=False)
        assert s_fast["kept_docs"] == s_slow["kept_docs"]
        assert [r["removed"] for r in s_fast["rules"]] == [r["removed"] for r in s_slow["rules"]]
    finally:
        w.close()


def test_fast_path_is_taken_and_colliding_hashes_fall_back(tmp_path, monkeypatch):
    ex = ["a", "a", None, "b", "c", "b"]
    w = _ws(tmp_path / "ws", ex, ["x", None, "x", "y", "y", None], [3, 0, 5, 1, 4, 2])
    try:
        recipe = load_recipe("version: 1\nrules: []\ndedup: {exact: true, near: true}\n")
        calls = []
        real = frame_fast.build
        monkeypatch.setattr(frame_fast, "build", lambda *a, **k: calls.append(1) or real(*a, **k))
        fast, slow = _frames(w, recipe, monkeypatch)
        assert calls == [1]
        _check(fast, slow)
        # two keys that share a hash: the second hash disagrees inside a run, so the frame is built in SQL
        monkeypatch.setattr(frame_fast, "_runs", lambda h, h2, rows: None)
        assert RecipeCache().frame(w.con, recipe)[1].equals(slow)
    finally:
        w.close()


def test_runs_detects_a_shared_hash():
    rows = np.arange(4)
    h = np.array([5, 5, 7, 7], dtype=np.uint64)
    order, run = frame_fast._runs(h, np.array([1, 1, 2, 2], dtype=np.uint64), rows)
    assert order.tolist() == [0, 1, 2, 3] and run.tolist() == [1, 1, 2, 2]
    assert frame_fast._runs(h, np.array([1, 2, 3, 3], dtype=np.uint64), rows) is None


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_workspaces(tmp_path, monkeypatch, n):
    w = _ws(tmp_path / "ws", ["a"] * n, ["x"] * n, list(range(n)))
    try:
        recipe = load_recipe("version: 1\nrules: []\ndedup: {exact: true}\n")
        if n == 0:
            assert summarize(w.con, recipe)["kept_docs"] == 0
            return
        _check(*_frames(w, recipe, monkeypatch))
    finally:
        w.close()
