"""``winnow index``: build or refresh the full-text (BM25) index the Documents page searches."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit, say

NAME = "index"
HELP = "build or refresh the full-text search index (tantivy, BM25) of the documents"
DESCRIPTION = (
    "Index the text of every document with tantivy into WS/fts, so the dashboard's Documents page ranks "
    "full-text matches by BM25 in milliseconds instead of scanning every text. Does nothing when the index is "
    "current (same sources, counts and ingest times) unless --force; --status only reports its state."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    add_json(p)
    p.add_argument("--force", action="store_true", help="rebuild even when the index is current")
    p.add_argument("--status", action="store_true", help="only report the index state (missing, current, stale)")


def run(args: argparse.Namespace) -> int:
    from app.progress import tqdm_progress
    from app.search import build_index, index_info, index_state
    from app.workspace import Workspace

    if args.status:
        with Workspace.open(args.workspace, read_only=True) as ws:
            state, info = index_state(ws), index_info(ws) or {}
        say(args, f"full-text index of {args.workspace}: {state}")
        emit(args, {"workspace": str(args.workspace), "state": state, **{k: info[k] for k in _SHOWN if k in info}})
        return 0
    with Workspace.open(args.workspace) as ws:
        state = index_state(ws)
        if state == "current" and not args.force:
            info = index_info(ws) or {}
            say(args, f"the full-text index is current ({info.get('documents', 0):,} documents); --force rebuilds it")
            emit(args, {"workspace": str(ws.path), "state": state, "built": False})
            return 0
        with tqdm_progress("index") as progress:
            out = build_index(ws, progress=progress)
    mb = out["bytes"] / 1e6
    say(
        args,
        f"indexed {out['documents']:,} documents ({out['characters']:,} characters) in {out['seconds']:.1f} s,"
        f" index {mb:,.1f} MB at {out['index']} (was {state})",
    )
    emit(args, {**out, "state": "current", "was": state, "built": True})
    return 0


_SHOWN = ("documents", "characters", "bytes", "seconds", "built_at")
