"""The engine's swap of staged rows into ``sig_<family>`` (app/signals/_engine_store.py): a staging table the run
created becomes the family's table by a rename; one holding an interrupted run's rows goes through the join with
the documents. Both give the same tables as each other and as a run from scratch."""

from __future__ import annotations

import pandas as pd
import pytest

from app.signals import engine


def _ws(tmp_path, texts: dict[str, str], name: str):
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path / name, create=True)
    ws.write_source("web", pd.DataFrame({"id": list(texts), "text": list(texts.values())}))
    return ws


def _tables(ws, family: str) -> tuple[list, list, list]:
    sig = ws.con.execute(f"SELECT * FROM sig_{family} ORDER BY id").fetchall()
    hsh = ws.con.execute(f"SELECT * FROM _sighash_{family} ORDER BY id").fetchall()
    cols = list(ws.columns(f"sig_{family}"))
    return sig, hsh, cols


TEXTS = {f"d{i}": f"Document {i} says hello.\nA second line {i % 3}." for i in range(30)}


def test_fresh_staging_is_renamed_to_the_family_table(tmp_path):
    ws = _ws(tmp_path, TEXTS, "a")
    res = engine.score(ws, signals="size,compression")
    assert res["families"]["size"] == {**res["families"]["size"], "computed": 30, "reused": 0, "rows": 30}
    sig, hsh, cols = _tables(ws, "size")
    assert cols == ["id", "size_chars", "size_bytes", "size_words", "size_lines", "size_tokens"]
    docs = ws.con.execute("SELECT id, text_hash FROM docs ORDER BY id").fetchall()
    assert hsh == docs and [r[0] for r in sig] == [d[0] for d in docs]
    assert not ws.has_table("_stage_size") and not ws.has_table("_stage_compression")
    runs = engine.runs(ws)
    assert runs["size"]["n"] == 30 and runs["compression"]["n"] == 30
    assert ws.con.execute("SELECT count(size_chars) FROM corpus").fetchone()[0] == 30
    ws.close()


def test_resumed_and_incremental_runs_equal_a_fresh_run(tmp_path, monkeypatch):
    # interrupted after one batch, then resumed (the staging table holds rows: the join path)
    ws = _ws(tmp_path, TEXTS, "b")
    real, calls = engine._arrow_batch, {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(engine, "_arrow_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        engine.score(ws, signals="size", batch_size=10)
    monkeypatch.setattr(engine, "_arrow_batch", real)
    res = engine.score(ws, signals="size", batch_size=10)
    assert res["families"]["size"]["computed"] == 20 and res["families"]["size"]["rows"] == 30
    # a changed document: old rows kept, one recomputed (the join path with valid old rows)
    changed = {**TEXTS, "d3": "Changed text."}
    ws.write_source("web", pd.DataFrame({"id": list(changed), "text": list(changed.values())}))
    res = engine.score(ws, signals="size", batch_size=10)
    assert res["families"]["size"]["computed"] == 1 and res["families"]["size"]["rows"] == 30
    fresh = _ws(tmp_path, changed, "c")
    engine.score(fresh, signals="size")
    assert _tables(ws, "size") == _tables(fresh, "size")
    assert engine.runs(ws)["size"]["n"] == engine.runs(fresh)["size"]["n"] == 30
    ws.close()
    fresh.close()
