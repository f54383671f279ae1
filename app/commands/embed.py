"""``winnow embed``: embed every document of a workspace (cached by text hash and model, resumable)."""

from __future__ import annotations

import argparse

from app.commands import add_json, add_workspace, emit, say

NAME = "embed"
HELP = "embed documents with a sentence-transformers model (default: packaged all-MiniLM-L6-v2, offline)"
DESCRIPTION = (
    "Embed every document whose text is not yet embedded by the chosen model; vectors (normalised float32) "
    "are stored in the workspace, keyed by text hash and model, committed per chunk (an interrupted run "
    "resumes). The model becomes the one map/search use. --fast uses a static model distilled once from the "
    "transformer (~100x faster on CPU, coarser neighbours). --model hash:DIM is a model-free test embedder."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_workspace(p)
    add_json(p)
    p.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="sentence-transformers name or local folder (default: packaged all-MiniLM-L6-v2)",
    )
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="documents per forward pass (default: 64)")
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="default: cuda when present"
    )
    p.add_argument("--fast", action="store_true", help="static distilled model: >=10x faster, for quick maps")
    p.add_argument(
        "--fields", metavar="NAMES", help="embed these fields (e.g. instruction,output; default: winnow fields)"
    )
    p.add_argument("--max-length", type=int, metavar="N", help="truncate documents to N tokens (default: the model's)")
    p.add_argument(
        "--prepare-fast",
        action="store_true",
        help="only distil the --fast static model into the cache (make install runs it; ~2 min once per machine)",
    )


def run(args: argparse.Namespace) -> int:
    from app.embed import embed
    from app.errors import EmbedError
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    if args.batch_size < 1 or (args.max_length is not None and args.max_length < 1):
        raise EmbedError("--batch-size and --max-length must be positive")
    if args.prepare_fast:
        return _prepare_fast(args)
    with Workspace.open(args.workspace) as ws, tqdm_progress("embed") as progress:
        out = embed(
            ws,
            model=args.model,
            batch_size=args.batch_size,
            device=args.device,
            fast=args.fast,
            max_length=args.max_length,
            progress=progress,
            fields=args.fields,
        )
    rate = f" ({out['docs_per_s']:,.0f} docs/s)" if out["docs_per_s"] else ""
    say(
        args,
        f"{out['model']}: {out['embedded']:,} texts embedded in {out['seconds']:.1f} s{rate},"
        f" {out['cached']:,} already cached; {out['documents']:,} documents, dim {out['dim']}, fields {out['fields']}",
    )
    emit(args, out)
    return 0


def _prepare_fast(args: argparse.Namespace) -> int:
    """Distil (or find) the static model of ``--fast`` without touching a workspace."""
    from app.embed.static import prepare, static_folder
    from app.progress import tqdm_progress

    name, _, folder = static_folder(args.model)
    say(args, f"fast model for {name}: {folder}", flush=True)
    with tqdm_progress("distil", unit="token") as progress:
        out = prepare(args.model, progress=progress)
    size = f"{out['bytes'] / 1e6:.1f} MB"
    if out["distilled"]:
        say(args, f"distilled in {out['seconds']:.1f} s ({size}); winnow embed --fast now starts at once")
    else:
        say(args, f"already prepared ({size}); nothing to do")
    emit(args, out)
    return 0
