"""``winnow map``: 2-D map, named clusters, neighbours and embedding signals of an embedded workspace."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit, say

NAME = "map"
HELP = "build the 2-D map (UMAP), named clusters, k-NN, SemDeDup and density from the embeddings"
DESCRIPTION = (
    "Project the active embeddings to 2-D with UMAP (cosine, PCA to 50 dims first; fitted on a seeded sample "
    "for large corpora, the rest placed by nearest sample points), cluster with k-means, name clusters by "
    "c-TF-IDF terms, store the 10 nearest neighbours of every document, and flag semantic duplicates "
    "(SemDeDup) and isolated documents (density). Adds map_x, map_y, map_cluster, map_cluster_label, "
    "map_cluster_size, density_knn_dist, semdup_dup_of, semdup_is_dup to the corpus view."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    add_json(p)
    p.add_argument("--sample", type=int, metavar="N", help="fit UMAP on N points (default: all up to 50,000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same map; default 0)")
    p.add_argument(
        "--clusters",
        type=int,
        metavar="K",
        help="number of clusters (default: about sqrt(n/20), 2..100; instruction data: about n/150)",
    )
    p.add_argument("--eps", type=float, default=0.05, help="SemDeDup: duplicates have cosine > 1-eps (default 0.05)")
    p.add_argument("--k", type=int, default=10, help="neighbours stored per document (default 10)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes for the streamed map above 100,000 documents (default: the usable cores, at most 4;"
        " the same map for any N)",
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="say whether the workspace has a map and whether its neighbours are still being computed, and exit",
    )


def run(args: argparse.Namespace) -> int:
    from app.errors import MapError
    from app.maps import build_map
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    if args.status:
        return _status(args)
    if (args.sample is not None and args.sample < 2) or args.k < 1 or (args.clusters is not None and args.clusters < 1):
        raise MapError("--sample must be >= 2, --k and --clusters >= 1")
    if args.workers is not None and args.workers < 1:
        raise MapError("--workers must be >= 1")
    with Workspace.open(args.workspace) as ws, tqdm_progress("map") as progress:  # a pending second step: finished
        out = build_map(
            ws,
            sample=args.sample,
            seed=args.seed,
            k=args.k,
            clusters=args.clusters,
            eps=args.eps,
            workers=args.workers,
            progress=progress,
        )
    say(
        args,
        f"map of {out['documents']:,} documents ({out['model']}), UMAP fitted on {out['fitted']:,},"
        f" {out['clusters']} clusters ({out['cluster_rule']}), {out['semantic_duplicates']:,} semantic duplicates (eps {out['eps']}),"
        f" neighbours {out['neighbours']}, {sum(out['seconds'].values()):.1f} s"
        + (" (finished a map whose neighbours were pending)" if out.get("resumed") else "")
        + (f"; the map was usable after {out['usable_after_s']:.1f} s" if "usable_after_s" in out else ""),
    )
    for c in out["cluster_labels"][:30]:
        say(args, f"  {c['cluster']:>3}  {c['size']:>8,}  {c['label']}")
    emit(args, out)
    return 0


def _status(args: argparse.Namespace) -> int:
    """``winnow map --status``: none, complete, or written with its neighbours still being computed."""
    from app.maps.common import PENDING, PENDING_NOTE, map_spec
    from app.workspace import Workspace

    with Workspace.open(args.workspace, read_only=True) as ws:
        spec = map_spec(ws)
    state = "none" if spec is None else "pending" if spec.get(PENDING) else "complete"
    if state == "none":
        say(args, "no map yet: run `winnow map`")
    else:
        say(
            args,
            f"map of {spec.get('documents', 0):,} documents, {spec.get('clusters', 0)} clusters: "
            + (PENDING_NOTE if state == "pending" else "complete (neighbours, density and SemDeDup written)"),
        )
    emit(args, {"state": state, "spec": {k: v for k, v in (spec or {}).items() if k != PENDING}})
    return 0
