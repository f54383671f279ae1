"""Named target similarities (issue 20): ``--name`` keeps several side by side, ``bad`` examples (a label or a
file) give ``sim_<name>_bad_max`` and ``sim_<name>_margin``; the CLI prints a summary, JSON only with --json."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.errors import MapError
from app.maps import target_similarity
from app.maps.target import check_name, similarities
from tests.test_map import topic_ws  # noqa: F401  (fixture)


def _label(ws, doc_id: str, label: str) -> None:
    ws.con.execute(
        "INSERT INTO labels (id, label, note, created_at) VALUES (?, ?, NULL, now()::TIMESTAMP)", [doc_id, label]
    )


def _cols(ws) -> set[str]:
    return {r[0] for r in ws.con.execute("DESCRIBE corpus").fetchall()}


def test_names_do_not_share_columns(topic_ws):  # noqa: F811
    target_similarity(topic_ws, texts=["engine fuel brakes"])
    before = topic_ws.con.execute("SELECT id, sim_target_max FROM corpus ORDER BY id").fetchall()
    _label(topic_ws, "cat001", "good")
    out = target_similarity(topic_ws, label="good", name="cats")
    assert out["columns"] == ["sim_cats_max", "sim_cats_mean"]
    assert {"sim_target_max", "sim_cats_max"} <= _cols(topic_ws)
    # the earlier (target) similarity is untouched by the named one
    assert topic_ws.con.execute("SELECT id, sim_target_max FROM corpus ORDER BY id").fetchall() == before
    top = topic_ws.con.execute("SELECT id FROM corpus ORDER BY sim_cats_max DESC LIMIT 5").fetchall()
    assert all(r[0].startswith("cat") for r in top)
    assert set(similarities(topic_ws)) == {"target", "cats"}


def test_bad_label_gives_a_margin(topic_ws):  # noqa: F811
    for i in (1, 2):
        _label(topic_ws, f"cat00{i}", "good")
        _label(topic_ws, f"car00{i}", "bad")
    out = target_similarity(topic_ws, label="good", bad_label="bad", name="pets")
    assert out["from_bad_label"] == 2 and out["columns"][2:] == ["sim_pets_bad_max", "sim_pets_margin"]
    rows = topic_ws.con.execute("SELECT id, sim_pets_max, sim_pets_bad_max, sim_pets_margin FROM corpus").fetchall()
    for doc_id, good, bad, margin in rows:
        assert margin == pytest.approx(good - bad, abs=1e-6)
        if doc_id.startswith("car"):
            assert margin < 0  # cars are nearer the bad examples
        if doc_id.startswith("cat"):
            assert margin > 0
    assert out["closer_to_good"] == sum(1 for r in rows if r[3] > 0)
    with pytest.raises(MapError, match="both the good and the bad"):
        target_similarity(topic_ws, label="good", bad_label="good")
    with pytest.raises(MapError, match="label 'worse'"):
        target_similarity(topic_ws, label="good", bad_label="worse")


def test_names_are_checked():
    assert check_name("code_2") == "code_2"
    for bad in ("", "Code", "2x", "a-b", "x" * 40, "a b"):
        with pytest.raises(MapError):
            check_name(bad)


def test_cli_name_bad_targets_and_json(topic_ws, tmp_path, capsys):  # noqa: F811
    ws = str(topic_ws.path)
    topic_ws.close()
    good, bad = tmp_path / "good.txt", tmp_path / "bad.jsonl"
    good.write_text("kitten purr\n")
    bad.write_text(json.dumps({"text": "engine fuel road"}) + "\n")
    args = ["similarity", "-w", ws, "--targets", str(good), "--bad-targets", str(bad), "--name", "kitten"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "sim_kitten_margin" in out and "closer to a good example" in out and "{" not in out
    assert main([*args, "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["name"] == "kitten" and res["bad_targets"] == 1 and res["closer_to_good"] >= 15
    assert main(["similarity", "-w", ws, "--targets", str(good), "--name", "Bad Name"]) == 1
    assert "similarity name" in capsys.readouterr().err
