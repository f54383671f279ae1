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


def test_texts_found_by_file_and_line_in_an_ingested_workspace(tmp_path, monkeypatch):
    """Shards ingested in file and line order: each edge document's text is read with its ``_file``/``_row``
    added to the id equality (row groups skipped), and is its own; a wrong location finds nothing, so the
    caller reads ``docs`` instead (never another document's text)."""
    import json

    import pandas as pd

    from app.ingest import ingest
    from app.recipes import edge_index
    from app.workspace import Workspace

    files = []
    for k in range(3):
        f = tmp_path / f"part{k}.jsonl"
        f.write_text("".join(json.dumps({"id": f"p{k}-{i}", "text": f"shard {k} line {i}"}) + "\n" for i in range(40)))
        files.append(str(f))
    ws = Workspace.open(tmp_path / "ws", create=True)
    try:
        ingest(ws, files, source="web")
        ids = [r[0] for r in ws.con.execute("SELECT id FROM docs ORDER BY id").fetchall()]
        with ws.transaction() as cur:
            cur.register("_p", pd.DataFrame({"id": ids, "x": [(i * 7) % 13 for i in range(len(ids))]}))
            cur.execute("CREATE TABLE sig_x AS SELECT * FROM _p")
            cur.unregister("_p")
            ws.register_part("sig_x", kind="signal", con=cur)
        seen = []
        real = edge_index.texts_by_source
        monkeypatch.setattr(edges, "texts_by_source", lambda *a, **k: seen.append(k.get("locate")) or real(*a, **k))
        comp = compile_recipe(ws.con, {"version": 1, "rules": [{"signal": "x", "min": 6}]})
        got = edges.edge_documents(ws.con, comp, 0, n=4, text_chars=100)
        docs = got["above"] + got["below"]
        truth = dict(ws.con.execute("SELECT id, text FROM docs").fetchall())
        assert len(docs) == 8 and all(d["text"] == truth[d["id"]] for d in docs)
        assert seen and len(seen[0]) == 8 and all(v[0].startswith("part") for v in seen[0].values())
        some = docs[0]
        wrong = {some["id"]: ("part9.jsonl", 1)}
        assert real(ws.con, [(some["id"], "web")], text_chars=100, locate=wrong) is None
    finally:
        ws.close()
