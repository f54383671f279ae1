"""``winnow labels``: import (unknown ids counted, bad names refused, all or nothing), list, export, remove,
and the ``created_by`` column added to workspaces made before it existed."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.errors import LearnError
from app.explore import labels


@pytest.fixture
def ws_path(tiny_ws):
    ids = [r[0] for r in tiny_ws.cursor().execute("SELECT id FROM docs ORDER BY id").fetchall()]
    path = tiny_ws.path
    tiny_ws.close()
    return path, ids


def _count(path) -> int:
    from app.workspace import Workspace

    with Workspace.open(path, read_only=True) as ws:
        return int(ws.cursor().execute("SELECT count(*) FROM labels").fetchone()[0])


def test_import_list_export_remove(ws_path, tmp_path, capsys):
    path, ids = ws_path
    f = tmp_path / "l.csv"
    f.write_text(f"id,label,note\n{ids[0]},good,fine\n{ids[1]},bad,\nnot-a-doc,good,\nghost,bad,\n,good,\n")
    assert main(["labels", "import", str(f), "-w", str(path), "--by", "ana"]) == 0
    out = capsys.readouterr().out
    assert "imported 2 of 5 rows" in out
    assert "2 rows name ids not in the workspace" in out and "not-a-doc, ghost" in out
    assert "1 rows without an id or a label" in out
    assert main(["labels", "list", "-w", str(path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["labels"]
    assert {r["label"]: (r["documents"], r["by"]) for r in listed} == {"good": (1, ["ana"]), "bad": (1, ["ana"])}
    exp = tmp_path / "out.jsonl"
    assert main(["labels", "export", str(exp), "-w", str(path)]) == 0
    rows = [json.loads(line) for line in exp.read_text().splitlines()]
    assert sorted((r["id"], r["label"], r["note"], r["created_by"]) for r in rows) == sorted(
        [(ids[0], "good", "fine", "ana"), (ids[1], "bad", None, "ana")]
    )
    # the exported file imports again (round trip)
    assert main(["labels", "import", str(exp), "-w", str(path)]) == 0
    assert _count(path) == 4
    assert main(["labels", "remove", "--label", "good", "--id", ids[0], "-w", str(path)]) == 0
    assert "removed 2 good labels" in capsys.readouterr().out
    assert _count(path) == 2


def test_bad_input_is_one_line_and_writes_nothing(ws_path, tmp_path, capsys):
    path, ids = ws_path
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": ids[0], "label": "ok"}) + "\n" + json.dumps({"id": ids[1], "label": "no way"}))
    assert main(["labels", "import", str(bad), "-w", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 2: bad label name 'no way'" in err
    assert _count(path) == 0  # the good first row was not kept either
    strict = tmp_path / "s.csv"
    strict.write_text(f"id,label\n{ids[0]},good\nghost,good\n")
    assert main(["labels", "import", str(strict), "-w", str(path), "--strict"]) == 1
    assert "ghost" in capsys.readouterr().err and _count(path) == 0
    nolabel = tmp_path / "n.csv"
    nolabel.write_text("id,tag\na,b\n")
    assert main(["labels", "import", str(nolabel), "-w", str(path)]) == 1
    assert "no 'label' column" in capsys.readouterr().err
    assert main(["labels", "import", str(tmp_path / "t.txt"), "-w", str(path)]) == 1
    assert main(["labels", "remove", "--label", "nope", "-w", str(path)]) == 1
    assert "no document carries the label 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["", " ", "a b", "-x", "x" * 65, "a:b", "<b>"])
def test_check_label_refuses(name):
    with pytest.raises(LearnError, match="bad label name"):
        labels.check_label(name)


@pytest.mark.parametrize("name", ["good", "toxic", "edu-4", "qualité", "有毒", "v1.2"])
def test_check_label_accepts_any_script(name):
    assert labels.check_label(name) == name


def test_old_workspace_gains_created_by(tmp_path):
    import duckdb

    from app.workspace import Workspace

    ws = Workspace.open(tmp_path / "w", create=True)
    ws.close()
    con = duckdb.connect(str(tmp_path / "w" / "winnow.duckdb"))
    con.execute("DROP TABLE labels")  # the table as workspaces made before ``created_by`` had it
    con.execute("CREATE TABLE labels (id VARCHAR NOT NULL, label VARCHAR NOT NULL, note VARCHAR, created_at TIMESTAMP)")
    con.execute("INSERT INTO labels VALUES ('d1', 'good', NULL, now()::TIMESTAMP)")
    con.close()
    with Workspace.open(tmp_path / "w") as ws:
        labels.add_label(ws.cursor(), "d2", "bad", by="bo")
        rows = ws.cursor().execute("SELECT id, label, created_by FROM labels ORDER BY id").fetchall()
    assert rows == [("d1", "good", None), ("d2", "bad", "bo")]
