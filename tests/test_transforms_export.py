"""Transforms on export: the workspace and headless exports write the same cleaned text, ``score: cleaned``
selects on the cleaned text's signals, and the manifest records the steps and their counts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from app.errors import ExportError
from app.export import apply
from app.export.headless import apply_headless

DOCS = [
    # an article behind a menu, in CRLF: FineWeb's line rule fails it raw, passes it cleaned
    "Home\r\nNews\r\nSport\r\nWeather\r\nThe river flooded the valley after three days of rain.\r\n"
    "Farmers moved their animals to higher ground.\r\nWrite to desk@example.org for details.\r\n",
    "A fine sentence that ends well.\nAnother fine sentence is here, call +1 555 123 4567.\n",
    "menu\nlogin\nsearch",
    "Cafe\u0301 owners met on Tuesday to discuss the new rules.\nThey agreed on most points.",
    "Enable JavaScript to see this page.\nThe council voted to keep the library open.",
]

RECIPE = """version: 1
rules:
  - {signal: fineweb_line_punct_ratio, min: 0.5}
transforms:
  steps: [normalize, c4_lines, pii_redact]
  score: SCORE
"""


def write_input(d: Path) -> str:
    d.mkdir(parents=True, exist_ok=True)
    with gzip.open(d / "in.jsonl.gz", "wt", encoding="utf-8") as f:
        for i, t in enumerate(DOCS):
            f.write(json.dumps({"id": f"d{i}", "text": t}) + "\n")
    return str(d / "in.jsonl.gz")


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(out.glob("*.jsonl")) for line in f.read_text().splitlines()]


@pytest.fixture
def scored_ws(tmp_path):
    from app.ingest import ingest
    from app.signals import engine
    from app.workspace import Workspace

    src = write_input(tmp_path / "raw")
    w = Workspace.open(tmp_path / "ws", create=True)
    ingest(w, [src], source="raw")
    engine.score(w, signals=["size", "fineweb"])
    yield w, src
    w.close()


@pytest.mark.parametrize("score", ["raw", "cleaned"])
def test_workspace_and_headless_export_the_same_cleaned_text(scored_ws, tmp_path, score):
    ws, src = scored_ws
    recipe = RECIPE.replace("SCORE", score)
    mw = apply(ws, recipe, tmp_path / "ws_out", fmt="jsonl")
    mh = apply_headless(recipe, [src], tmp_path / "hl_out", fmt="jsonl", source="raw")
    a, b = rows(tmp_path / "ws_out"), rows(tmp_path / "hl_out")
    assert a == b
    assert (tmp_path / "ws_out" / "data-00000-of-00001.jsonl").read_bytes() == (
        tmp_path / "hl_out" / "data-00000-of-00001.jsonl"
    ).read_bytes()
    for m in (mw, mh):
        tx = m["transforms"]
        assert [s["name"] for s in tx["steps"]] == ["normalize", "c4_lines", "pii_redact"]
        assert tx["docs"] == len(a) and tx["score"] == score
        assert all("version" in s and "options" in s for s in tx["steps"])
    assert {k: v for k, v in mw["transforms"].items() if k != "rescored_families"} == {
        k: v for k, v in mh["transforms"].items() if k != "rescored_families"
    }
    assert mw["counts"]["kept_docs"] == mh["counts"]["kept_docs"]
    prov = mw["provenance"]["transforms"]
    assert prov == mh["provenance"]["transforms"] and prov["score"] == score
    assert [s["name"] for s in prov["steps"]] == ["normalize", "c4_lines", "pii_redact"] and len(prov["digest"]) == 16
    texts = {r["orig_id"]: r["text"] for r in a}
    if score == "cleaned":  # the menu and the CRLF no longer fail the line rule
        assert texts["d0"] == (
            "The river flooded the valley after three days of rain.\n"
            "Farmers moved their animals to higher ground.\nWrite to <EMAIL> for details."
        )
        assert "rescored_families" in mw["transforms"] and "fineweb" in mw["transforms"]["rescored_families"]
    else:  # raw signals: the CRLF page fails, the rest is cleaned on the way out
        assert "d0" not in texts
    assert texts["d3"].startswith("Café owners")  # NFC
    assert "d2" not in texts
    assert all("\r" not in t and "@" not in t for t in texts.values())


def test_score_cleaned_changes_the_selection_and_stays_out_of_the_workspace(scored_ws, tmp_path):
    ws, _ = scored_ws
    raw = apply(ws, RECIPE.replace("SCORE", "raw"), tmp_path / "a", fmt="jsonl")
    cleaned = apply(ws, RECIPE.replace("SCORE", "cleaned"), tmp_path / "b", fmt="jsonl")
    assert cleaned["counts"]["kept_docs"] == raw["counts"]["kept_docs"] + 1
    # the stored signals are untouched and nothing temporary is left on the workspace
    again = apply(ws, RECIPE.replace("SCORE", "raw"), tmp_path / "c", fmt="jsonl")
    assert again["counts"] == raw["counts"]
    names = {
        r[0]
        for r in ws.con.execute(
            "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views()"
        ).fetchall()
    }
    assert not any(n.startswith("_winnow_tx") for n in names)


def test_transforms_need_the_text_column(scored_ws, tmp_path):
    ws, _ = scored_ws
    with pytest.raises(ExportError, match="leave out 'text'"):
        apply(ws, RECIPE.replace("SCORE", "raw") + "output: {columns: [id]}\n", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_workspace_manifest_counts(scored_ws, tmp_path):
    ws, _ = scored_ws
    m = apply(ws, "version: 1\ntransforms: [pii_redact]\n", tmp_path / "o", fmt="jsonl")
    tx = m["transforms"]
    assert tx["docs"] == 5 and tx["docs_changed"] == 2
    assert tx["steps"][0]["docs_changed"] == 2
    assert tx["chars_removed"] == tx["chars_before"] - tx["chars_after"]
    ex = {e["before"]: e["after"] for e in tx["examples"]}
    assert len(ex) == 2 and ex[DOCS[0]] == DOCS[0].replace("desk@example.org", "<EMAIL>")
    assert ex[DOCS[1]] == DOCS[1].replace("+1 555 123 4567", "<PHONE>")


def test_engine_workers_clean_and_score_the_same_bytes(tmp_path):
    from app.engine import make_engine

    src = write_input(tmp_path / "raw")
    recipe = RECIPE.replace("SCORE", "cleaned") + "dedup: {near: true}\n"
    mh = apply_headless(recipe, [src], tmp_path / "one", fmt="jsonl", source="raw")
    with make_engine("local", workers=2) as eng:
        me = apply_headless(recipe, [src], tmp_path / "pool", fmt="jsonl", source="raw", engine=eng)
    one = (tmp_path / "one" / "data-00000-of-00001.jsonl").read_bytes()
    assert one == (tmp_path / "pool" / "data-00000-of-00001.jsonl").read_bytes()
    assert mh["transforms"] == me["transforms"] and mh["transforms"]["docs"] >= 3
    assert b"<EMAIL>" in one and b"\\r" not in one


def test_annotation_token_is_added_after_cleaning(scored_ws, tmp_path):
    ws, src = scored_ws
    recipe = (
        "version: 1\nrules:\n  - {signal: size_chars, min: 50, label: long}\n"
        "annotate: {rules: [long], token: '<|short|>'}\ntransforms: [c4_lines]\n"
    )
    apply(ws, recipe, tmp_path / "ws_out", fmt="jsonl")
    apply_headless(recipe, [src], tmp_path / "hl_out", fmt="jsonl", source="raw")
    a, b = rows(tmp_path / "ws_out"), rows(tmp_path / "hl_out")
    assert a == b
    tagged = [r["text"] for r in a if r["text"].startswith("<|short|>")]
    assert tagged  # the menu page: tagged, its lines removed by c4_lines, the token kept


@pytest.mark.slow
def test_ray_workers_clean_and_score_the_same_bytes(scored_ws, tmp_path):
    pytest.importorskip("ray")
    from app.engine import make_engine

    ws, src = scored_ws
    name = "data-00000-of-00001.jsonl"
    eng = make_engine("ray", workers=2)
    try:
        for seg in ("aware", "datatrove"):  # the section's segmentation reaches the Ray workers too
            recipe = RECIPE.replace("SCORE", "cleaned") + (f"  segmentation: {seg}\n" if seg != "aware" else "")
            apply_headless(recipe, [src], tmp_path / f"one_{seg}", fmt="jsonl", source="raw")
            apply_headless(recipe, [src], tmp_path / f"ray_{seg}", fmt="jsonl", source="raw", engine=eng)
            apply(ws, recipe, tmp_path / f"ws_{seg}", fmt="jsonl", engine=eng)
            one = (tmp_path / f"one_{seg}" / name).read_bytes()
            assert one == (tmp_path / f"ray_{seg}" / name).read_bytes() == (tmp_path / f"ws_{seg}" / name).read_bytes()
    finally:
        eng.close()


@pytest.mark.parametrize("seg", ["aware", "datatrove"])
def test_workspace_rescoring_on_engine_workers_writes_the_same_bytes(scored_ws, tmp_path, monkeypatch, seg):
    from app.engine import make_engine
    from app.transforms import export as txe

    ws, _ = scored_ws
    monkeypatch.setattr(txe, "BATCH", 2)  # several batches in flight, written back in order
    recipe = RECIPE.replace("SCORE", "cleaned") + (f"  segmentation: {seg}\n" if seg != "aware" else "")
    one = apply(ws, recipe, tmp_path / "one", fmt="jsonl")
    with make_engine("local", workers=2) as eng:
        fns = []
        run = eng.map_batches
        monkeypatch.setattr(eng, "map_batches", lambda fn, *a, **k: (fns.append(fn), run(fn, *a, **k))[1])
        pool = apply(ws, recipe, tmp_path / "pool", fmt="jsonl", engine=eng)
    assert fns == [txe.rescore_batch]  # the cleaned text was scored on the workers
    name = "data-00000-of-00001.jsonl"
    assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()
    assert one["transforms"] == pool["transforms"] and one["counts"] == pool["counts"]
    assert one["transforms"]["segmentation"] == seg and one["counts"]["kept_docs"] >= 2


def test_cli_workers_rescore_a_workspace_export(scored_ws, tmp_path, capsys):
    from app.cli import main

    ws, _ = scored_ws
    path = str(ws.path)
    ws.close()
    rec = tmp_path / "r.yaml"
    rec.write_text(RECIPE.replace("SCORE", "cleaned"))
    base = ["apply", "-w", path, "-r", str(rec)]
    assert main([*base, "-o", str(tmp_path / "one"), "--format", "jsonl"]) == 0
    assert main([*base, "-o", str(tmp_path / "pool"), "--format", "jsonl", "--workers", "2"]) == 0
    name = "data-00000-of-00001.jsonl"
    assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes()
    capsys.readouterr()
    rec.write_text("version: 1\nrules: [{signal: size_chars, min: 1}]\n")  # nothing to re-score
    assert main([*base, "-o", str(tmp_path / "no"), "--workers", "2"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "transforms.score: cleaned" in err and not (tmp_path / "no").exists()
