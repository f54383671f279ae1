"""``winnow search``: semantic search over the embedded documents, or a document's nearest neighbours."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit, say

NAME = "search"
HELP = "semantic search: the documents nearest a query text (or --like ID: a document's neighbours)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", nargs="?", help="query text (embedded with the workspace's embedding model)")
    add_workspace(p)
    add_json(p)
    p.add_argument("--k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--like", metavar="ID", help="instead of a query: the nearest neighbours of document ID")
    p.add_argument("--width", type=int, default=100, help="characters of text shown per result (default 100)")


def _preview(text: str | None, width: int) -> str:
    """One line of a document for the terminal: whitespace collapsed, control characters (escape sequences
    that could move the cursor or recolour the terminal) shown escaped, cut to ``width`` characters."""
    from app.commands.ingest import safe_text

    t = safe_text(" ".join((text or "").split()))
    return t if len(t) <= width else t[: max(1, width - 1)] + "…"


def run(args: argparse.Namespace) -> int:
    from app.errors import MapError
    from app.search.semantic import neighbours, search
    from app.workspace import Workspace

    if args.k < 1:
        raise MapError("--k must be at least 1")
    if not args.like and not (args.query or "").strip():
        raise MapError("give a query text, or --like ID")
    with Workspace.open(args.workspace, read_only=True) as ws:
        hits = neighbours(ws, args.like, k=args.k) if args.like else search(ws, args.query, k=args.k)
    if not hits:
        say(args, "no results")
    for rank, h in enumerate(hits, 1):
        say(
            args,
            f"{rank:>3}  {h['score']:.3f}  {h['id']:<24} {h['source'] or '':<12} {_preview(h['text'], args.width)}",
        )
    emit(
        args,
        {
            "query": args.query,
            "like": args.like,
            "k": args.k,
            "results": [{k: v for k, v in h.items() if k != "text"} for h in hits],
        },
    )
    return 0
