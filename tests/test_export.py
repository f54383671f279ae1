"""winnow apply: exact, deterministic exports; atomic output directories; headless == workspace."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import ExportError, RecipeError
from app.export import MANIFEST, apply
from app.export.headless import apply_headless
from app.recipes import compile_recipe, select_ids_sql
from tests.test_recipe_core import MINIMAL, make_ws

FULL = MINIMAL + "dedup: {exact: true}\nbalance: [{column: source, cap: 40, seed: 1}]\nsample: {n: 25, seed: 2}\n"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("exp") / "ws")
    yield w
    w.close()


def read_ids(out: Path) -> list[str]:
    """Ids of every document in an export directory, in file order."""
    import pyarrow.parquet as pq

    ids: list[str] = []
    for f in sorted(out.iterdir()):
        if f.name.endswith(".parquet"):
            ids += pq.read_table(f).column("id").to_pylist()
        elif f.name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst")):
            raw = f.read_bytes()
            if f.name.endswith(".gz"):
                raw = gzip.decompress(raw)
            elif f.name.endswith(".zst"):
                import zstandard

                raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
            ids += [json.loads(line)["id"] for line in raw.decode().splitlines()]
    if (out / "state.json").exists():
        import datasets

        ids = datasets.load_from_disk(str(out))["id"]
    return ids


def sql_ids(ws, recipe) -> list[str]:
    sql, p = select_ids_sql(compile_recipe(ws.con, recipe))
    return [r[0] for r in ws.con.execute(sql, p).fetchall()]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "jsonl.gz", "jsonl.zst", "hf"])
def test_apply_exact_and_deterministic(ws, tmp_path, fmt):
    m1 = apply(ws, FULL, tmp_path / "a", fmt=fmt, shard_size=10)
    m2 = apply(ws, FULL, tmp_path / "b", fmt=fmt, shard_size=10)
    expected = sql_ids(ws, FULL)
    assert len(expected) == 25
    got = read_ids(tmp_path / "a")
    assert got == expected  # ordered by id, exactly the SQL selection
    assert m1["counts"]["kept_docs"] == 25 and m1["counts"]["total_docs"] == 300
    if fmt != "hf":  # datasets writes its own fingerprints
        assert [f["sha256"] for f in m1["files"]] == [f["sha256"] for f in m2["files"]]
        assert (tmp_path / "a" / MANIFEST).read_bytes() == (tmp_path / "b" / MANIFEST).read_bytes()
        assert [f["rows"] for f in m1["files"]] == [10, 10, 5]
    man = json.loads((tmp_path / "a" / MANIFEST).read_text())
    assert set(man) >= {"winnow_version", "recipe", "resolved", "counts", "rules", "files", "source"}
    assert man["source"]["fingerprint"] == ws.fingerprint()
    assert man["resolved"]["rules"][1]["min"] is not None  # the quantile, resolved to a value
    assert {r["label"] for r in man["rules"]} >= {"size_words >= 5"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temp dirs left beside


def test_refuses_non_empty_and_overwrites(ws, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        apply(ws, MINIMAL, out)
    # --overwrite never deletes what an export did not write
    with pytest.raises(ExportError, match="not a previous Winnow export"):
        apply(ws, MINIMAL, out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"
    (out / "keep.txt").unlink()
    apply(ws, MINIMAL, out)
    first = json.loads((out / MANIFEST).read_text())
    apply(ws, MINIMAL + "sample: {n: 5, seed: 1}\n", out, overwrite=True)  # a previous export is replaced
    assert json.loads((out / MANIFEST).read_text())["counts"]["kept_docs"] == 5 != first["counts"]["kept_docs"]
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # ordinary permissions, not mkdtemp's
    with pytest.raises(ExportError, match="unknown format"):
        apply(ws, MINIMAL, tmp_path / "x", fmt="csv")


def test_overwrite_refuses_workspace_ancestors_and_foreign_files(tmp_path, monkeypatch):
    """The probe's reproduction: --out above the workspace with --overwrite must delete nothing."""
    proj = tmp_path / "proj"
    w = make_ws(proj / "ws")
    try:
        (proj / "notes.txt").write_text("important")
        for target, why in ((proj, "contains"), (proj / "ws", "is")):
            with pytest.raises(ExportError, match=f"refusing to overwrite .*: it {why} "):
                apply(w, MINIMAL, target, overwrite=True)
        assert (proj / "notes.txt").read_text() == "important"
        assert (proj / "ws" / "winnow.duckdb").exists()
        # a previous export with a file added by hand is not replaced either
        out = tmp_path / "exp"
        apply(w, MINIMAL, out)
        (out / "README.md").write_text("my notes")
        with pytest.raises(ExportError, match=r"README\.md"):
            apply(w, MINIMAL, out, overwrite=True)
        # a forged manifest that does not list a file protects that file too
        other = tmp_path / "other"
        other.mkdir()
        (other / "manifest.json").write_text('{"winnow_version": "0", "files": []}')
        (other / "data.csv").write_text("x")
        with pytest.raises(ExportError, match=r"data\.csv"):
            apply(w, MINIMAL, other, overwrite=True)
        # the current directory (and so its ancestors) is never replaced
        cwd = tmp_path / "cwd"
        cwd.mkdir()
        (cwd / "f").write_text("x")
        monkeypatch.chdir(cwd)
        with pytest.raises(ExportError, match="refusing"):
            apply(w, MINIMAL, tmp_path, overwrite=True)
    finally:
        w.close()
    assert (proj / "notes.txt").read_text() == "important"


