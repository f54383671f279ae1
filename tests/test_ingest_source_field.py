"""``--source-field``: one file that mixes sources becomes one workspace source per value."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.errors import IngestError
from app.ingest import ingest
from app.workspace import Workspace

ROWS = [
    {"text": "a web page about cats", "source": "web"},
    {"text": "a wiki paragraph about dogs", "source": "wiki"},
    {"text": "another web page", "source": "web"},
    {"text": "no source here", "source": None},
    {"text": "", "source": "wiki"},
]


@pytest.fixture
def mixed(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n", encoding="utf-8")
    return path


def test_source_field_splits_sources_and_keeps_ids_and_accounting(tmp_path, mixed):
    with Workspace.open(tmp_path / "plain", create=True) as ws:
        ingest(ws, [str(mixed)])
        plain = dict(ws.con.execute("SELECT text, id FROM corpus").fetchall())
    with Workspace.open(tmp_path / "ws", create=True) as ws:
        out = ingest(ws, [str(mixed)], source_field="source")
        assert out["created_sources"] == ["mixed", "web", "wiki"]
        counts = dict(ws.con.execute("SELECT source, count(*) FROM corpus GROUP BY ALL").fetchall())
        assert counts == {"web": 2, "wiki": 1, "mixed": 1}
        assert dict(ws.con.execute("SELECT text, id FROM corpus").fetchall()) == plain
        read, ingested, skipped = ws.con.execute("SELECT read, ingested, skipped FROM ingest_log").fetchall()[0]
        assert (read, ingested, json.loads(skipped)) == (5, 4, {"empty_text": 1})
        # re-ingesting replaces the split sources, never doubles them
        ingest(ws, [str(mixed)], source_field="source")
        assert ws.con.execute("SELECT count(*) FROM corpus").fetchall()[0][0] == 4


def test_unknown_source_field_is_one_line_error_and_changes_nothing(tmp_path, mixed, capsys):
    with Workspace.open(tmp_path / "ws", create=True) as ws:
        with pytest.raises(IngestError, match="no source field 'lang'"):
            ingest(ws, [str(mixed)], source_field="lang")
        assert ws.sources() == []
    assert main(["ingest", str(mixed), "-w", str(tmp_path / "ws"), "--source-field", "nope"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no source field 'nope'" in err[0]


def test_realmix_by_its_source_field(tmp_path, realmix):
    with Workspace.open(tmp_path / "ws", create=True) as ws:
        ingest(ws, [str(realmix / "realmix.parquet")], source_field="source")
        counts = dict(ws.con.execute("SELECT source, count(*) FROM corpus GROUP BY ALL").fetchall())
    assert counts["social"] == 24_783 and counts["wiki"] == 4_024 and counts["web_page"] == 181
    assert sum(counts.values()) == 53_941
