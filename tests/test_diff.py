"""Diffing two exports: added/removed documents equal the id-set differences of the files, tokens come from the
workspace (or the files), recipe changes and unchanged files are named; the CLI; unreadable exports."""

from __future__ import annotations

import json
import shutil

import pytest

from app.cli import main
from app.errors import ExportError
from app.export import apply
from app.export.diff import MANIFEST_NAMES, diff_exports, read_manifest
from tests.test_compare import A, B
from tests.test_export import read_ids
from tests.test_recipe_core import make_ws

A_LOOSE = "version: 1\nname: loose\nrules:\n  - {signal: size_words, min: 5}\n"


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("diff")
    ws = make_ws(root / "ws", n=300)
    apply(ws, A, root / "a", fmt="parquet")
    apply(ws, B, root / "b", fmt="jsonl.gz")
    apply(ws, A_LOOSE, root / "loose", fmt="parquet", shard_size=40)
    apply(ws, A_LOOSE, root / "loose2", fmt="parquet", shard_size=40)
    tokens = dict(ws.con.execute("SELECT id, size_tokens FROM corpus").fetchall())
    ws.close()
    return root, tokens


def test_added_and_removed_are_the_id_differences_with_workspace_tokens(exports):
    root, tokens = exports
    res = diff_exports(root / "a", root / "b")
    ia, ib = set(read_ids(root / "a")), set(read_ids(root / "b"))
    assert res["added"]["docs"] == len(ib - ia) > 0
    assert res["removed"]["docs"] == len(ia - ib) > 0
    assert res["unchanged"]["docs"] == len(ia & ib)
    assert res["added"]["tokens"] == sum(tokens[i] for i in ib - ia)
    assert res["removed"]["tokens"] == sum(tokens[i] for i in ia - ib)
    assert res["tokens"] == "size_tokens (workspace)" and res["workspace"]
    assert sum(g["added"] for g in res["by_source"]) == res["added"]["docs"]
    assert res["a"]["kept_docs"] == len(ia) and res["b"]["kept_docs"] == len(ib)
    rules = {r["status"]: r for r in res["recipe"]["rules"]}
    assert rules["changed"]["a_threshold"] == {"min": 5} and rules["changed"]["b_threshold"] == {"min": 10}
    assert rules["only_a"]["a_removed"] > 0 and "lang_code" in rules["only_b"]["b"]
    assert {s["section"] for s in res["recipe"]["sections"]} == {"dedup", "sample"}
    assert not res["inputs_changed"]


def test_same_recipe_twice_has_no_difference_and_every_file_unchanged(exports):
    root, _ = exports
    res = diff_exports(root / "loose", root / "loose2")
    assert res["added"]["docs"] == res["removed"]["docs"] == 0
    assert res["recipe"]["same_recipe"]
    m = read_manifest(root / "loose")[1]
    assert len(res["files_unchanged"]) == len(m["files"]) > 1


def test_without_the_workspace_tokens_are_estimated_from_the_files(exports, tmp_path):
    root, _ = exports
    for n in ("a", "b"):
        shutil.copytree(root / n, tmp_path / n)
        path = next(tmp_path / n / x for x in MANIFEST_NAMES if (tmp_path / n / x).exists())
        m = json.loads(path.read_text())
        m["source"]["workspace"] = str(tmp_path / "gone")
        path.write_text(json.dumps(m))
    res = diff_exports(tmp_path / "a", tmp_path / "b")
    assert res["workspace"] is None and "no workspace" in res["workspace_note"]
    assert res["tokens"] == "estimate: characters / 4" and res["added"]["tokens"] > 0
    ia, ib = set(read_ids(root / "a")), set(read_ids(root / "b"))
    assert res["added"]["docs"] == len(ib - ia)


def test_unreadable_exports_are_one_line_errors(exports, tmp_path):
    root, _ = exports
    with pytest.raises(ExportError, match=r"no __winnow__/manifest\.json or manifest\.json"):
        diff_exports(tmp_path, root / "a")
    shutil.copytree(root / "a", tmp_path / "x")
    for f in (tmp_path / "x").glob("*.parquet"):
        f.unlink()
    with pytest.raises(ExportError, match="listed in the manifest but missing"):
        diff_exports(tmp_path / "x", root / "a")
    (tmp_path / "y" / "__winnow__").mkdir(parents=True)
    (tmp_path / "y" / "__winnow__" / "manifest.json").write_text("{not json")
    with pytest.raises(ExportError, match="cannot read"):
        diff_exports(tmp_path / "y", root / "a")


def test_cli_diff(exports, capsys):
    root, _ = exports
    assert main(["diff", str(root / "a"), str(root / "b"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["added"]["docs"] > 0
    assert main(["diff", str(root / "a"), str(root / "b")]) == 0
    out = capsys.readouterr().out
    assert "added" in out and "changed: size_words >= 5" in out
    assert main(["diff", str(root / "a"), str(root / "nope")]) == 1
    assert "not an export directory" in capsys.readouterr().err


def test_datasets_and_zstd_exports(tmp_path):
    """A ``datasets`` directory (Arrow files) against zstd JSON lines: the same id differences."""
    pytest.importorskip("datasets")
    ws = make_ws(tmp_path / "ws", n=200)
    apply(ws, A, tmp_path / "a", fmt="hf")
    apply(ws, B, tmp_path / "b", fmt="jsonl.zst")
    ws.close()
    res = diff_exports(tmp_path / "a", tmp_path / "b")
    ia, ib = set(read_ids(tmp_path / "a")), set(read_ids(tmp_path / "b"))
    assert (res["added"]["docs"], res["removed"]["docs"], res["unchanged"]["docs"]) == (
        len(ib - ia),
        len(ia - ib),
        len(ia & ib),
    )