def test_headless_overwrite_refuses_the_inputs(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.jsonl").write_text('{"id": "1", "text": "hello world"}\n')
    with pytest.raises(ExportError, match="refusing to overwrite"):
        apply_headless("version: 1\n", [str(src / "*.jsonl")], src, overwrite=True)
    assert (src / "a.jsonl").exists()


def test_stale_temporary_directory_of_a_killed_export_is_removed(ws, tmp_path):
    stale = tmp_path / ".out.tmp-999999999-abc"  # no such process
    stale.mkdir()
    (stale / "data.parquet").write_text("half")
    apply(ws, MINIMAL, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_failed_export_leaves_nothing(ws, tmp_path):
    with pytest.raises(RecipeError):
        apply(ws, "version: 1\nrules:\n  - {signal: nope, min: 1}\n", tmp_path / "o")
    assert list(tmp_path.iterdir()) == []


def test_output_columns(ws, tmp_path):
    r = MINIMAL + "output: {columns: [text, quality_score]}\n"
    apply(ws, r, tmp_path / "o")
    import pyarrow.parquet as pq

    t = pq.read_table(next((tmp_path / "o").glob("*.parquet")))
    assert t.column_names == ["id", "text", "quality_score"]


def test_push_to_hub_mocked(ws, tmp_path, monkeypatch):
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", lambda self, **kw: calls.append(kw))
    m = apply(ws, MINIMAL, tmp_path / "o", fmt="jsonl", push_to_hub_repo="me/cut")
    assert calls and calls[0]["repo_id"] == "me/cut" and calls[0]["repo_type"] == "dataset"
    assert m["pushed_to"].endswith("me/cut")

    import datasets

    pushed = []
    monkeypatch.setattr(datasets.Dataset, "push_to_hub", lambda self, repo, **kw: pushed.append((repo, len(self))))
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_file", lambda self, **kw: pushed.append(kw["path_in_repo"]))
    apply(ws, MINIMAL, tmp_path / "h", fmt="hf", push_to_hub_repo="me/cut")
    assert pushed[0] == ("me/cut", m["counts"]["kept_docs"]) and pushed[1] == MANIFEST


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lo=st.integers(0, 40),
    q=st.floats(0, 1),
    langs=st.lists(st.sampled_from(["en", "de", "fr"]), unique=True),
    n=st.none() | st.integers(0, 80),
)
def test_exported_ids_equal_sql_selection(ws, tmp_path_factory, lo, q, langs, n):
    rules = (
        f"version: 1\nrules:\n  - {{signal: size_words, min: {lo}}}\n  - {{signal: quality_score, max_quantile: {q}}}\n"
    )
    if langs:
        rules += f"  - {{signal: lang_code, not_in: [{', '.join(langs)}]}}\n"
    if n is not None:
        rules += f"sample: {{n: {n}}}\n"
    out = tmp_path_factory.mktemp("p") / "o"
    apply(ws, rules, out, fmt="jsonl")
    where = "size_words >= $lo AND quality_score <= (SELECT quantile_cont(quality_score, $q) FROM corpus)"
    if langs:
        where += " AND lang_code NOT IN (SELECT unnest($langs))"
    direct = {
        r[0]
        for r in ws.con.execute(
            f"SELECT id FROM corpus WHERE {where}", {"lo": lo, "q": q, **({"langs": langs} if langs else {})}
        ).fetchall()
    }
    got = read_ids(out)
    if n is None:
        assert set(got) == direct
    else:
        assert set(got) <= direct and len(got) == min(n, len(direct))
    assert got == sorted(got)


# ---------------------------------------------------------------------- headless
def write_shards(d: Path, n: int = 240) -> list[str]:
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(3):
        p = d / f"shard-{s}.jsonl.gz"
        with gzip.open(p, "wt", encoding="utf-8") as f:
            for i in range(s, n, 3):
                text = f"Doc {i % 90}.  Some words here {'and more ' * (i % 7)}"
                f.write(json.dumps({"text": text, "score": (i * 13) % 29, "tag": "xyz"[i % 3]}) + "\n")
        paths.append(p)
    return [str(d / "shard-*.jsonl.gz")]


HEADLESS = """version: 1
rules:
  - {signal: score, min_quantile: 0.15}
  - {signal: tag, not_in: [z]}
  - {expr: "score < 27 or tag = 'x'"}
dedup: {exact: true}
balance: [{column: tag, cap: 30, seed: 4}]
sample: {fraction: 0.8, seed: 9}
"""


def test_headless_equals_workspace(tmp_path):
    from app.ingest import ingest
    from app.workspace import Workspace

    srcs = write_shards(tmp_path / "raw")
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, srcs, source="raw")
        apply(w, HEADLESS, tmp_path / "ws_out", fmt="jsonl")
    m = apply_headless(HEADLESS, srcs, tmp_path / "hl_out", fmt="jsonl", source="raw", shard_size=7)
    a = read_ids(tmp_path / "ws_out")
    b = read_ids(tmp_path / "hl_out")
    assert 0 < len(a) < 240
    assert sorted(b) == a
    assert m["counts"]["kept_docs"] == len(a) and m["source"]["headless"] is True
    # same documents and fields too
    rows_a = sorted((tmp_path / "ws_out").glob("*.jsonl"))[0].read_text().splitlines()
    rows_b = sorted(line for f in sorted((tmp_path / "hl_out").glob("*.jsonl")) for line in f.read_text().splitlines())
    assert sorted(rows_a) == rows_b


