"""The edge picker's text fetch (:func:`app.recipes.edges._texts`): one equality per id up to ``_EQ_IDS`` ids, a
semi-join beyond; both give every chosen document its own text."""

from __future__ import annotations

import duckdb
import pytest

from app.recipes import edges
from app.recipes.compile import compile_recipe


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("CREATE TABLE t (id VARCHAR, source VARCHAR, text VARCHAR, x INTEGER)")
    rows = [(f"d'{i:03d}", "s", f"text of {i}", i % 7) for i in range(200)]  # a quote in every id
    c.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    yield c
    c.close()


@pytest.mark.parametrize("n", [1, 3, edges._EQ_IDS // 2 + 5])  # the last: more ids than _EQ_IDS (semi-join)
def test_every_edge_document_gets_its_own_text(con, n):
    comp = compile_recipe(con, {"version": 1, "rules": [{"signal": "x", "min": 3}]}, relation="t")
    got = edges.edge_documents(con, comp, 0, n=n, text_chars=100, relation="t")
    docs = got["above"] + got["below"]
    assert len(docs) == 2 * n
    assert all(d["text"] == f"text of {int(d['id'][2:])}" for d in docs)


def test_texts_by_equality_and_by_semi_join_agree(con):
    ids = [*(f"d'{i:03d}" for i in range(0, 200, 3)), "absent"]
    by_join = edges._texts(con, "t", ids, text_chars=6)
    assert len(ids) > edges._EQ_IDS and len(by_join) == len(ids) - 1
    few = [*ids[:5], "absent"]
    assert edges._texts(con, "t", few, text_chars=6) == {i: by_join[i] for i in ids[:5]}


def test_no_document_on_one_side_of_the_cut(con):
    comp = compile_recipe(con, {"version": 1, "rules": [{"signal": "x", "min": 0}]}, relation="t")
    got = edges.edge_documents(con, comp, 0, n=3, text_chars=10, relation="t")
    assert len(got["above"]) == 3 and got["below"] == []
