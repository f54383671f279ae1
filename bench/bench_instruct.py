"""Instruction data on realmix (issue 20): near dedup over text fields, and the map's cluster count.

Builds a workspace from realmix's 5,000 Alpaca records plus chat copies of the first 300 (system prompt, user =
instruction + input, assistant = output), then measures:

1. how many chat copies near dedup (``dedup_near``, default threshold) puts in a cluster with another record when
   it sees the rendered text, ``instruction,output`` and ``instruction,input,output`` (:mod:`app.fields`);
2. with ``--map``: embeds ``instruction,input,output`` (``--model``, ``--fast``), then for k in a grid and three
   seeds the k-means silhouette (PCA-50 space, 4,000-point sample), and builds the map with the default count
   (:func:`app.maps.project.choose_k`): its clusters, their task names, the smallest cluster, what a
   60-per-cluster balance cap can deliver, and over how many clusters the chat copies spread.

``--workspace DIR`` keeps (and reuses) the workspace, so the slow embedding is paid once.
``--write-readme`` replaces the README's ``bench:instruct`` section.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REALMIX = ROOT.parent / "shared" / "corpora" / "realmix"
FIELDS = ("text", "instruction,output", "prompt,output", "instruction,input,output")
GRID = (8, 16, 24, 32, 48)
CAP = 60


def build(path: Path) -> object:
    from app.fields import parse, put
    from app.ingest import ingest
    from app.workspace import Workspace

    if (path / "winnow.duckdb").exists():
        return Workspace.open(path)
    items = json.loads((REALMIX / "raw" / "alpaca_5000.json").read_text())
    path.mkdir(parents=True, exist_ok=True)
    chat = path / "chat.jsonl"
    with chat.open("w") as f:
        for r in items[:300]:
            user = r["instruction"] + (f"\n\n{r['input']}" if r["input"].strip() else "")
            turns = [("system", "You are a helpful assistant."), ("user", user), ("assistant", r["output"])]
            f.write(json.dumps({"messages": [{"role": a, "content": b} for a, b in turns]}) + "\n")
    ws = Workspace.open(path, create=True)
    ingest(ws, [str(REALMIX / "raw" / "alpaca_5000.json")], source="alpaca")
    ingest(ws, [str(chat)], source="chat")
    put(ws.con, parse("instruction,input,output"))
    return ws


def dedup_rows(ws) -> list[list[object]]:
    from app.signals import engine

    rows = []
    for f in FIELDS:
        t = time.perf_counter()
        engine.score(ws, signals=["dedup_near"], fields=f)
        s = time.perf_counter() - t
        found = (
            ws.cursor()
            .execute("SELECT count(*) FILTER (WHERE source = 'chat' AND dup_near_size > 1) FROM corpus")
            .fetchone()[0]
        )
        rows.append([f, f"{found} / 300", f"{s:.1f}"])
    return rows


def map_rows(ws, args) -> tuple[list[list[object]], dict]:
    import numpy as np
    from sklearn.metrics import silhouette_score

    from app.embed import embed, load_vectors
    from app.maps import build_map, project

    t = time.perf_counter()
    emb = embed(ws, model=args.model, fast=args.fast)
    t_embed = time.perf_counter() - t
    _ids, vecs, key = load_vectors(ws)
    red = project.pca_reduce(vecs, seed=0)
    grid = []
    for k in GRID:
        sil = [
            silhouette_score(red, project.kmeans(red, k=k, seed=s), sample_size=4000, random_state=s) for s in (0, 1, 2)
        ]
        sizes = np.bincount(project.kmeans(red, k=k, seed=0))
        grid.append([k, f"{np.mean(sil):.4f} ± {np.std(sil):.4f}", int(sizes.min()), int(np.minimum(sizes, CAP).sum())])
    t = time.perf_counter()
    out = build_map(ws, seed=0)
    spread = ws.cursor().execute("SELECT count(DISTINCT map_cluster) FROM corpus WHERE source = 'chat'").fetchone()[0]
    sizes = [c["size"] for c in out["cluster_labels"]]
    info = {
        "model": key,
        "embedded": emb["embedded"],
        "embed_s": round(t_embed, 1),
        "map_s": round(time.perf_counter() - t, 1),
        "clusters": out["clusters"],
        "rule": out["cluster_rule"],
        "smallest": min(sizes),
        "deliverable": sum(min(s, CAP) for s in sizes),
        "chat_clusters": spread,
        "labels": [c["label"] for c in out["cluster_labels"][:8]],
    }
    return grid, info


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", type=Path, help="keep (and reuse) the workspace here")
    p.add_argument("--map", action="store_true", help="also embed, measure silhouettes and build the map (slow)")
    p.add_argument("--model", help="embedding model (default: the packaged MiniLM)")
    p.add_argument("--fast", action="store_true", help="the static distilled embedder")
    p.add_argument("--write-readme", action="store_true")
    args = p.parse_args()
    if not (REALMIX / "raw" / "alpaca_5000.json").exists():
        print(f"realmix is absent ({REALMIX}); nothing to measure")
        return 1
    from bench._readme import machine, md_table, write_section

    tmp = None if args.workspace else tempfile.TemporaryDirectory()
    ws = build(args.workspace or Path(tmp.name) / "ws")
    body = [
        "Near dedup (`dedup_near`, Jaccard 0.6) of realmix's 5,000 Alpaca records + chat copies of the first 300, "
        f"by the text fields it sees (`winnow fields set` / `--fields`; {machine()}):",
        "",
        md_table(["fields", "chat copies found", "seconds"], dedup_rows(ws)),
    ]
    if args.map:
        grid, info = map_rows(ws, args)
        body += [
            "",
            f"k-means over `{info['model']}` vectors of instruction,input,output (silhouette: mean ± sd of 3 seeds; "
            f"a balance cap of {CAP} per cluster can deliver at most the last column):",
            "",
            md_table(["k", "silhouette", "smallest cluster", f"deliverable at cap {CAP}"], grid),
            "",
            f"Default map: {info['clusters']} clusters ({info['rule']}), smallest {info['smallest']}, "
            f"{info['deliverable']:,} deliverable at cap {CAP}; the 300 chat copies fall in {info['chat_clusters']} "
            f"clusters; first names: {'; '.join(info['labels'])}. Embedding {info['embedded']:,} new texts took "
            f"{info['embed_s']} s (the others were cached), the map {info['map_s']} s.",
        ]
    text = "\n".join(body)
    print(text)
    if args.write_readme:
        write_section("instruct", text)
    ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