def test_headless_rejects_corpus_scope(tmp_path):
    srcs = write_shards(tmp_path / "raw", n=9)
    with pytest.raises(RecipeError, match="cannot compute nope"):
        apply_headless("version: 1\nrules:\n  - {signal: nope, min: 1}\n", srcs, tmp_path / "o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_headless_with_real_scorers_equals_workspace(tmp_path):
    engine = pytest.importorskip("app.signals.engine")
    from app.ingest import ingest
    from app.workspace import Workspace

    recipe = "version: 1\nrules:\n  - {signal: size_words, min: 6}\n  - {signal: gopher_mean_word_length, max_quantile: 0.9}\n"
    srcs = write_shards(tmp_path / "raw", n=120)
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, srcs, source="raw")
        engine.score(w, signals=["size", "gopher_quality"])
        apply(w, recipe, tmp_path / "ws_out", fmt="parquet")
    m = apply_headless(recipe, srcs, tmp_path / "hl_out", fmt="parquet", source="raw")
    assert sorted(read_ids(tmp_path / "hl_out")) == read_ids(tmp_path / "ws_out")
    assert set(m["source"]["signal_families"]) == {"size", "gopher_quality"}


def test_cli_apply_last_line_json(tmp_path, capsys):
    from app.cli import main

    w = make_ws(tmp_path / "ws")
    expected = len(sql_ids(w, MINIMAL))
    w.close()
    rp = tmp_path / "r.yaml"
    rp.write_text(MINIMAL)
    args = ["apply", "--workspace", str(tmp_path / "ws"), "--recipe", str(rp), "--out", str(tmp_path / "o")]
    assert main([*args, "--format", "jsonl.gz", "--json"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["kept"] == expected and last["total"] == 300
    assert main(args) == 1
    assert "not empty" in capsys.readouterr().err


def test_format_alias(ws, tmp_path):
    m = apply(ws, MINIMAL, tmp_path / "o", format="jsonl")
    assert m["format"] == "jsonl" and m["files"][0]["path"].endswith(".jsonl")


def test_cli_headless_with_saved_recipe(tmp_path, capsys):
    from app.cli import main
    from app.ingest import ingest
    from app.recipes import save_recipe
    from app.workspace import Workspace

    srcs = write_shards(tmp_path / "raw", n=60)
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, srcs, source="raw")
        save_recipe(w, "cut", HEADLESS)
    assert (
        main(["apply", "-w", str(tmp_path / "ws"), "-r", "cut", "-o", str(tmp_path / "a"), "-f", "jsonl", "--json"])
        == 0
    )
    a = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    args = ["apply", "-w", str(tmp_path / "ws"), "-r", "cut", "-i", srcs[0], "--source", "raw"]
    assert main([*args, "-o", str(tmp_path / "b"), "-f", "jsonl", "--json"]) == 0
    b = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert a["kept"] == b["kept"] > 0 and sorted(read_ids(tmp_path / "b")) == read_ids(tmp_path / "a")


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.gz", "hf"])
def test_empty_selection_writes_valid_empty_output(ws, tmp_path, fmt):
    m = apply(ws, "version: 1\nrules:\n  - {signal: size_words, min: 1000}\n", tmp_path / "o", fmt=fmt)
    assert m["counts"]["kept_docs"] == 0 and m["files"]
    assert read_ids(tmp_path / "o") == []


@pytest.mark.parametrize("shard", [None, 4])
def test_headless_single_pass_for_rules_only(tmp_path, shard):
    from app.ingest import ingest
    from app.workspace import Workspace

    recipe = "version: 1\nrules:\n  - {signal: score, min: 5}\n  - {expr: \"tag != 'z' or score > 20\"}\n"
    srcs = write_shards(tmp_path / "raw", n=90)
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, srcs, source="raw")
        apply(w, recipe, tmp_path / "ws_out", fmt="jsonl")
    m = apply_headless(recipe, srcs, tmp_path / "hl", fmt="jsonl", source="raw", shard_size=shard)
    assert m["source"]["passes"] == 1
    assert sorted(read_ids(tmp_path / "hl")) == read_ids(tmp_path / "ws_out")
    names = sorted(p.name for p in (tmp_path / "hl").iterdir())
    n = len(names) - 1
    assert names == sorted([*(f"data-{i:05d}-of-{n:05d}.jsonl" for i in range(n)), "__winnow__"])
    assert [f["rows"] for f in m["files"]][: n - 1] == [shard] * (n - 1) if shard else n == 1


@pytest.mark.parametrize("extra", ["", "  - {signal: score, min_quantile: 0.3}\n"])
def test_headless_output_columns(tmp_path, extra):
    import pyarrow.parquet as pq

    recipe = f"version: 1\nrules:\n  - {{signal: score, min: 3}}\n{extra}output: {{columns: [text, score]}}\n"
    srcs = write_shards(tmp_path / "raw", n=30)
    m = apply_headless(recipe, srcs, tmp_path / "o", source="raw")
    t = pq.read_table(next((tmp_path / "o").glob("*.parquet")))
    assert t.column_names == ["id", "text", "score"] and m["columns"] == ["id", "text", "score"]
    assert t.num_rows == m["counts"]["kept_docs"] > 0 and min(t.column("score").to_pylist()) >= 3
