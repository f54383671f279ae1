"""Near matches (``--near``): a light rewrite of a benchmark item is found with it and not without; decoys
that share the topic or short phrases are not; the setting persists and ``--no-near`` turns it off."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from app.decontam import DecontamError
from app.decontam.index import BenchIndex
from app.decontam.near import check_near
from app.workspace import Workspace

ITEM = {
    "id": "p1",
    "instruction": "Explain photosynthesis in two sentences.",
    "output": "Photosynthesis is the process by which green plants and some other organisms use sunlight to "
    "synthesize foods from carbon dioxide and water. Photosynthesis in plants generally involves the green "
    "pigment chlorophyll and generates oxygen as a byproduct, which is released into the atmosphere.",
}
OTHER = {
    "id": "p2",
    "instruction": "Describe the water cycle.",
    "output": "Water evaporates from oceans and lakes, condenses into clouds as it cools, falls back as rain "
    "or snow, and flows through rivers and the ground back to the sea, where the cycle begins again.",
}
# a few words changed and the second sentence's opening clause moved
REWRITE = (
    "Photosynthesis is the process by which green plants and some other organisms use sunlight to make foods "
    "from carbon dioxide and water. In plants, photosynthesis usually involves the green pigment chlorophyll "
    "and generates oxygen as a by-product, which is released into the air."
)  # exact Jaccard of the normalised 5-gram shingle sets: 0.34; 8-gram overlap 0.31 (below the 0.5 hit)
DECOYS = {
    "d_topic": "Photosynthesis is studied in school. The process by which green plants grow is fascinating, and "
    "many students enjoy experiments with carbon dioxide and water in the laboratory every week of the term.",
    "d_template": "Explain photosynthesis in two sentences. Then explain the water cycle in two more, please.",
    "d_other": "The council approved the budget for the new library after a long debate about maintenance costs, "
    "and the mayor thanked volunteers who organised the public consultation in the spring.",
}


def _ws(tmp_path):
    wsp = tmp_path / "ws"
    docs = {"rewrite": REWRITE, **DECOYS}
    with Workspace.open(wsp, create=True) as w:
        w.write_source("web", pd.DataFrame({"id": list(docs), "text": list(docs.values())}))
    f = tmp_path / "bench.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in (ITEM, OTHER)), encoding="utf-8")
    return wsp, str(f)


def _rows(wsp):
    with Workspace.open(wsp, read_only=True) as w:
        q = "SELECT id, decon_hits, decon_benchmarks, decon_near_jaccard FROM corpus ORDER BY id"
        return {r[0]: r[1:] for r in w.con.execute(q).fetchall()}


def test_light_rewrite_found_with_near_only(tmp_path, capsys):
    from app.cli import main

    wsp, f = _ws(tmp_path)
    assert main(["decontam", "add", "evals", f, "--workspace", str(wsp)]) == 0
    rows = _rows(wsp)
    assert rows["rewrite"][0] == 0 and rows["rewrite"][2] is None  # the n-gram overlap misses it; near is off
    assert main(["decontam", "run", "--near", "--workspace", str(wsp), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = _rows(wsp)
    assert rows["rewrite"][:2] == (1, "evals") and rows["rewrite"][2] >= 0.3
    for d in DECOYS:
        assert rows[d][0] == 0 and rows[d][1] == "" and rows[d][2] < 0.3, (d, rows[d])
    assert out["near"] == 0.3 and out["contaminated"] == 1
    with Workspace.open(wsp, read_only=True) as w:
        m = w.con.execute("SELECT id, item_id, near_jaccard FROM _decon_matches").fetchall()
    assert [(a, b) for a, b, _ in m] == [("rewrite", "p1")] and m[0][2] >= 0.3
    # the setting is kept for later runs, and --no-near turns it off
    assert main(["decontam", "run", "--workspace", str(wsp)]) == 0
    assert _rows(wsp)["rewrite"][0] == 1
    assert main(["decontam", "run", "--no-near", "--workspace", str(wsp)]) == 0
    assert _rows(wsp)["rewrite"][0] == 0


def test_near_threshold_is_checked(tmp_path, capsys):
    from app.cli import main

    wsp, f = _ws(tmp_path)
    assert main(["decontam", "add", "evals", f, "--near-threshold", "1.5", "--workspace", str(wsp)]) == 1
    err = capsys.readouterr().err
    assert "near-threshold" in err and "Traceback" not in err
    with pytest.raises(DecontamError):
        check_near("x")


def test_a_strict_threshold_rejects_the_rewrite_and_verbatim_still_counts_once():
    units = [(0, ITEM["output"]), (1, OTHER["output"])]
    strict = BenchIndex.build(units, item_bench=[0, 0], bench_names=["b"], near=0.9)
    m = strict.match([REWRITE, ITEM["output"]])
    assert m.hits.tolist() == [0, 1]  # verbatim: the overlap hit and the near hit are one item
    assert m.near == {(1, 0): 1.0} and m.near_jaccard[1] == 1.0


def test_headless_near_removes_the_rewrite_and_needs_the_option(tmp_path):
    from app.errors import RecipeError
    from app.export.headless import apply_headless

    docs = {"rewrite": REWRITE, **DECOYS}
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in docs.items()), encoding="utf-8")
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in (ITEM, OTHER)), encoding="utf-8")
    recipe = "version: 1\nrules:\n  - {signal: decon_hits, max: 0, label: decontamination}\n"
    kw = {"fmt": "jsonl", "source": "in", "id_field": "id", "tokens": "estimate", "benchmarks": {"evals": [str(bench)]}}
    apply_headless(recipe, [str(src)], tmp_path / "plain", **kw)
    m = apply_headless(recipe, [str(src)], tmp_path / "near", benchmark_near=0.3, **kw)

    def ids(d):
        return sorted(json.loads(x)["id"] for f in sorted(d.glob("*.jsonl")) for x in f.open())

    assert ids(tmp_path / "plain") == sorted(docs)
    assert ids(tmp_path / "near") == sorted(DECOYS)
    (e,) = m["source"]["benchmarks"]
    assert e["near"] == 0.3 and e["documents"] == 1 and e["kept_documents"] == 0
    near_rule = "version: 1\nrules:\n  - {signal: decon_near_jaccard, max: 0.3, label: near}\n"
    with pytest.raises(RecipeError, match="benchmark-near"):
        apply_headless(near_rule, [str(src)], tmp_path / "x", **kw)
