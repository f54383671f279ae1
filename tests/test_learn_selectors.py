"""Selectors shared by classifiers and reference models: each kind, errors, overlap handling."""

from __future__ import annotations

import json

import pytest

from app.errors import LearnError
from app.learn.selectors import Selector, read_texts, resolve, resolve_pair, texts_of


def test_parse_each_kind_and_errors():
    assert Selector.parse("label:toxic") == Selector("label", "toxic")
    assert Selector.parse("random:2,000").arg == "2000"
    assert str(Selector.parse("expr: size_words > 3")) == "expr:size_words > 3"
    for bad in ["toxic", "colour:red", "label:", "random:x", "random:0", "expr:size_words >", "expr:drop(1)"]:
        with pytest.raises(LearnError):
            Selector.parse(bad)


def test_resolve_source_label_random_expr(tiny_ws):
    con = tiny_ws.cursor()
    assert resolve(con, "source:web").ids == ["a1", "a2", "a3", "a4"]
    with pytest.raises(LearnError, match="sources: other, web"):
        resolve(con, "source:nope")
    with pytest.raises(LearnError, match="no labels"):
        resolve(con, "label:toxic")
    con.execute("INSERT INTO labels (id, label, note, created_at) VALUES ('a2', 'bad', NULL, now()::TIMESTAMP)")
    assert resolve(con, "label:bad").ids == ["a2"]
    r1 = resolve(con, "random:3", seed=1).ids
    assert len(r1) == 3 and r1 == resolve(con, "random:3", seed=1).ids
    assert not set(resolve(con, "random:10", exclude={"a1", "a2"}).ids) & {"a1", "a2"}
    assert set(resolve(con, "expr:source = 'other'").ids) == {"a5", "a6"}
    with pytest.raises(LearnError, match=r"no_such_col|not found|Referenced"):
        resolve(con, "expr:no_such_col > 1")
    with pytest.raises(LearnError, match="matches no document"):
        resolve(con, "expr:source = 'zzz'")


def test_file_selector_formats(tmp_path, tiny_ws):
    (tmp_path / "a.txt").write_text("one\n\n two \n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "x"}) + "\n" + json.dumps({"text": "y"}) + "\n")
    (tmp_path / "c.json").write_text(json.dumps([{"text": "p"}]))
    (tmp_path / "d.csv").write_text("text,other\nhello,1\n")
    (tmp_path / "e.jsonl").write_text('{"nottext": 1}\n')
    assert read_texts(tmp_path / "a.txt") == ["one", "two"]
    assert read_texts(tmp_path / "b.jsonl") == ["x", "y"]
    assert read_texts(tmp_path / "c.json") == ["p"]
    assert read_texts(tmp_path / "d.csv") == ["hello"]
    with pytest.raises(LearnError, match=r"e\.jsonl:1"):
        read_texts(tmp_path / "e.jsonl")
    with pytest.raises(LearnError, match="does not exist"):
        resolve(tiny_ws.cursor(), f"file:{tmp_path / 'missing.txt'}")
    sel = resolve(tiny_ws.cursor(), f"file:{tmp_path / 'b.jsonl'}")
    assert texts_of(tiny_ws.cursor(), sel) == ["x", "y"]


def test_pair_overlaps(tiny_ws):
    con = tiny_ws.cursor()
    con.execute("INSERT INTO labels (id, label, note, created_at) VALUES ('a1', 'bad', NULL, TIMESTAMP '2026-01-01')")
    con.execute(
        "INSERT INTO labels (id, label, note, created_at) VALUES ('a1', 'good', NULL, TIMESTAMP '2026-01-02')"
    )  # relabelled
    con.execute("INSERT INTO labels (id, label, note, created_at) VALUES ('a2', 'bad', NULL, TIMESTAMP '2026-01-01')")
    p = resolve_pair(con, "label:good", "label:bad")
    assert p.positive.ids == ["a1"] and p.negative.ids == ["a2"]
    p2 = resolve_pair(con, "source:web", "expr:id IN ('a1', 'a5')")
    assert "a1" not in p2.positive.ids and p2.negative.ids == ["a5"] and p2.dropped == 1
    p3 = resolve_pair(con, "source:other", "random:100")
    assert not set(p3.negative.ids) & {"a5", "a6"} and len(p3.negative.ids) == 4
    with pytest.raises(LearnError, match="same"):
        resolve_pair(con, "source:web", "source:web")
    with pytest.raises(LearnError, match="no document left"):
        resolve_pair(con, "source:other", "expr:source = 'other' or id = 'a1'")
