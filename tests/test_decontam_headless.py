"""Headless decontamination: ``winnow apply --input ... --benchmark NAME=FILE`` computes the ``decon_*``
signals per batch from benchmark files and keeps exactly what the workspace path (ingest, decontam add,
apply) keeps, in one pass, with the benchmarks cited in the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.decontam import DecontamError
from app.decontam.headless import parse_specs
from app.errors import RecipeError
from app.export import apply
from app.export.headless import apply_headless
from tests.test_decontam import CONTAMINATED, DECOYS, FILLER, ITEMS, _write_jsonl

pytest.importorskip("xxhash")

RECIPE = "version: 1\nrules:\n  - {signal: decon_max_overlap, max: 0.5, label: decontamination}\n"


def _out_ids(out) -> list[str]:
    return sorted(json.loads(line)["id"] for f in sorted(out.glob("*.jsonl")) for line in f.open())


def _corpus(tmp_path) -> str:
    docs = {**CONTAMINATED, **DECOYS, "e_empty": "", "f_long": FILLER * 40}
    return _write_jsonl(tmp_path / "in.jsonl", [{"id": k, "text": v} for k, v in docs.items()])


def test_headless_keeps_what_the_workspace_keeps(tmp_path):
    from app.decontam.run import run as decon_run
    from app.decontam.store import add_benchmark
    from app.ingest import ingest
    from app.workspace import Workspace

    src = _corpus(tmp_path)
    quiz = _write_jsonl(tmp_path / "quiz.jsonl", ITEMS)
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, [src], source="in", id_field="id")
        added = add_benchmark(w, "quiz", [quiz])
        decon_run(w)
        ws_vals = dict(w.con.execute("SELECT id, decon_max_overlap FROM corpus").fetchall())
        apply(w, RECIPE, tmp_path / "ws_out", fmt="jsonl")
    m = apply_headless(
        RECIPE, [src], tmp_path / "hl_out", fmt="jsonl", source="in", id_field="id", tokens="estimate",
        benchmarks={"quiz": [quiz]},
    )  # fmt: skip
    ws_ids, hl_ids = _out_ids(tmp_path / "ws_out"), _out_ids(tmp_path / "hl_out")
    assert hl_ids == ws_ids == sorted({*DECOYS, "f_long"})  # the empty text is skipped by both
    assert m["source"]["passes"] == 1 and "decontam" in m["source"]["signal_families"]
    (b,) = m["source"]["benchmarks"]
    sha = hashlib.sha256(Path(quiz).read_bytes()).hexdigest()
    assert b["name"] == "quiz" and b["items"] == 4 and b["hash"] == added["hash"]
    assert [f["sha256"] for f in b["files"]] == [sha]
    assert b["documents"] == len(CONTAMINATED) and b["kept_documents"] == 0
    # the values themselves equal the workspace's (output_columns carries them out of the scratch table)
    cols = RECIPE.replace("rules:", "output: {columns: [id, decon_max_overlap]}\nrules:").replace(
        "max: 0.5", "max: 1.0"
    )
    apply_headless(cols, [src], tmp_path / "vals", fmt="jsonl", id_field="id", tokens="estimate",
                   benchmarks={"quiz": [quiz]})  # fmt: skip
    got = {
        r["id"]: r["decon_max_overlap"] for f in (tmp_path / "vals").glob("*.jsonl") for r in map(json.loads, f.open())
    }
    assert got == ws_vals


def test_headless_without_benchmark_fails_clearly(tmp_path):
    src = _corpus(tmp_path)
    with pytest.raises(RecipeError, match="--benchmark NAME=FILE"):
        apply_headless(RECIPE, [src], tmp_path / "o", id_field="id", tokens="estimate")
    assert not (tmp_path / "o").exists()
    with pytest.raises(DecontamError, match="NAME=FILE"):
        parse_specs(["quiz"])
    assert parse_specs(["a=x.jsonl", "a=y.jsonl", "b=z.csv"]) == {"a": ["x.jsonl", "y.jsonl"], "b": ["z.csv"]}
    with pytest.raises(DecontamError):
        apply_headless(RECIPE, [src], tmp_path / "o", benchmarks={"quiz": [str(tmp_path / "missing.jsonl")]})


def test_cli_benchmark_option(tmp_path, capsys):
    from app.cli import main

    src = _corpus(tmp_path)
    quiz = _write_jsonl(tmp_path / "quiz.jsonl", ITEMS)
    rec = tmp_path / "r.yaml"
    rec.write_text(RECIPE, encoding="utf-8")
    args = ["apply", "--recipe", str(rec), "--input", src, "--id-field", "id", "--tokens", "estimate"]
    assert main([*args, "--out", str(tmp_path / "o"), "--benchmark", f"quiz={quiz}", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["kept"] == len(DECOYS) + 1 and out["total"] == len(DECOYS) + len(CONTAMINATED) + 1
    manifest = json.loads((tmp_path / "o" / "__winnow__" / "manifest.json").read_text())
    assert manifest["source"]["benchmarks"][0]["documents"] == len(CONTAMINATED)
    assert main([*args, "--out", str(tmp_path / "o2"), "--benchmark", "quiz"]) == 1
    assert "NAME=FILE" in capsys.readouterr().err
