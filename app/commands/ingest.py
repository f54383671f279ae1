"""``winnow ingest``: read files, globs, shard directories or Hugging Face datasets into a workspace."""

from __future__ import annotations

import argparse
import sys

from app.commands import add_workspace, print_json_last

NAME = "ingest"
HELP = "ingest JSONL/JSON/Parquet/CSV/TSV/text files, globs, directories or hf:NAME into a workspace"
DESCRIPTION = (
    "Ingest documents into a workspace (created if missing). SRC is a file, a glob (quote it), a directory of "
    "shards, a datasets save_to_disk directory, or hf:NAME[:CONFIG][/SPLIT]. Each SRC becomes a source named "
    "after its path unless --source is given; re-ingesting a source replaces it. Bad rows are skipped and "
    "counted (or fail the run with --strict); the run is atomic. The last stdout line is a JSON summary."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("srcs", nargs="+", metavar="SRC", help="file, glob, directory, save_to_disk dir or hf:NAME")
    add_workspace(p)
    p.add_argument("--source", help="source name for all SRCs (default: derived from each SRC's path)")
    p.add_argument(
        "--source-field",
        metavar="F",
        help="take each document's source from field F (one source per value, e.g. realmix's or Dolma's 'source')",
    )
    p.add_argument("--text-field", metavar="F", help="field holding the text (default: auto-detected)")
    p.add_argument("--id-field", metavar="F", help="field holding unique ids (default: stable generated ids)")
    p.add_argument("--limit", type=int, metavar="N", help="stop after N documents")
    p.add_argument("--strict", action="store_true", help="fail on the first bad row instead of skipping it")
    p.add_argument(
        "--full-schema",
        action="store_true",
        help="type large JSON-lines files from every line, not a spread sample (slower; keeps fields that only "
        "appear outside the sample)",
    )


def _report(summary: dict) -> None:
    for s in summary["sources"]:
        skipped = sum(s["skipped"].values())
        print(
            f"source {s['source']}: read {s['read']:,}, ingested {s['ingested']:,}, skipped {skipped:,}"
            f" ({s['files']} file{'s' if s['files'] != 1 else ''}, {s['bytes'] / 1e6:.1f} MB)"
        )
        for reason, n in s["skipped"].items():
            first = ", ".join(s["skipped_first"].get(reason, []))
            print(f"  skipped {reason}: {n:,} (first: {first})")
    if summary["ignored_files"]:
        print(f"ignored {len(summary['ignored_files'])} unsupported file(s): {', '.join(summary['ignored_files'][:5])}")
    print(
        f"{summary['ingested']:,} documents in {summary['seconds']:.1f} s"
        f" ({summary['docs_per_s'] or 0:,.0f} docs/s, {summary['mb_per_s'] or 0:.1f} MB/s)"
    )


def run(args: argparse.Namespace) -> int:
    from app.ingest import ingest
    from app.progress import tqdm_progress
    from app.workspace import Workspace

    if args.limit is not None and args.limit < 1:
        print("winnow: error: --limit must be a positive number", file=sys.stderr)
        return 2
    with Workspace.open(args.workspace, create=True) as ws, tqdm_progress("ingest") as progress:
        summary = ingest(
            ws,
            args.srcs,
            source=args.source,
            source_field=args.source_field,
            text_field=args.text_field,
            id_field=args.id_field,
            limit=args.limit,
            strict=args.strict,
            full_schema=args.full_schema,
            progress=progress,
        )
    _report(summary)
    print_json_last(summary)
    return 0
