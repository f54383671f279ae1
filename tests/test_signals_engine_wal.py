"""What the signal engine does around the families (issue 18): DuckDB's checkpoint threshold is raised while the
staging tables are written and restored after the run, even a failed one; a batch's memoised tokens are dropped
when the batch is done."""

from __future__ import annotations

import pandas as pd
import pytest

from app.errors import SignalError
from app.signals import _engine_store, _text, _token_arrays, engine

TEXTS = {f"d{i}": f"Document {i} says hello, hello.\nA second line {i % 3}." for i in range(40)}


def _ws(tmp_path):
    from app.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("web", pd.DataFrame({"id": list(TEXTS), "text": list(TEXTS.values())}))
    return ws


def _threshold(con) -> str:
    return con.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0]


def test_checkpoint_threshold_is_raised_during_the_run_and_restored(tmp_path, monkeypatch):
    ws = _ws(tmp_path)
    ws.con.execute("SET checkpoint_threshold = '20MB'")
    before = _threshold(ws.con)
    ws.con.execute(f"SET checkpoint_threshold = '{_engine_store.WAL_CHECKPOINT}'")
    roomy = _threshold(ws.con)
    ws.con.execute(f"SET checkpoint_threshold = '{before}'")
    seen = []
    real = engine._doc_worker

    def spy(specs, texts, masks):
        seen.append(_threshold(ws.con))
        return real(specs, texts, masks)

    monkeypatch.setattr(engine, "_doc_worker", spy)
    res = engine.score(ws, signals="size,gopher_repetition", batch_size=16)
    assert res["families"]["size"]["computed"] == len(TEXTS)
    assert seen and set(seen) == {roomy} and roomy != before
    assert _threshold(ws.con) == before
    ws.close()


def test_checkpoint_threshold_is_restored_after_a_failed_run(tmp_path, monkeypatch):
    ws = _ws(tmp_path)
    before = _threshold(ws.con)

    def boom(specs, texts, masks):
        raise SignalError("scorer failed")

    monkeypatch.setattr(engine, "_doc_worker", boom)
    with pytest.raises(SignalError, match="scorer failed"):
        engine.score(ws, signals="size")
    assert _threshold(ws.con) == before
    ws.close()


def test_a_batch_leaves_no_memoised_tokens(tmp_path):
    ws = _ws(tmp_path)
    engine.score(ws, signals="gopher_quality,gopher_repetition,fineweb", batch_size=16)
    assert not _text._MEMO
    assert _token_arrays._LAST == [None, None]
    ws.close()


def test_memo_is_shared_within_a_batch_and_dropped_after_it():
    texts = ["one two two three", "Ein Satz. Noch einer!"]
    toks = _text.words_batch(texts)
    assert _text.words_batch(texts) is toks  # the families of a batch share one tokenisation
    ta = _token_arrays.token_arrays(toks)
    assert _token_arrays.token_arrays(toks) is ta
    _text.reset_memo()
    assert not _text._MEMO and _token_arrays._LAST == [None, None]
    assert _text.words_batch(texts) == toks and _text.words_batch(texts) is not toks


def test_roomy_wal_sets_the_size_asked_for_and_restores():
    import duckdb

    con = duckdb.connect()
    before = _threshold(con)
    with _engine_store.roomy_wal(con, "64MB"):
        assert _threshold(con) == "61.0 MiB"
    assert _threshold(con) == before
