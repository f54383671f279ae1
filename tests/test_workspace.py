from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from app.cli import main
from app.errors import WorkspaceError
from app.workspace import Workspace


def test_open_missing_workspace_is_a_clear_error(tmp_path):
    with pytest.raises(WorkspaceError, match="no workspace at"):
        Workspace.open(tmp_path / "nope")


def test_corpus_view_has_core_and_metadata_columns(tiny_ws):
    cols = tiny_ws.columns("corpus")
    assert list(cols)[:4] == ["id", "source", "text", "text_hash"]
    assert "topic" in cols
    n, sources = tiny_ws.con.execute("SELECT count(*), count(DISTINCT source) FROM corpus").fetchone()
    assert (n, sources) == (6, 2)


def test_reingest_replaces_a_source(tiny_ws):
    tiny_ws.write_source("web", pd.DataFrame([{"id": "z", "text": "only one"}]))
    assert tiny_ws.con.execute("SELECT count(*) FROM corpus WHERE source='web'").fetchone()[0] == 1
    assert tiny_ws.info()["documents"] == 3


def test_parts_join_into_corpus_and_win_name_clashes(tiny_ws):
    tiny_ws.con.execute("CREATE TABLE sig_demo AS SELECT id, length(text) AS topic, 1.5 AS demo_score FROM docs")
    tiny_ws.register_part("sig_demo", kind="signal")
    cols = tiny_ws.columns("corpus")
    assert "demo_score" in cols and "meta_topic" in cols and cols["topic"] == "BIGINT"
    assert tiny_ws.info()["signals"] == ["demo_score", "topic"]
    tiny_ws.unregister_part("sig_demo")
    assert "demo_score" not in tiny_ws.columns("corpus")


def test_fingerprint_is_order_independent_and_content_sensitive(tmp_path):
    rows = [{"id": f"d{i}", "text": f"text {i}"} for i in range(50)]
    a = Workspace.open(tmp_path / "a", create=True)
    b = Workspace.open(tmp_path / "b", create=True)
    a.write_source("s", pd.DataFrame(rows))
    b.write_source("s", pd.DataFrame(rows[::-1]))
    assert a.fingerprint() == b.fingerprint()
    b.write_source("s", pd.DataFrame([*rows[:-1], {"id": "d49", "text": "changed"}]))
    assert a.fingerprint() != b.fingerprint()


def test_queryable_with_plain_duckdb(tiny_ws):
    path = tiny_ws.db_path
    tiny_ws.close()
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM corpus").fetchone()[0] == 6


def test_info_cli_prints_json_last_line(tiny_ws, capsys):
    path = tiny_ws.path
    tiny_ws.close()
    assert main(["info", "--workspace", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["documents"] == 6 and info["sources"] == {"other": 2, "web": 4}


def test_cli_error_is_one_line(tmp_path, capsys):
    assert main(["info", "--workspace", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("winnow: error: no workspace at")


def test_corpus_fast_is_corpus_without_text(tiny_ws):
    tiny_ws.con.execute("CREATE TABLE sig_demo AS SELECT id, length(text) AS demo_len FROM docs")
    tiny_ws.register_part("sig_demo", kind="signal")
    fast = tiny_ws.columns("corpus_fast")
    full = tiny_ws.columns("corpus")
    assert "text" not in fast and [c for c in full if c != "text"] == list(fast)
    a = tiny_ws.con.execute("SELECT * EXCLUDE (text) FROM corpus ORDER BY id").fetchall()
    b = tiny_ws.con.execute("SELECT * FROM corpus_fast ORDER BY id").fetchall()
    assert a == b


def test_deferred_views_rebuild_once_at_the_end(tiny_ws):
    with tiny_ws.deferred_views():
        for i in range(3):
            tiny_ws.con.execute(f"CREATE TABLE sig_{i} AS SELECT id, {i} AS col_{i} FROM docs")
            tiny_ws.register_part(f"sig_{i}", kind="signal")
        assert "col_0" not in tiny_ws.columns("corpus_fast")
    assert {"col_0", "col_1", "col_2"} <= set(tiny_ws.columns("corpus_fast"))


def test_corpus_fast_is_a_view_until_parts_exist_and_back(tiny_ws):
    from app.workspace import fast_relation

    assert tiny_ws.has_view("corpus_fast") and not tiny_ws.has_table("corpus_fast")
    assert fast_relation(tiny_ws.con) == "corpus_fast"
    tiny_ws.con.execute("CREATE TABLE sig_demo AS SELECT id, 1 AS one FROM docs")
    tiny_ws.register_part("sig_demo", kind="signal")
    assert tiny_ws.has_table("corpus_fast") and not tiny_ws.has_view("corpus_fast")
    assert tiny_ws.con.execute("SELECT sum(one) FROM corpus").fetchone()[0] == 6
    tiny_ws.unregister_part("sig_demo")
    assert tiny_ws.has_view("corpus_fast")
    assert tiny_ws.con.execute("SELECT count(*) FROM corpus WHERE text IS NOT NULL").fetchone()[0] == 6


def test_workspace_connections_have_a_bounded_memory_limit(tmp_path, monkeypatch):
    """DuckDB's own default (80% of the machine) let near dedup's aggregates grow with the corpus; a workspace
    connection is capped (a share of memory, at most MEMORY_CAP) and WINNOW_MEMORY overrides it."""
    from app import workspace as wsm

    monkeypatch.delenv("WINNOW_MEMORY", raising=False)
    ws = Workspace.open(tmp_path / "w", create=True)
    limit = ws.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    ws.close()
    value, unit = limit.split()
    assert float(value) * {"MiB": 2**20, "GiB": 2**30, "KiB": 2**10}[unit] <= wsm.MEMORY_CAP * 1.01
    monkeypatch.setenv("WINNOW_MEMORY", "300MB")
    with Workspace.open(tmp_path / "w") as ws:
        assert ws.con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "286.1 MiB"
    monkeypatch.setenv("WINNOW_MEMORY", "lots")
    with pytest.raises(WorkspaceError, match="WINNOW_MEMORY"):
        Workspace.open(tmp_path / "w")
